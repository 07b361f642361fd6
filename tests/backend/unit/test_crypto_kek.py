"""The patient's KEK: the signed message, signature checks, and HKDF derivation."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from healthledger.crypto import (
    KEY_DERIVATION_MESSAGE,
    InvalidKeyMaterial,
    address_bytes,
    canonical_signature,
    derive_kek,
    is_key_signature_by,
    key_signature_signer,
)
from healthledger.crypto.ecdsa import SECP256K1_N

# Anvil / Hardhat dev account #0 (public test key, never holds real funds).
ANVIL_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
ANVIL_ADDRESS = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
ANVIL_SIGNATURE = bytes.fromhex(
    "749dcac0f25af01c0fdef0336054fb78ca96622eb6473b27e6ec4d1cee406d85"
    "5d9546a0b819dea1af33da93b1637ee521fe20e7ffc2fae0e0dffe706e383ea5"
    "1b"
)
OTHER_ADDRESS = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"


def sign(text: str, key: str = ANVIL_KEY) -> bytes:
    return bytes(Account.from_key(key).sign_message(encode_defunct(text=text)).signature)


def rfc5869_hkdf_sha256(ikm: bytes, salt: bytes, info: bytes, length: int) -> bytes:
    """Independent HKDF (stdlib hmac) to cross-check the production path."""
    prk = hmac.new(salt, ikm, hashlib.sha256).digest()
    okm, block = b"", b""
    for i in range(1, -(-length // 32) + 1):
        block = hmac.new(prk, block + info + bytes([i]), hashlib.sha256).digest()
        okm += block
    return okm[:length]


# --------------------------------------------------------------------------- the message


def test_message_is_frozen() -> None:
    # Changing this text changes every patient's KEK and locks them out of existing records.
    # A new scheme needs a new message ("v2") and a new HKDF label, not an edit.
    assert hashlib.sha256(KEY_DERIVATION_MESSAGE.encode()).hexdigest() == (
        "987e69eda942a1bb324d7f5175fda87c80ca7bb090309580fbc6b7a224e09673"
    )


def test_message_says_what_it_is() -> None:
    assert KEY_DERIVATION_MESSAGE.startswith("HealthLedger key derivation v1\n")
    lower = KEY_DERIVATION_MESSAGE.lower()
    for phrase in ("purpose", "encryption key", "free", "no gas", "grants no permission", "never share"):
        assert phrase in lower


# --------------------------------------------------------------------------- derivation


def test_signing_is_deterministic_and_matches_pinned_signature() -> None:
    assert sign(KEY_DERIVATION_MESSAGE) == sign(KEY_DERIVATION_MESSAGE) == ANVIL_SIGNATURE


def test_derive_kek_known_answer() -> None:
    kek = derive_kek(ANVIL_SIGNATURE, ANVIL_ADDRESS)
    expected = rfc5869_hkdf_sha256(
        ANVIL_SIGNATURE, bytes.fromhex(ANVIL_ADDRESS[2:]), b"healthledger/kek/v1", 32
    )
    assert kek == expected
    # Regression pin: if this changes, existing records become undecryptable.
    assert kek.hex() == "afb367c933cf593c59b0ce3a85d21bb5aef8266e74f9a81e2ddb40047e5de7c0"


def test_derive_kek_is_deterministic_and_case_insensitive() -> None:
    keks = {
        derive_kek(ANVIL_SIGNATURE, addr)
        for addr in (ANVIL_ADDRESS, ANVIL_ADDRESS.lower(), "0x" + ANVIL_ADDRESS[2:].upper())
    }
    assert len(keks) == 1 and len(keks.pop()) == 32


def test_derive_kek_depends_on_address_salt_and_signature() -> None:
    base = derive_kek(ANVIL_SIGNATURE, ANVIL_ADDRESS)
    assert derive_kek(ANVIL_SIGNATURE, OTHER_ADDRESS) != base
    other_sig = sign("something else")
    assert derive_kek(other_sig, ANVIL_ADDRESS) != base


def test_equivalent_signature_encodings_give_the_same_kek() -> None:
    r, s, v = ANVIL_SIGNATURE[:32], int.from_bytes(ANVIL_SIGNATURE[32:64], "big"), ANVIL_SIGNATURE[64]
    v01 = ANVIL_SIGNATURE[:64] + bytes([v - 27])
    high_s = r + (SECP256K1_N - s).to_bytes(32, "big") + bytes([55 - v])
    base = derive_kek(ANVIL_SIGNATURE, ANVIL_ADDRESS)
    for variant in (v01, high_s, bytearray(ANVIL_SIGNATURE)):
        assert canonical_signature(variant) == ANVIL_SIGNATURE
        assert derive_kek(variant, ANVIL_ADDRESS) == base
        assert key_signature_signer(variant) == ANVIL_ADDRESS


@pytest.mark.parametrize(
    "signature",
    [
        b"",
        ANVIL_SIGNATURE[:64],
        ANVIL_SIGNATURE + b"\x00",
        ANVIL_SIGNATURE[:64] + b"\x1d",  # v = 29
        ANVIL_SIGNATURE[:64] + b"\x25",  # EIP-155-style v is not a personal_sign signature
        bytes(32) + ANVIL_SIGNATURE[32:],  # r = 0
        ANVIL_SIGNATURE[:32] + SECP256K1_N.to_bytes(32, "big") + b"\x1b",  # s = n
        ANVIL_SIGNATURE.hex(),  # hex text instead of bytes
    ],
)
def test_invalid_signatures(signature: bytes) -> None:
    with pytest.raises(InvalidKeyMaterial) as exc:
        derive_kek(signature, ANVIL_ADDRESS)
    assert ANVIL_SIGNATURE.hex()[:16] not in str(exc.value)
    assert is_key_signature_by(signature, ANVIL_ADDRESS) is False


@pytest.mark.parametrize(
    "address",
    [
        ANVIL_ADDRESS[2:],
        ANVIL_ADDRESS[:-1],
        ANVIL_ADDRESS + "0",
        "0x" + "g" * 40,
        " " + ANVIL_ADDRESS,
        "0X" + ANVIL_ADDRESS[2:],
        bytes.fromhex(ANVIL_ADDRESS[2:]),
        "",
    ],
)
def test_invalid_addresses(address: str) -> None:
    with pytest.raises(InvalidKeyMaterial):
        derive_kek(ANVIL_SIGNATURE, address)


def test_address_bytes() -> None:
    assert address_bytes(ANVIL_ADDRESS) == bytes.fromhex("f39fd6e51aad88f6f4ce6ab8827279cfffb92266")


# --------------------------------------------------------------------------- who signed


def test_signer_recovery() -> None:
    assert key_signature_signer(ANVIL_SIGNATURE) == ANVIL_ADDRESS
    assert is_key_signature_by(ANVIL_SIGNATURE, ANVIL_ADDRESS)
    assert is_key_signature_by(ANVIL_SIGNATURE, ANVIL_ADDRESS.lower())
    assert not is_key_signature_by(ANVIL_SIGNATURE, OTHER_ADDRESS)


def test_signature_over_another_message_is_not_a_key_signature() -> None:
    for text in ("Sign in to HealthLedger", KEY_DERIVATION_MESSAGE + " ", KEY_DERIVATION_MESSAGE.replace("v1", "v2")):
        assert not is_key_signature_by(sign(text), ANVIL_ADDRESS)


def test_other_wallets_signature_is_rejected_for_patient() -> None:
    other_key = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"  # Anvil account #1
    sig = sign(KEY_DERIVATION_MESSAGE, other_key)
    assert key_signature_signer(sig) == OTHER_ADDRESS
    assert not is_key_signature_by(sig, ANVIL_ADDRESS)
    assert is_key_signature_by(sig, OTHER_ADDRESS)
