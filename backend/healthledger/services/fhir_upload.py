"""Structured records on upload: a file sent as `application/fhir+json` is checked before anything
is stored.

Uploads stream (api/multipart_stream.py): the file is hashed, encrypted and added to IPFS while it
arrives. A FHIR document must be valid before any of that, so its body (bounded by
fhir.MAX_FHIR_BYTES, 413 `fhir_too_large` past it) is read into memory first, validated in a worker
thread (pydantic over a large document is CPU work), and handed to the pipeline as an in-memory
readable with the same bytes. The pipeline then checks the signed contentHash over those bytes as
for any file: nothing here changes what was signed.
"""

from __future__ import annotations

import anyio

from ..domain_errors import TooLarge
from ..fhir import MAX_FHIR_BYTES, CheckedResource, check_record_resource, is_fhir_content_type
from .upload_stream import AsyncReadable

READ_SIZE = 64 * 1024


class BytesReadable:
    """An AsyncReadable over bytes already in memory (the validated FHIR document)."""

    def __init__(self, content: bytes) -> None:
        self._content = content
        self._position = 0

    async def read(self, size: int = -1) -> bytes:
        end = len(self._content) if size < 0 else min(len(self._content), self._position + size)
        piece = self._content[self._position : end]
        self._position = end
        return piece

    async def seek(self, offset: int) -> None:
        self._position = max(0, min(offset, len(self._content)))


async def checked_upload_file(
    file: AsyncReadable, content_type: str, record_type: str, patient: str, author: str
) -> tuple[AsyncReadable, CheckedResource | None]:
    """`file` itself (and None) unless its Content-Type is FHIR JSON; then its bytes, once they are a
    valid resource of `record_type` naming `patient` as subject and `author` (the uploader) as
    author, with the validated resource (services/amendments.py reads its `replaces` link).

    Raises the fhir package's domain errors (400 `invalid_fhir`, `fhir_kind_mismatch`,
    `fhir_subject_mismatch`, `fhir_author_mismatch`; 413 `fhir_too_large`) before anything is stored.
    """
    if not is_fhir_content_type(content_type):
        return file, None
    content = await read_bounded(file, MAX_FHIR_BYTES)
    checked = await anyio.to_thread.run_sync(check_record_resource, content, record_type, patient, author)
    return BytesReadable(content), checked


async def read_bounded(file: AsyncReadable, limit: int) -> bytes:
    """All of `file`, or 413 `fhir_too_large` as soon as it passes `limit` bytes (the rest is not read)."""
    pieces: list[bytes] = []
    total = 0
    while piece := await file.read(READ_SIZE):
        total += len(piece)
        if total > limit:
            raise TooLarge("fhir_too_large", f"a FHIR record may be at most {limit} bytes of JSON")
        pieces.append(piece)
    return b"".join(pieces)
