"""The one-pass upload stream (services/upload_stream.py) against the two-pass code it replaced.

Before: SHA-256(salt ‖ file) and the size in a first read, then `Encryptor` over a second read,
hashing the ciphertext on the way. The one pass must give the same commitment, size and bytes
(with the same IV: byte for byte the same container), so records stored before and after read
alike; and its limits must still abort the stream.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import os

import pytest

from healthledger.crypto import Encryptor, MacVerifier, commitment_stream, decrypt_stream, new_data_key
from healthledger.crypto import envelope
from healthledger.domain_errors import DomainError
from healthledger.services import upload_stream
from healthledger.services.upload_stream import CHUNK_SIZE, OnePassUpload


class AsyncBytes:
    """An UploadFile-like async reader over bytes."""

    def __init__(self, data: bytes) -> None:
        self._buffer = io.BytesIO(data)

    async def read(self, size: int = -1) -> bytes:
        return self._buffer.read(size)

    async def seek(self, offset: int) -> None:
        self._buffer.seek(offset)


def two_pass(data: bytes, data_key: bytes, salt: bytes) -> tuple[str, int, bytes]:
    """What the pipeline computed before: (commitment, size, container), in two reads."""
    digest = commitment_stream(salt)
    for start in range(0, len(data), CHUNK_SIZE):
        digest.update(data[start : start + CHUNK_SIZE])
    encryptor = Encryptor(data_key)
    parts = [encryptor.header_and_iv]
    parts += [encryptor.update(data[start : start + CHUNK_SIZE]) for start in range(0, len(data), CHUNK_SIZE)]
    parts.append(encryptor.finalize())
    return digest.hexdigest(), digest.size, b"".join(parts)


async def collect(one_pass: OnePassUpload) -> bytes:
    return b"".join([chunk async for chunk in one_pass.ciphertext()])


def fixed_iv(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(envelope, "random_bytes", lambda n: b"\x07" * n)


@pytest.mark.parametrize("size", [1, 15, 16, 17, CHUNK_SIZE - 1, CHUNK_SIZE, 3 * CHUNK_SIZE + 5])
def test_one_pass_equals_two_passes(monkeypatch: pytest.MonkeyPatch, size: int) -> None:
    fixed_iv(monkeypatch)
    data, data_key, salt = os.urandom(size), new_data_key(), os.urandom(32)
    expected_hash, expected_size, expected_container = two_pass(data, data_key, salt)

    one_pass = OnePassUpload(AsyncBytes(data), data_key, salt, limit=size)
    container = asyncio.run(collect(one_pass))

    assert container == expected_container
    assert one_pass.content_hash == expected_hash == "0x" + hashlib.sha256(salt + data).hexdigest()
    assert one_pass.size == expected_size == size
    assert one_pass.ciphertext_hash == "0x" + hashlib.sha256(container).hexdigest()


def test_one_pass_output_decrypts_with_the_readers_code() -> None:
    data, data_key = os.urandom(2 * CHUNK_SIZE + 123), new_data_key()
    container = asyncio.run(collect(OnePassUpload(AsyncBytes(data), data_key, b"\x01" * 32, limit=len(data))))
    verifier = MacVerifier(data_key)
    verifier.update(container)
    verifier.verify()
    assert b"".join(decrypt_stream([container[i : i + 65536] for i in range(0, len(container), 65536)], data_key)) == data


def test_too_large_aborts_the_stream_mid_way() -> None:
    data = os.urandom(2 * CHUNK_SIZE + 1)
    one_pass = OnePassUpload(AsyncBytes(data), new_data_key(), b"", limit=2 * CHUNK_SIZE)
    with pytest.raises(DomainError) as raised:
        asyncio.run(collect(one_pass))
    assert raised.value.code == "file_too_large"
    with pytest.raises(RuntimeError):
        one_pass.content_hash  # noqa: B018 - results of an aborted stream are never readable


def test_empty_file_is_refused() -> None:
    with pytest.raises(DomainError) as raised:
        asyncio.run(collect(OnePassUpload(AsyncBytes(b""), new_data_key(), b"", limit=10)))
    assert raised.value.code == "empty_file"


def test_memory_is_bounded_by_the_read_ahead() -> None:
    """The producer runs at most READ_AHEAD chunks ahead of a consumer that does not read."""
    reads = 0

    class Counting(AsyncBytes):
        async def read(self, size: int = -1) -> bytes:
            nonlocal reads
            reads += 1
            return await super().read(size)

    async def scenario() -> None:
        one_pass = OnePassUpload(Counting(os.urandom(20 * CHUNK_SIZE)), new_data_key(), b"", limit=10**9)
        stream = one_pass.ciphertext()
        await stream.__anext__()  # the header: the producer is running now
        for _ in range(50):
            await asyncio.sleep(0.01)
        await stream.aclose()  # the consumer gives up: the producer is cancelled

    asyncio.run(scenario())
    assert reads <= upload_stream.READ_AHEAD + 2
