"""The one place that knows how a secp256k1 signature (r‖s‖v, 65 bytes) is encoded.

Why one module: the same signature has several valid encodings (v as 0/1 or 27/28; s or n-s), and
two callers need a canonical one for different reasons, with opposite answers for a high s:

* key derivation (`kek.py`) hashes the signature into the patient's KEK, so every encoding of the
  patient's one signature must give the same bytes: a high s is *flipped* to n-s (and v's parity
  with it), which is the same signature in its low-s form;
* EIP-712 actions (`chain/typed_data.py`) are relayed to the contract, whose OpenZeppelin ECDSA
  accepts only low s: a high s is *rejected*, because the wallet did not produce the flipped
  signature and the client should learn that its signer is non-standard.

It also holds the one call that recovers a signer (`recover_signer`), for the same reason: every
caller (the KEK's and the account key's `personal_sign`, the key binding's EIP-712) must hide the
library's error text, which can echo the signature.

Errors are `InvalidKeyMaterial` (a ValueError); their messages never contain the signature.
"""

from __future__ import annotations

from typing import Literal

from eth_account import Account
from eth_account.messages import SignableMessage

from .errors import InvalidKeyMaterial

__all__ = [
    "SECP256K1_N",
    "SIGNATURE_LENGTH",
    "HighS",
    "normalize_signature",
    "recover_signer",
    "signature_from_hex",
]

SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
"""The order of the secp256k1 group: r and s lie in [1, n-1]; "low s" means s <= n // 2."""

SIGNATURE_LENGTH = 65

HighS = Literal["flip", "reject"]


def signature_from_hex(signature: str | bytes | bytearray) -> bytes:
    """The raw bytes of a signature given as bytes or (0x-)hex text; length is checked by the normaliser."""
    if isinstance(signature, str):
        text = signature[2:] if signature[:2] in ("0x", "0X") else signature
        try:
            return bytes.fromhex(text)
        except ValueError:
            raise InvalidKeyMaterial("a signature must be 0x-hex") from None
    if not isinstance(signature, (bytes, bytearray)):
        raise InvalidKeyMaterial(f"a signature must be bytes or 0x-hex, got {type(signature).__name__}")
    return bytes(signature)


def normalize_signature(signature: bytes | bytearray, *, high_s: HighS) -> bytes:
    """The canonical r‖s‖v: v in {27, 28} (0/1 accepted), r and s in range, low s.

    `high_s="flip"` turns a high s into n-s (and flips v), `"reject"` raises for it (see the module
    docstring for who needs which). Raises InvalidKeyMaterial for anything malformed.
    """
    if not isinstance(signature, (bytes, bytearray)):
        raise InvalidKeyMaterial("signature must be bytes")
    if len(signature) != SIGNATURE_LENGTH:
        raise InvalidKeyMaterial(f"signature must be exactly {SIGNATURE_LENGTH} bytes (r || s || v), got {len(signature)}")
    r = int.from_bytes(signature[0:32], "big")
    s = int.from_bytes(signature[32:64], "big")
    v = signature[64]
    if v in (0, 1):
        v += 27
    if v not in (27, 28):
        raise InvalidKeyMaterial(f"signature v must be 0, 1, 27 or 28, got {signature[64]}")
    if not (0 < r < SECP256K1_N and 0 < s < SECP256K1_N):
        raise InvalidKeyMaterial("signature r or s is out of range")
    if s > SECP256K1_N // 2:
        if high_s == "reject":
            raise InvalidKeyMaterial("signature s is in the upper half of the curve order (not accepted on chain)")
        s = SECP256K1_N - s
        v = 55 - v  # flip parity: 27 <-> 28
    return r.to_bytes(32, "big") + s.to_bytes(32, "big") + bytes([v])


def recover_signer(signable: SignableMessage, signature: bytes, what: str = "signature") -> str:
    """The checksummed address whose key produced `signature` over `signable`.

    ECDSA recovery always yields *some* address, so callers compare it with the one they expect.
    Raises InvalidKeyMaterial (naming `what`) if recovery fails; eth_keys raises assorted types
    whose text could echo the signature bytes, hence `from None`.
    """
    try:
        return str(Account.recover_message(signable, signature=signature))
    except Exception:  # noqa: BLE001 - eth_keys raises assorted types
        raise InvalidKeyMaterial(f"{what} could not be recovered") from None
