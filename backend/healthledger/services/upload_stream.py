"""One pass over an uploaded file: hash it, encrypt it and hand the ciphertext to IPFS together.

The file used to be read twice: once for the signed commitment SHA-256(salt ‖ file) and its size,
then again to encrypt it for IPFS. `OnePassUpload.ciphertext()` is the async generator given to the
IPFS adapter's `add_stream`; while it runs it also computes the commitment, the plaintext size and
the SHA-256 of the ciphertext, which the caller reads (and checks against the signature) once the
add has finished. The ciphertext format is unchanged (crypto/envelope.py's `Encryptor`): records
stored before and after this read the same way.

Why a producer task and a small queue (hand-written; no library pipelines an async generator): the
CPU work (two SHA-256 updates and AES-256-CBC of each 1 MiB chunk) runs in a worker thread
(hashlib and pycryptodome release the GIL on large buffers, so the event loop keeps serving), and
up to READ_AHEAD chunks are prepared while the previous ones are still being sent to the node:
encrypting and sending overlap instead of taking turns. Memory stays O(READ_AHEAD × CHUNK_SIZE).

Limits are checked on the way: more than `limit` bytes raises TooLarge (413 `file_too_large`) and an
empty file 400 `empty_file`, which abort the add (nothing is pinned: the pipeline adds unpinned).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Protocol

import anyio
from anyio.streams.memory import MemoryObjectSendStream

from ..crypto import Encryptor, Sha256Stream, commitment_stream
from ..domain_errors import TooLarge, bad_request

CHUNK_SIZE = 256 * 1024
# 256 KiB (IPFS's own chunk size): a 1 MB file is encrypted and sent in four steps that overlap
# with its arrival, instead of waiting for the whole MiB first.
READ_AHEAD = 16  # chunks prepared ahead of the sender: 4 MiB at most in flight


class AsyncReadable(Protocol):
    async def read(self, size: int = -1) -> bytes: ...

    async def seek(self, offset: int) -> None: ...


class OnePassUpload:
    """Encrypts `file` under `data_key` for IPFS while hashing it; read the results after the add.

    Use once: `await ipfs.add_stream(one_pass.ciphertext())`, then `content_hash`, `size` and
    `ciphertext_hash` (valid only after the generator has run to its end).
    """

    def __init__(self, file: AsyncReadable, data_key: bytes, salt: bytes, limit: int) -> None:
        self._file = file
        self._limit = limit
        self._encryptor = Encryptor(data_key)
        self._content = commitment_stream(salt)
        self._ciphertext = Sha256Stream()
        self._done = False

    @property
    def content_hash(self) -> str:
        """SHA-256(salt ‖ file) as `0x` hex: what the record signature must sign."""
        self._require_done()
        return self._content.hexdigest()

    @property
    def size(self) -> int:
        """The file's size in bytes (the salt is not counted)."""
        self._require_done()
        return self._content.size

    @property
    def ciphertext_hash(self) -> str:
        """SHA-256 of the whole container sent to IPFS, as `0x` hex."""
        self._require_done()
        return self._ciphertext.hexdigest()

    def _require_done(self) -> None:
        if not self._done:
            raise RuntimeError("the upload stream has not been read to its end")

    def _step(self, chunk: bytes) -> bytes:
        """One chunk's CPU work (in a worker thread): commitment, encryption, ciphertext hash."""
        self._content.update(chunk)
        out = self._encryptor.update(chunk)
        self._ciphertext.update(out)
        return out

    async def _produce(self, send: MemoryObjectSendStream[bytes]) -> None:
        async with send:  # closing it ends the consumer's loop, on success and on error alike
            await self._file.seek(0)
            head = self._encryptor.header_and_iv
            self._ciphertext.update(head)
            await send.send(head)
            while chunk := await self._file.read(CHUNK_SIZE):
                if self._content.size + len(chunk) > self._limit:
                    raise TooLarge("file_too_large", f"file exceeds the {self._limit} byte limit")
                out = await anyio.to_thread.run_sync(self._step, chunk)
                if out:
                    await send.send(out)
            if self._content.size == 0:
                raise bad_request("empty_file", "the file is empty")
            tail = self._encryptor.finalize()
            self._ciphertext.update(tail)
            await send.send(tail)

    async def ciphertext(self) -> AsyncIterator[bytes]:
        """The container's bytes in order; raises what the producer raised (TooLarge, empty_file, ...)."""
        send, receive = anyio.create_memory_object_stream[bytes](max_buffer_size=READ_AHEAD)
        producer = asyncio.ensure_future(self._produce(send))
        try:
            async with receive:
                async for chunk in receive:
                    yield chunk
            await producer  # re-raises the producer's error: the add must not look complete
            self._done = True
        finally:
            if not producer.done():
                producer.cancel()
                await asyncio.wait([producer])  # not `await producer`: that would swallow our own cancellation
            if not producer.cancelled():
                producer.exception()  # retrieved: its error (if any) was raised above or is moot
