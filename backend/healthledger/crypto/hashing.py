"""Streaming SHA-256 in the two spellings the rest of the system uses.

* `0x`-prefixed lowercase hex: what MongoDB stores and the API returns (`content_hash`,
  `ciphertext_hash`).
* raw 32 bytes (`bytes32`): what the HealthRecord contract stores and emits.

Keeping both conversions here means upload and verification can never disagree about case, prefix
or byte order. Uses hashlib (OpenSSL): same function, and it releases the GIL on large chunks.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterable, Iterable

HASH_SIZE = 32
_HEX32_RE = re.compile(r"^0x[0-9a-fA-F]{64}$")


class Sha256Stream:
    """Incremental SHA-256 with constant memory; feed chunks, read the digest in either spelling."""

    def __init__(self) -> None:
        self._h = hashlib.sha256()
        self._size = 0

    def update(self, chunk: bytes) -> None:
        self._h.update(chunk)
        self._size += len(chunk)

    @property
    def size(self) -> int:
        """Bytes hashed so far."""
        return self._size

    def digest(self) -> bytes:
        """The 32-byte digest (a Solidity `bytes32`)."""
        return self._h.digest()

    def hexdigest(self) -> str:
        """The digest as `0x` + 64 lowercase hex characters."""
        return "0x" + self._h.hexdigest()


def sha256_hex(data: bytes) -> str:
    """`0x`-prefixed lowercase hex SHA-256 of `data`."""
    return "0x" + hashlib.sha256(data).hexdigest()


def sha256_bytes32(data: bytes) -> bytes:
    """Raw 32-byte SHA-256 of `data`."""
    return hashlib.sha256(data).digest()


def sha256_stream(chunks: Iterable[bytes]) -> Sha256Stream:
    """Hash an iterable of chunks; read `.hexdigest()`, `.digest()` or `.size` from the result."""
    h = Sha256Stream()
    for chunk in chunks:
        h.update(chunk)
    return h


async def asha256_stream(chunks: AsyncIterable[bytes]) -> Sha256Stream:
    """Async twin of `sha256_stream`."""
    h = Sha256Stream()
    async for chunk in chunks:
        h.update(chunk)
    return h


def hex_to_bytes32(value: str) -> bytes:
    """`0x` + 64 hex (any case) -> 32 bytes; raises ValueError otherwise."""
    if not isinstance(value, str) or not _HEX32_RE.fullmatch(value):
        raise ValueError("expected 0x followed by 64 hex characters")
    return bytes.fromhex(value[2:])


def bytes32_to_hex(value: bytes) -> str:
    """32 bytes -> `0x` + 64 lowercase hex; raises ValueError for any other length."""
    if len(value) != HASH_SIZE:
        raise ValueError("expected exactly 32 bytes")
    return "0x" + bytes(value).hex()
