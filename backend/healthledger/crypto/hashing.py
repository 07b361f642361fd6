"""Streaming SHA-256, the one hashing path of uploads and verification, in two spellings.

* `0x`-prefixed lowercase hex: what MongoDB stores and the API returns (`content_hash`,
  `ciphertext_hash`).
* raw 32 bytes (`bytes32`): what the HealthRecord contract stores and emits.

Upload (services/upload.py) and verification (services/integrity.py) both hash through
`Sha256Stream`, so they can never disagree about case, prefix or byte order. Uses hashlib
(OpenSSL): same function, and it releases the GIL on large chunks.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterable, Iterable


class Sha256Stream:
    """Incremental SHA-256 with constant memory; feed chunks, read the digest in either spelling."""

    def __init__(self, prefix: bytes = b"") -> None:
        # `prefix` (a record's salt) is hashed first and not counted in `size`: see crypto/salt.py.
        self._h = hashlib.sha256(prefix)
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
