"""The patient's key-encryption key (KEK), derived from a wallet signature.

Why a signature: the patient has no password with us, only a wallet. `personal_sign` over a fixed
message is something only their wallet can produce, and (with RFC 6979 deterministic ECDSA, which
MetaMask, hardware wallets and eth_account all use) it produces the *same* 65 bytes every time. So
the signature is a reproducible secret we never need to store: the server derives the KEK from it
on each request, wraps or unwraps a record's data key, and forgets both.

Consequences worth knowing:

* The signature *is* the secret. Anyone holding it (and the stored wrapped keys and ciphertexts)
  can derive the KEK. Never log it, store it, or put it in an exception message.
* `KEY_DERIVATION_MESSAGE` must never change: a different message gives a different signature and
  therefore a different KEK, which would lock every patient out of existing records. A new scheme
  gets a new message ("v2") and a new HKDF info label, and old records keep using v1.
* The same signature has several valid encodings (v as 0/1 or 27/28; s or n-s). All of them recover
  to the same signer, so a signer check alone would accept any of them, but they would hash to
  different KEKs. `derive_kek` therefore canonicalises (low-s, v in {27, 28}) before hashing, so every
  encoding of the patient's signature yields the same key.
"""

from __future__ import annotations

import re

from eth_account.messages import encode_defunct

from .ecdsa import normalize_signature, recover_signer
from .errors import InvalidKeyMaterial
from .primitives import AES256_KEY_SIZE, hkdf_sha256

KEY_DERIVATION_MESSAGE = (
    "HealthLedger key derivation v1\n"
    "\n"
    "Purpose: signing this message derives the encryption key that protects your medical records "
    "in HealthLedger. HealthLedger asks for it when it encrypts a record you upload or decrypts one "
    "you open.\n"
    "\n"
    "Signing is free: this is not a transaction, it costs no gas, and it grants no permission to "
    "move funds or to act on your behalf.\n"
    "\n"
    "This signature is the secret behind your records' key: sign this message only on HealthLedger "
    "and never share the signature."
)
"""The exact text patients `personal_sign` (EIP-191) to derive their KEK. Frozen forever; see module doc."""

KEK_INFO = b"healthledger/kek/v1"
"""HKDF info label for the KEK; versioned alongside KEY_DERIVATION_MESSAGE."""

_ADDRESS_RE = re.compile(r"^0x[0-9a-fA-F]{40}$")


def address_bytes(address: str) -> bytes:
    """The 20 bytes of a `0x`-hex Ethereum address, case-insensitively (checksum casing is ignored).

    Case is ignored on purpose: the salt must be identical whether the address arrived lowercased
    from MongoDB or checksummed from a wallet.
    """
    if not isinstance(address, str) or not _ADDRESS_RE.fullmatch(address):
        raise InvalidKeyMaterial("patient address must be a 0x-prefixed 20-byte hex string")
    return bytes.fromhex(address[2:])


def canonical_signature(signature: bytes) -> bytes:
    """The canonical 65-byte r||s||v encoding of a secp256k1 signature: low s, v in {27, 28}.

    A high s is flipped, not refused: every encoding of the patient's one signature must derive the
    same KEK (see `ecdsa.py`). Raises InvalidKeyMaterial for a malformed signature.
    """
    return normalize_signature(signature, high_s="flip")


def derive_kek(signature: bytes, patient_address: str) -> bytes:
    """The patient's 32-byte KEK: HKDF-SHA256(ikm=canonical signature, salt=address, info=KEK_INFO).

    The address salt binds the key to the patient, so even a (hypothetical) identical signature
    from two accounts could not yield the same KEK. This function does *not* check who signed; call
    `is_key_signature_by` first, or a wrong signature silently yields a useless key.
    """
    salt = address_bytes(patient_address)
    ikm = canonical_signature(signature)
    return hkdf_sha256(ikm, AES256_KEY_SIZE, salt, KEK_INFO)


def key_signature_signer(signature: bytes) -> str:
    """The checksummed address that `personal_sign`ed KEY_DERIVATION_MESSAGE to produce `signature`.

    ECDSA recovery always yields *some* address, so callers must compare it with the patient's.
    Raises InvalidKeyMaterial if the signature is malformed or recovery fails.
    """
    return recover_signer(encode_defunct(text=KEY_DERIVATION_MESSAGE), canonical_signature(signature))


def is_key_signature_by(signature: bytes, patient_address: str) -> bool:
    """Whether `signature` is `patient_address`'s signature of KEY_DERIVATION_MESSAGE.

    Checked before deriving a KEK: a signature of anything else would derive a key the patient
    cannot reproduce, locking them out of the record they are about to upload. A malformed
    signature gives False; a malformed `patient_address` raises InvalidKeyMaterial (a caller bug).
    """
    expected = address_bytes(patient_address)
    try:
        signer = key_signature_signer(signature)
    except InvalidKeyMaterial:
        return False
    return address_bytes(signer) == expected
