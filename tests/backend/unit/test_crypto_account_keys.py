"""Accounts' X25519 key pairs (keys v2, step 1): derivation, sealing, and the EIP-712 key binding."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from healthledger.crypto import (
    ACCOUNT_KEY_MESSAGE,
    KEY_DERIVATION_MESSAGE,
    IntegrityError,
    InvalidKeyMaterial,
    MalformedData,
    account_key_signature_signer,
    binding_signer,
    binding_typed_data,
    check_public_key,
    derive_account_keypair,
    derive_kek,
    is_account_key_signature_by,
    is_binding_by,
    open_sealed,
    seal_to,
)
from healthledger.crypto.account_keys import ACCOUNT_KEY_INFO
from healthledger.crypto.ecdsa import SECP256K1_N
from nacl.bindings import crypto_scalarmult_base

# Anvil / Hardhat dev accounts #0 and #1 (public test keys, never hold real funds).
ANVIL_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
ANVIL_ADDRESS = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
OTHER_KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"
OTHER_ADDRESS = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
# Known answers for dev account #0's signature of ACCOUNT_KEY_MESSAGE: they pin the message, the HKDF
# label and the use of the HKDF output as the X25519 scalar (a change to any one locks accounts out).
ANVIL_ACCOUNT_KEY_SIGNATURE = bytes.fromhex(
    "749dcac0f25af01c0fdef0336054fb78ca96622eb6473b27e6ec4d1cee406d85"
    "5d9546a0b819dea1af33da93b1637ee521fe20e7ffc2fae0e0dffe706e383ea51b"
)
ANVIL_PUBLIC_KEY = bytes.fromhex("948b1b2ffdd69209fbece91428c1367a5edca5a9ad605d280f19eb2b26d0a30d")
CHAIN_ID = 31337


def sign(text: str, key: str = ANVIL_KEY) -> bytes:
    return bytes(Account.from_key(key).sign_message(encode_defunct(text=text)).signature)


def sign_binding(account: str, public_key: bytes, key: str = ANVIL_KEY, chain_id: int = CHAIN_ID) -> bytes:
    payload = binding_typed_data(account, public_key, chain_id)
    return bytes(Account.sign_typed_data(key, full_message=payload).signature)


def independent_hkdf(ikm: bytes, info: bytes, length: int = 32) -> bytes:
    """RFC 5869 with the stdlib (empty salt = 32 zero bytes), to cross-check the production path."""
    prk = hmac.new(b"\x00" * 32, ikm, hashlib.sha256).digest()
    return hmac.new(prk, info + b"\x01", hashlib.sha256).digest()[:length]


def other_encodings(signature: bytes) -> list[bytes]:
    """The same signature as v 0/1 and as high s (with v flipped): all recover to the same signer."""
    r, s, v = signature[:32], int.from_bytes(signature[32:64], "big"), signature[64]
    high_s = r + (SECP256K1_N - s).to_bytes(32, "big") + bytes([55 - v])
    return [signature[:64] + bytes([v - 27]), high_s, high_s[:64] + bytes([high_s[64] - 27])]


# ----------------------------------------------------------------------------- the message


def test_the_message_is_the_patients_v1_key_message_versioned_and_says_it_is_free() -> None:
    # One signature per account: the v1 records' KEK and the v2 key pair come from the same text.
    assert ACCOUNT_KEY_MESSAGE == KEY_DERIVATION_MESSAGE
    assert ACCOUNT_KEY_MESSAGE.startswith("HealthLedger key derivation v1\n")
    for words in ("not a transaction", "costs no gas", "never share the signature"):
        assert words in ACCOUNT_KEY_MESSAGE


def test_the_signed_message_is_the_known_one() -> None:
    assert sign(ACCOUNT_KEY_MESSAGE) == ANVIL_ACCOUNT_KEY_SIGNATURE
    assert account_key_signature_signer(ANVIL_ACCOUNT_KEY_SIGNATURE) == ANVIL_ADDRESS
    assert account_key_signature_signer("0x" + ANVIL_ACCOUNT_KEY_SIGNATURE.hex()) == ANVIL_ADDRESS


def test_only_the_account_s_signature_of_this_message_counts() -> None:
    assert is_account_key_signature_by(ANVIL_ACCOUNT_KEY_SIGNATURE, ANVIL_ADDRESS.lower())
    assert not is_account_key_signature_by(ANVIL_ACCOUNT_KEY_SIGNATURE, OTHER_ADDRESS)
    # A signature of any other text is not a key-pair signature, nor is another account's.
    assert not is_account_key_signature_by(sign(ACCOUNT_KEY_MESSAGE + " "), ANVIL_ADDRESS)
    assert not is_account_key_signature_by(sign(ACCOUNT_KEY_MESSAGE, OTHER_KEY), ANVIL_ADDRESS)
    assert not is_account_key_signature_by(b"\x01" * 64 + b"\x1b", ANVIL_ADDRESS)
    assert not is_account_key_signature_by("0xnothex", ANVIL_ADDRESS)


# ----------------------------------------------------------------------------- derivation


def test_known_answer_and_the_same_signature_gives_the_same_key() -> None:
    private, public = derive_account_keypair(ANVIL_ACCOUNT_KEY_SIGNATURE)
    assert bytes(public) == ANVIL_PUBLIC_KEY
    again_private, again_public = derive_account_keypair(sign(ACCOUNT_KEY_MESSAGE))
    assert bytes(again_private) == bytes(private) and bytes(again_public) == ANVIL_PUBLIC_KEY


def test_derivation_is_hkdf_of_the_signature_used_as_the_x25519_scalar() -> None:
    private, public = derive_account_keypair(ANVIL_ACCOUNT_KEY_SIGNATURE)
    scalar = independent_hkdf(ANVIL_ACCOUNT_KEY_SIGNATURE, ACCOUNT_KEY_INFO)
    assert bytes(private) == scalar
    assert crypto_scalarmult_base(scalar) == bytes(public)


@pytest.mark.parametrize("index", range(3))
def test_every_encoding_of_one_signature_gives_the_same_key(index: int) -> None:
    encoding = other_encodings(ANVIL_ACCOUNT_KEY_SIGNATURE)[index]
    assert encoding != ANVIL_ACCOUNT_KEY_SIGNATURE
    assert account_key_signature_signer(encoding) == ANVIL_ADDRESS
    assert bytes(derive_account_keypair(encoding)[1]) == ANVIL_PUBLIC_KEY
    assert bytes(derive_account_keypair("0x" + encoding.hex())[1]) == ANVIL_PUBLIC_KEY


def test_different_signatures_give_different_keys_and_not_the_kek() -> None:
    mine = derive_account_keypair(ANVIL_ACCOUNT_KEY_SIGNATURE)
    theirs = derive_account_keypair(sign(ACCOUNT_KEY_MESSAGE, OTHER_KEY))
    assert bytes(mine[1]) != bytes(theirs[1])
    # Same signature, different label: the KEK and the X25519 key are unrelated.
    assert bytes(mine[0]) != derive_kek(ANVIL_ACCOUNT_KEY_SIGNATURE, ANVIL_ADDRESS)


@pytest.mark.parametrize("bad", [b"", b"\x00" * 65, b"\x01" * 64 + b"\x05", "0xzz", 12345])
def test_malformed_signatures_are_refused_without_echoing_them(bad: object) -> None:
    with pytest.raises(InvalidKeyMaterial) as raised:
        derive_account_keypair(bad)  # type: ignore[arg-type]
    assert "0101" not in str(raised.value) and "zz" not in str(raised.value)


# ----------------------------------------------------------------------------- sealing


def test_seal_and_open_round_trip() -> None:
    private, public = derive_account_keypair(ANVIL_ACCOUNT_KEY_SIGNATURE)
    data = bytes(range(32))
    sealed = seal_to(public, data)
    assert len(sealed) == len(data) + 48 and data not in sealed
    assert open_sealed(private, sealed) == data
    # By raw bytes and 0x-hex too, and a fresh ephemeral key every time.
    assert open_sealed(bytes(private), seal_to("0x" + ANVIL_PUBLIC_KEY.hex(), data)) == data
    assert seal_to(ANVIL_PUBLIC_KEY, data) != sealed


def test_the_wrong_key_or_altered_bytes_fail_cleanly() -> None:
    sealed = seal_to(ANVIL_PUBLIC_KEY, b"a data key, 32 bytes long.......")
    other_private, _ = derive_account_keypair(sign(ACCOUNT_KEY_MESSAGE, OTHER_KEY))
    with pytest.raises(IntegrityError) as raised:
        open_sealed(other_private, sealed)
    assert "data key" not in str(raised.value)
    private, _ = derive_account_keypair(ANVIL_ACCOUNT_KEY_SIGNATURE)
    altered = sealed[:-1] + bytes([sealed[-1] ^ 1])
    with pytest.raises(IntegrityError):
        open_sealed(private, altered)
    with pytest.raises(MalformedData):
        open_sealed(private, sealed[:47])


@pytest.mark.parametrize("bad", [b"\x00" * 31, "0x" + "ab" * 31, "not hex", b"\x00" * 32, b"\x01" + b"\x00" * 31])
def test_unusable_public_keys_are_refused(bad: object) -> None:
    # Wrong length, not hex, or a low-order point (0 and 1) that would make the shared secret known.
    with pytest.raises(InvalidKeyMaterial):
        check_public_key(bad)  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- binding


def test_binding_payload_is_the_documented_eip712() -> None:
    payload = binding_typed_data(ANVIL_ADDRESS.lower(), ANVIL_PUBLIC_KEY, CHAIN_ID)
    assert payload["primaryType"] == "EncryptionKey"
    assert payload["domain"] == {"name": "HealthLedger", "version": "1", "chainId": CHAIN_ID}
    assert payload["types"]["EncryptionKey"] == [
        {"name": "account", "type": "address"},
        {"name": "publicKey", "type": "bytes32"},
    ]
    assert payload["message"] == {"account": ANVIL_ADDRESS, "publicKey": "0x" + ANVIL_PUBLIC_KEY.hex()}


def test_the_account_s_binding_verifies_and_nothing_else_does() -> None:
    signature = sign_binding(ANVIL_ADDRESS, ANVIL_PUBLIC_KEY)
    assert binding_signer(ANVIL_ADDRESS, ANVIL_PUBLIC_KEY, CHAIN_ID, signature) == ANVIL_ADDRESS
    assert is_binding_by(ANVIL_ADDRESS.lower(), "0x" + ANVIL_PUBLIC_KEY.hex(), CHAIN_ID, "0x" + signature.hex())
    for encoding in other_encodings(signature):
        assert is_binding_by(ANVIL_ADDRESS, ANVIL_PUBLIC_KEY, CHAIN_ID, encoding)
    swapped = bytes(derive_account_keypair(sign(ACCOUNT_KEY_MESSAGE, OTHER_KEY))[1])
    assert not is_binding_by(ANVIL_ADDRESS, swapped, CHAIN_ID, signature)  # a swapped key
    assert not is_binding_by(OTHER_ADDRESS, ANVIL_PUBLIC_KEY, CHAIN_ID, signature)  # another account
    assert not is_binding_by(ANVIL_ADDRESS, ANVIL_PUBLIC_KEY, 1, signature)  # another chain
    # Someone else's signature over the same statement, and junk.
    assert not is_binding_by(ANVIL_ADDRESS, ANVIL_PUBLIC_KEY, CHAIN_ID, sign_binding(ANVIL_ADDRESS, ANVIL_PUBLIC_KEY, OTHER_KEY))
    assert not is_binding_by(ANVIL_ADDRESS, ANVIL_PUBLIC_KEY, CHAIN_ID, b"\x00" * 65)
    assert not is_binding_by(ANVIL_ADDRESS, b"\x00" * 3, CHAIN_ID, signature)
