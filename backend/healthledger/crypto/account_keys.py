"""Every account's X25519 encryption key pair, derived from its wallet (keys v2, step 1).

Why: a record's data key must be encryptable to a reader who is not present (a patient for a record
their doctor writes, a doctor a patient shares with), so every account needs a *public* key the
server can encrypt to, and a private key only the account can reproduce. The account has no password
with us, only a wallet; as for the KEK (`kek.py`), its `personal_sign` of a fixed message is a
secret only that wallet can produce, and RFC 6979 makes it the same 65 bytes every time. HKDF turns
that signature into the X25519 private key, so the key pair is never stored and every device with
the wallet gets the same one.

Sealing is libsodium's sealed box (PyNaCl): an ephemeral X25519 key agreement plus XSalsa20-Poly1305,
so the sender needs only the reader's public key, and only the reader's private key opens it.

Consequences worth knowing:

* The signature *is* the private key's seed: never log it, store it, or put it in an error message.
  Errors here never contain signatures, keys or plaintext.
* `ACCOUNT_KEY_MESSAGE` and `ACCOUNT_KEY_INFO` are frozen: changing either changes every account's key
  pair. A later scheme (rotation) gets a new message ("v2") and a new label.
* The same signature has several encodings (v as 0/1 or 27/28; s or n-s). `derive_account_keypair`
  canonicalises it exactly as the KEK does (`kek.canonical_signature`), so all of them give one key.
* Derivation does not check who signed: call `is_account_key_signature_by` first, or a signature of
  anything else derives a key the account cannot reproduce.
"""

from __future__ import annotations

from eth_account.messages import encode_defunct
from nacl.exceptions import CryptoError as NaclCryptoError
from nacl.public import PrivateKey, PublicKey, SealedBox

from .ecdsa import recover_signer, signature_from_hex
from .errors import IntegrityError, InvalidKeyMaterial, MalformedData
from .kek import KEY_DERIVATION_MESSAGE, address_bytes, canonical_signature
from .primitives import hkdf_sha256

__all__ = [
    "ACCOUNT_KEY_INFO",
    "ACCOUNT_KEY_MESSAGE",
    "PUBLIC_KEY_SIZE",
    "SEAL_OVERHEAD",
    "account_key_signature_signer",
    "check_public_key",
    "derive_account_keypair",
    "is_account_key_signature_by",
    "open_sealed",
    "public_key_bytes",
    "seal_to",
]

ACCOUNT_KEY_MESSAGE = KEY_DERIVATION_MESSAGE
"""The exact text an account `personal_sign`s (EIP-191) to derive its key pair: the same frozen text
patients have always signed for their KEK (kek.py), so one signature (the app asks for it once per
session) opens everything a patient holds, the v1 records wrapped under the KEK and the v2 ones
sealed to the key pair. HKDF's labels keep the two keys apart (`KEK_INFO`, `ACCOUNT_KEY_INFO`)."""

ACCOUNT_KEY_INFO = b"healthledger/account-key/x25519/v1"
"""HKDF info label for the X25519 private key; versioned alongside ACCOUNT_KEY_MESSAGE."""

PUBLIC_KEY_SIZE = 32
SEAL_OVERHEAD = PublicKey.SIZE + 16
"""Bytes a sealed box adds: the ephemeral public key (32) and the Poly1305 tag (16)."""


def account_key_signature_signer(signature: bytes | str) -> str:
    """The checksummed address that `personal_sign`ed ACCOUNT_KEY_MESSAGE to produce `signature`.

    ECDSA recovery always yields *some* address, so callers must compare it with the account's.
    Raises InvalidKeyMaterial if the signature is malformed or recovery fails.
    """
    canonical = canonical_signature(signature_from_hex(signature))
    return recover_signer(encode_defunct(text=ACCOUNT_KEY_MESSAGE), canonical)


def is_account_key_signature_by(signature: bytes | str, account: str) -> bool:
    """Whether `signature` is `account`'s signature of ACCOUNT_KEY_MESSAGE (False if malformed).

    A malformed `account` raises InvalidKeyMaterial: that is the caller's bug, not bad input.
    """
    expected = address_bytes(account)
    try:
        signer = account_key_signature_signer(signature)
    except InvalidKeyMaterial:
        return False
    return address_bytes(signer) == expected


def derive_account_keypair(signature: bytes | str) -> tuple[PrivateKey, PublicKey]:
    """The account's X25519 key pair: private = HKDF-SHA256(canonical signature, info=ACCOUNT_KEY_INFO).

    No salt: the signature is already unique to the signer and the message (the label separates this
    key from every other use). The 32 HKDF bytes are the X25519 scalar itself (RFC 7748 clamps it),
    so any X25519 implementation, e.g. a browser's, can reproduce the pair from the same signature.
    """
    ikm = canonical_signature(signature_from_hex(signature))
    private = PrivateKey(hkdf_sha256(ikm, PrivateKey.SIZE, None, ACCOUNT_KEY_INFO))
    return private, private.public_key


def public_key_bytes(public_key: PublicKey | bytes | str) -> bytes:
    """The 32 raw bytes of an X25519 public key given as a PublicKey, bytes or `0x`-hex (64 digits)."""
    if isinstance(public_key, PublicKey):
        return bytes(public_key)
    if isinstance(public_key, str):
        text = public_key[2:] if public_key[:2] in ("0x", "0X") else public_key
        try:
            public_key = bytes.fromhex(text)
        except ValueError:
            raise InvalidKeyMaterial("a public key must be 0x + 64 hex digits") from None
    if not isinstance(public_key, (bytes, bytearray)) or len(public_key) != PUBLIC_KEY_SIZE:
        raise InvalidKeyMaterial(f"a public key must be exactly {PUBLIC_KEY_SIZE} bytes")
    return bytes(public_key)


def seal_to(public_key: PublicKey | bytes | str, data: bytes) -> bytes:
    """`data` sealed to `public_key` (a libsodium sealed box): only its private key can open it.

    Anonymous by design: the box does not say who sealed it, and the sender cannot open it again.
    A public key of small order (which would make the shared secret predictable) is refused by
    libsodium and raised here as InvalidKeyMaterial.
    """
    box = SealedBox(PublicKey(public_key_bytes(public_key)))
    try:
        return bytes(box.encrypt(bytes(data)))
    except NaclCryptoError:
        raise InvalidKeyMaterial("this public key cannot be encrypted to (a low-order X25519 point)") from None


def open_sealed(private_key: PrivateKey | bytes, sealed: bytes) -> bytes:
    """The data sealed to `private_key`'s public key; IntegrityError if it was not, or was altered.

    A wrong key and altered bytes fail alike (Poly1305 cannot tell them apart), and nothing of either
    is in the message. Bytes too short to be a sealed box are MalformedData (an IntegrityError too).
    """
    if isinstance(private_key, (bytes, bytearray)):
        if len(private_key) != PrivateKey.SIZE:
            raise InvalidKeyMaterial(f"a private key must be exactly {PrivateKey.SIZE} bytes")
        private_key = PrivateKey(bytes(private_key))
    if not isinstance(private_key, PrivateKey):
        raise InvalidKeyMaterial("private_key must be an X25519 private key")
    if not isinstance(sealed, (bytes, bytearray)) or len(sealed) < SEAL_OVERHEAD:
        raise MalformedData("sealed data is too short to be a sealed box")
    try:
        return bytes(SealedBox(private_key).decrypt(bytes(sealed)))
    except NaclCryptoError:
        raise IntegrityError("sealed data could not be opened: wrong key, or the data was altered") from None


def check_public_key(public_key: PublicKey | bytes | str) -> bytes:
    """The raw public key if something can be sealed to it; InvalidKeyMaterial otherwise.

    Checked at registration, so a key nobody can encrypt to is refused before it is ever relied on.
    """
    raw = public_key_bytes(public_key)
    seal_to(raw, b"")
    return raw
