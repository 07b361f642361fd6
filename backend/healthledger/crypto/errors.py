"""Exceptions raised by the encryption layer.

Every failure to *authenticate* bytes is an `IntegrityError`, including bytes too malformed to be
checked at all (truncated, wrong magic, unknown version). Callers that only want to know "may I
trust this?" therefore catch one class; those that want detail catch a subclass.

Messages never contain key material, signatures, plaintext or MAC values: they end up in logs and
API responses.
"""

from __future__ import annotations


class CryptoError(Exception):
    """Base class for every error raised by `healthledger.crypto`."""


class InvalidKeyMaterial(CryptoError, ValueError):
    """A key, signature or address given to us has the wrong type, length or format.

    This is a programming or input error, not evidence of tampering, so it is not an IntegrityError.
    """


class IntegrityError(CryptoError):
    """Data failed authentication: a MAC or AEAD tag did not match, so it was changed or the key is wrong."""


class MalformedData(IntegrityError):
    """The bytes are not a well-formed container / wrapped key (truncated, bad magic, bad length).

    A subclass of IntegrityError because bytes we cannot even parse are bytes we cannot trust.
    """


class UnsupportedVersion(MalformedData):
    """The data declares a format version or algorithm this code does not know."""


class PaddingError(IntegrityError):
    """PKCS#7 padding was invalid after decryption (wrong key, or a container that was never verified)."""


class StateError(CryptoError):
    """A streaming object was used out of order (e.g. `update` after `finalize`)."""
