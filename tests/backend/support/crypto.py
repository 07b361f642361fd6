"""Crypto helpers only the tests use: whole-stream and in-memory wrappers over the envelope's
Encryptor / MacVerifier / Decryptor, and one-shot SHA-256 spellings. The service streams through
those classes itself (services/upload.py, services/integrity.py); these let tests say a lot briefly.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator

from healthledger.crypto.envelope import Decryptor, Encryptor, MacVerifier

HASH_SIZE = 32
_HEX32_RE = re.compile(r"^0x[0-9a-fA-F]{64}$")


def encrypt_stream(chunks: Iterable[bytes], data_key: bytes) -> Iterator[bytes]:
    """Yield the whole container for a stream of plaintext chunks (constant memory)."""
    enc = Encryptor(data_key)
    yield enc.header_and_iv
    for chunk in chunks:
        out = enc.update(chunk)
        if out:
            yield out
    yield enc.finalize()


async def aencrypt_stream(chunks: AsyncIterable[bytes], data_key: bytes) -> AsyncIterator[bytes]:
    """Async twin of `encrypt_stream`, for uploads arriving as an async byte stream."""
    enc = Encryptor(data_key)
    yield enc.header_and_iv
    async for chunk in chunks:
        out = enc.update(chunk)
        if out:
            yield out
    yield enc.finalize()


def verify_stream(chunks: Iterable[bytes], data_key: bytes) -> None:
    """Authenticate a streamed container; raises IntegrityError (or a subclass) if it is not intact."""
    verifier = MacVerifier(data_key)
    for chunk in chunks:
        verifier.update(chunk)
    verifier.verify()


async def averify_stream(chunks: AsyncIterable[bytes], data_key: bytes) -> None:
    """Async twin of `verify_stream`."""
    verifier = MacVerifier(data_key)
    async for chunk in chunks:
        verifier.update(chunk)
    verifier.verify()


async def adecrypt_stream(chunks: AsyncIterable[bytes], data_key: bytes) -> AsyncIterator[bytes]:
    """Async twin of `decrypt_stream` (same precondition: the container was verified first); it may
    yield empty chunks, which a reader joining them does not notice."""
    dec = Decryptor(data_key)
    async for chunk in chunks:
        yield dec.update(chunk)
    yield dec.finalize()


def encrypt_bytes(plaintext: bytes, data_key: bytes) -> bytes:
    """Encrypt a small in-memory plaintext into a complete container."""
    enc = Encryptor(data_key)
    return b"".join((enc.header_and_iv, enc.update(plaintext), enc.finalize()))


def decrypt_bytes(container: bytes, data_key: bytes) -> bytes:
    """Authenticate, then decrypt, a small in-memory container. Raises IntegrityError if not intact."""
    container = bytes(container)  # immutable snapshot: what we verify is what we decrypt
    verifier = MacVerifier(data_key)
    verifier.update(container)
    verifier.verify()
    dec = Decryptor(data_key, verify_mac=False)
    return dec.update(container) + dec.finalize()


def sha256_hex(data: bytes) -> str:
    """`0x`-prefixed lowercase hex SHA-256 of `data`."""
    return "0x" + hashlib.sha256(data).hexdigest()


def sha256_bytes32(data: bytes) -> bytes:
    """Raw 32-byte SHA-256 of `data`."""
    return hashlib.sha256(data).digest()


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
