"""A record's data key sealed to one reader's public key (keys v2): the only form a data key is stored in.

Every reader of a record (the patient, the doctor who wrote it, each doctor with a live grant) gets
their own copy, a libsodium sealed box (account_keys.seal_to) to the X25519 public key their wallet
derives. The server can make a copy for anyone whose public key it knows, and open one only with
the reader's private key, which exists only while a request carries their key signature.

A sealed box has no associated data, so the sealed plaintext carries it: the data key followed by
SHA-256 of the associated data (record, reader). A copy moved onto another record or another reader
in the database then fails to open with IntegrityError, instead of yielding a key that fails later.

Text form (what MongoDB stores): ``"hlsk1." + base64url(sealed box)``, no padding. A sealed box is
the 32-byte ephemeral public key, the 64 encrypted bytes and the 16-byte Poly1305 tag: 112 bytes,
150 base64 characters, 156 characters in all.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

from nacl.public import PrivateKey, PublicKey

from .account_keys import open_sealed, seal_to
from .errors import IntegrityError, InvalidKeyMaterial, MalformedData, UnsupportedVersion
from .primitives import AES256_KEY_SIZE

FORMAT_ID = "hlsk1"
_TEXT_RE = re.compile(r"^hlsk(\d+)\.([A-Za-z0-9_-]+)$")
_AAD_DIGEST_SIZE = 32


def reader_aad(patient: str, content_hash: str, reader: str) -> bytes:
    """Associated data of a reader's copy: the record (patient, commitment) and the reader."""
    return f"healthledger/sealed-key/v1|{patient.lower()}|{content_hash.lower()}|{reader.lower()}".encode()


def _aad_digest(aad: bytes) -> bytes:
    return hashlib.sha256(FORMAT_ID.encode() + b"\x00" + bytes(aad)).digest()


def seal_data_key(data_key: bytes, public_key: PublicKey | bytes | str, aad: bytes) -> str:
    """`data_key` sealed to `public_key`, bound to `aad`; the text form for MongoDB."""
    if not isinstance(data_key, (bytes, bytearray)) or len(data_key) != AES256_KEY_SIZE:
        raise InvalidKeyMaterial("data key must be exactly 32 bytes")
    sealed = seal_to(public_key, bytes(data_key) + _aad_digest(aad))
    return f"{FORMAT_ID}." + base64.urlsafe_b64encode(sealed).decode("ascii").rstrip("=")


def open_data_key(text: str, private_key: PrivateKey | bytes, aad: bytes) -> bytes:
    """The data key from `seal_data_key`'s output.

    IntegrityError (or its subclasses MalformedData, UnsupportedVersion) when the copy is not
    this reader's, belongs to another record, or was altered. Nothing secret is in the message.
    """
    match = _TEXT_RE.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise MalformedData("not a HealthLedger sealed data key")
    if f"hlsk{match.group(1)}" != FORMAT_ID:
        raise UnsupportedVersion(f"unsupported sealed-key format version {match.group(1)}")
    body = match.group(2)
    try:
        sealed = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except ValueError:
        raise MalformedData("sealed data key is not base64url") from None
    plain = open_sealed(private_key, sealed)
    if len(plain) != AES256_KEY_SIZE + _AAD_DIGEST_SIZE:
        raise MalformedData("sealed data key has the wrong length")
    data_key, digest = plain[:AES256_KEY_SIZE], plain[AES256_KEY_SIZE:]
    if not hmac.compare_digest(digest, _aad_digest(aad)):
        raise IntegrityError("this sealed data key belongs to another record or reader")
    return data_key
