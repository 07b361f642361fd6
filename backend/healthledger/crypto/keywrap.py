"""Wrapping 32 bytes under a 32-byte key: a v1 record's data key under its KEK, a salt under its data key.

AES-256-GCM with a random 96-bit nonce. The caller's associated data (e.g. patient address and
content hash) is authenticated but not stored, so a wrapped key copied onto another record, or a
record whose patient/hash was edited in the database, fails to unwrap instead of silently yielding a
key. Random nonces are safe here: a wrapping key wraps at most a few thousand data keys, far below
the ~2^32 messages at which 96-bit random nonces start to risk collisions.

Text form (what MongoDB stores): ``"hlkw1." + base64url(nonce(12) || ciphertext(32) || tag(16))``,
no padding: 86 ASCII characters. The ``hlkw1`` format id is also bound into the GCM associated data,
so the version cannot be swapped without detection.
"""

from __future__ import annotations

import base64
import re

from Crypto.Cipher import AES

from .errors import IntegrityError, InvalidKeyMaterial, MalformedData, UnsupportedVersion
from .primitives import AES256_KEY_SIZE, random_bytes

FORMAT_ID = "hlkw1"
NONCE_SIZE = 12
TAG_SIZE = 16
WRAPPED_KEY_SIZE = 32
_RAW_SIZE = NONCE_SIZE + WRAPPED_KEY_SIZE + TAG_SIZE  # 60
_B64_LEN = 80  # 60 bytes -> 80 base64 characters, no padding needed
WRAPPED_TEXT_LENGTH = len(FORMAT_ID) + 1 + _B64_LEN  # 86

_TEXT_RE = re.compile(r"^hlkw(\d+)\.([A-Za-z0-9_-]*)$")


def _check_key(key: bytes, what: str) -> None:
    if not isinstance(key, (bytes, bytearray)) or len(key) != AES256_KEY_SIZE:
        raise InvalidKeyMaterial(f"{what} must be exactly 32 bytes")


def _gcm_aad(aad: bytes) -> bytes:
    if not isinstance(aad, (bytes, bytearray)):
        raise TypeError("associated data must be bytes")
    return FORMAT_ID.encode() + b"\x00" + bytes(aad)


def wrap_key(data_key: bytes, wrapping_key: bytes, aad: bytes) -> str:
    """Encrypt and authenticate `data_key` under `wrapping_key`, bound to `aad`; returns the text form."""
    _check_key(data_key, "data key")
    _check_key(wrapping_key, "wrapping key")
    nonce = random_bytes(NONCE_SIZE)
    cipher = AES.new(bytes(wrapping_key), AES.MODE_GCM, nonce=nonce, mac_len=TAG_SIZE)
    cipher.update(_gcm_aad(aad))
    ciphertext, tag = cipher.encrypt_and_digest(bytes(data_key))
    raw = nonce + ciphertext + tag
    return f"{FORMAT_ID}." + base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def unwrap_key(wrapped: str | bytes, wrapping_key: bytes, aad: bytes) -> bytes:
    """Recover the data key from `wrap_key`'s output.

    Raises IntegrityError if the wrapping key or associated data differ from those used to wrap, or
    the text was altered; MalformedData/UnsupportedVersion (also IntegrityErrors) if it is not a
    wrapped key of a known format.
    """
    _check_key(wrapping_key, "wrapping key")
    gcm_aad = _gcm_aad(aad)
    if isinstance(wrapped, (bytes, bytearray)):
        try:
            wrapped = bytes(wrapped).decode("ascii")
        except UnicodeDecodeError:
            raise MalformedData("wrapped key is not ASCII text") from None
    if not isinstance(wrapped, str):
        raise MalformedData("wrapped key must be a string")
    match = _TEXT_RE.fullmatch(wrapped)
    if match is None:
        raise MalformedData("not a HealthLedger wrapped key")
    if f"hlkw{match.group(1)}" != FORMAT_ID:
        raise UnsupportedVersion(f"unsupported wrapped-key format version {match.group(1)}")
    if len(match.group(2)) != _B64_LEN:
        raise MalformedData("wrapped key has the wrong length")
    raw = base64.urlsafe_b64decode(match.group(2))
    if len(raw) != _RAW_SIZE:  # pragma: no cover - guaranteed by the length check above
        raise MalformedData("wrapped key has the wrong length")
    nonce, ciphertext, tag = raw[:NONCE_SIZE], raw[NONCE_SIZE:-TAG_SIZE], raw[-TAG_SIZE:]
    cipher = AES.new(bytes(wrapping_key), AES.MODE_GCM, nonce=nonce, mac_len=TAG_SIZE)
    cipher.update(gcm_aad)
    try:
        return cipher.decrypt_and_verify(ciphertext, tag)
    except ValueError:
        raise IntegrityError(
            "wrapped key failed authentication: wrong wrapping key, or it belongs to another record"
        ) from None
