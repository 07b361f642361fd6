"""A multipart/form-data upload read as it arrives: the form fields first, then the file as a stream.

Why not FastAPI's `File()`/`Form()`: Starlette reads the whole body before the route runs and spools
the file to a temporary file (in memory up to 1 MiB, then on disk), and the upload then reads it back
to hash, encrypt and send it to IPFS. The client's transfer and the IPFS add took turns: a 100 MB
upload ran at 0.53 of a bare IPFS add of the same bytes. Here the body is parsed incrementally by
python-multipart's `MultipartParser` (the parser Starlette itself uses), the fields that precede the
file are returned first, and the file part is an async reader that pulls body chunks from the
client only when its consumer asks for more: the transfer, the encryption and the add overlap,
memory stays O(chunk), and a slow consumer slows the client down (back-pressure) instead of
buffering. No library hands a multipart file part on as a stream, hence this glue.

Clients should send the file last (the web app does). When the file comes before a required field,
the file part is spooled to a temporary file until the body ends, as Starlette would have done:
slower, same result. A field of the form that arrives after a streamed file is refused (400
`field_after_file`) when the file ends, which is before the consumer sees its end: an add that reads
this stream is aborted, not completed without the field.

Errors are the API's: 400 `malformed_multipart` (not multipart, no boundary, a broken body),
`upload_incomplete` (the body ended or the client left mid-file), `field_too_large`, `too_many_parts`;
408 `upload_stalled` when the client sends nothing for `idle_timeout` seconds (uvicorn has no such
timeout, and a stalled client would otherwise hold its IPFS add open for ever).
"""

from __future__ import annotations

import tempfile
from collections import deque
from collections.abc import AsyncIterator, Collection
from dataclasses import dataclass, field
from typing import IO

import anyio
from python_multipart import MultipartParser
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import parse_options_header
from starlette.requests import ClientDisconnect, Request

from ..errors import ApiError

MAX_FIELD_BYTES = 64 * 1024  # every form field here is a few hundred bytes at most
MAX_PARTS = 32
SPOOL_MEMORY_BYTES = 1024 * 1024  # a spooled file part stays in memory up to this, then goes to disk
DEFAULT_IDLE_TIMEOUT_SECONDS = 30.0


def _bad(code: str, message: str) -> ApiError:
    return ApiError(400, code, message)


@dataclass
class _Part:
    name: str = ""
    filename: str | None = None
    content_type: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    value: bytearray = field(default_factory=bytearray)


class StreamedFile:
    """The file part: `read(size)` returns its bytes in order and b"" once it has ended completely.

    Live (the file came after every required field): reads pull body chunks from the client. Spooled
    (it came earlier): the part was written to a temporary file while the rest of the body arrived.
    """

    def __init__(self, form: StreamedForm, filename: str | None, content_type: str | None) -> None:
        self._form = form
        self.filename = filename
        self.content_type = content_type
        self._spool: IO[bytes] | None = None
        self._started = False

    async def seek(self, offset: int) -> None:
        """Only a rewind before the first read is possible (the pipeline asks for one)."""
        if offset != 0 or (self._started and self._spool is None):
            raise OSError("a streamed upload cannot seek")
        if self._spool is not None:
            await anyio.to_thread.run_sync(self._spool.seek, 0)

    async def read(self, size: int = -1) -> bytes:
        self._started = True
        if self._spool is not None:
            return await anyio.to_thread.run_sync(self._spool.read, size)
        return await self._form.read_file(size)

    async def close(self) -> None:
        if self._spool is not None:
            self._spool.close()


class StreamedForm:
    """One multipart body, parsed as it arrives. Build with `await StreamedForm.open(...)`."""

    def __init__(self, chunks: AsyncIterator[bytes], boundary: bytes, file_field: str, idle_timeout: float) -> None:
        self._chunks = chunks
        self._idle_timeout = idle_timeout
        self._file_field = file_field
        self.fields: dict[str, str] = {}
        self.file: StreamedFile | None = None
        self._part: _Part | None = None
        self._header_name = bytearray()
        self._header_value = bytearray()
        self._parts = 0
        self._in_file = False
        self._file_done = False
        self._body_done = False
        self._file_data: deque[bytes] = deque()
        self._buffered = 0
        self._known: frozenset[str] = frozenset()
        self._late_field: str | None = None
        self._parser = MultipartParser(
            boundary,
            {
                "on_part_begin": self._on_part_begin,
                "on_header_field": self._on_header_field,
                "on_header_value": self._on_header_value,
                "on_header_end": self._on_header_end,
                "on_headers_finished": self._on_headers_finished,
                "on_part_data": self._on_part_data,
                "on_part_end": self._on_part_end,
                "on_end": self._on_end,
            },
        )

    @classmethod
    async def open(
        cls,
        request: Request,
        file_field: str,
        required: Collection[str],
        known: Collection[str],
        idle_timeout: float = DEFAULT_IDLE_TIMEOUT_SECONDS,
    ) -> StreamedForm:
        """Read the body up to the file part (to its end if a `required` field has not come by then).

        `known` are the form's field names: one of them after a streamed file is refused.
        """
        content_type, params = parse_options_header(request.headers.get("content-type", ""))
        boundary = params.get(b"boundary")
        if content_type != b"multipart/form-data" or not boundary:
            raise _bad("malformed_multipart", "the body must be multipart/form-data with a boundary")
        form = cls(request.stream().__aiter__(), boundary, file_field, idle_timeout)
        form._known = frozenset(known)
        while form.file is None and not form._body_done:
            await form._pull()
        if form.file is not None and not set(required) <= form.fields.keys():
            await form._spool_file()
        return form

    # -- reading ------------------------------------------------------------------------------

    async def _pull(self) -> None:
        """Feed the parser the next body chunk (the end of the body when there is none)."""
        try:
            with anyio.fail_after(self._idle_timeout):
                chunk = await anext(self._chunks, None)
        except ClientDisconnect as exc:
            raise _bad("upload_incomplete", "the client left before the whole body arrived") from exc
        except TimeoutError as exc:
            raise ApiError(
                408, "upload_stalled", f"the client sent nothing for {self._idle_timeout:g} s: send the upload again"
            ) from exc
        try:
            if chunk is None:
                self._parser.finalize()
                if not self._body_done:
                    raise _bad("upload_incomplete", "the body ended before the multipart form did")
            elif chunk:
                self._parser.write(chunk)
        except MultipartParseError as exc:
            raise _bad("malformed_multipart", f"the multipart body is malformed: {exc}") from exc

    async def read_file(self, size: int) -> bytes:
        """Up to `size` bytes of the live file part (all that is buffered when size < 0)."""
        want = size if size >= 0 else 1
        while self._buffered < want and not self._file_done:
            await self._pull()
            if self._body_done and not self._file_done:
                raise _bad("upload_incomplete", "the body ended in the middle of the file")
        if not self._file_data:
            await self._finish_body()
            return b""
        return self._take(size if size >= 0 else self._buffered)

    def _take(self, size: int) -> bytes:
        out = bytearray()
        while self._file_data and len(out) < size:
            piece = self._file_data.popleft()
            room = size - len(out)
            if len(piece) > room:
                self._file_data.appendleft(piece[room:])
                piece = piece[:room]
            out += piece
        self._buffered -= len(out)
        return bytes(out)

    async def _finish_body(self) -> None:
        """After the file: parse the rest of the body, refusing a form field that came too late."""
        while not self._body_done:
            await self._pull()
        if self._late_field is not None:
            raise _bad(
                "field_after_file",
                f"the form field {self._late_field!r} came after the file: send the file as the last part",
            )

    async def _spool_file(self) -> None:
        """Keep the file part in a temporary file while the rest of the body (its fields) arrives."""
        assert self.file is not None
        spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY_BYTES)  # noqa: SIM115 (closed by StreamedFile)
        try:
            while True:
                while self._file_data:
                    piece = self._file_data.popleft()
                    await anyio.to_thread.run_sync(spool.write, piece)
                self._buffered = 0
                if self._body_done:
                    break
                await self._pull()
        except BaseException:
            spool.close()
            raise
        if not self._file_done:
            spool.close()
            raise _bad("upload_incomplete", "the body ended in the middle of the file")
        self.file._spool = spool
        self._late_field = None  # every field is known before anything reads the file

    # -- parser callbacks (synchronous, inside `parser.write`) ----------------------------------

    def _on_part_begin(self) -> None:
        self._parts += 1
        if self._parts > MAX_PARTS:
            raise _bad("too_many_parts", f"the form has more than {MAX_PARTS} parts")
        self._part = _Part()

    def _on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def _on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _on_header_end(self) -> None:
        assert self._part is not None
        self._part.headers[self._header_name.decode("latin-1").lower()] = self._header_value.decode("latin-1")
        self._header_name.clear()
        self._header_value.clear()

    def _on_headers_finished(self) -> None:
        part = self._part
        assert part is not None
        _, options = parse_options_header(part.headers.get("content-disposition", ""))
        part.name = options.get(b"name", b"").decode("utf-8", "replace")
        filename = options.get(b"filename")
        part.filename = filename.decode("utf-8", "replace") if filename is not None else None
        part.content_type = part.headers.get("content-type")
        if self.file is not None:
            if part.name in self._known or part.name == self._file_field:
                self._late_field = self._late_field or part.name
        elif part.name == self._file_field and part.filename is not None:
            self.file = StreamedFile(self, part.filename, part.content_type)
            self._in_file = True

    def _on_part_data(self, data: bytes, start: int, end: int) -> None:
        part = self._part
        assert part is not None
        if self._in_file:
            piece = data[start:end]
            self._file_data.append(piece)
            self._buffered += len(piece)
            return
        if len(part.value) + (end - start) > MAX_FIELD_BYTES:
            raise _bad("field_too_large", f"the form field {part.name!r} is over {MAX_FIELD_BYTES} bytes")
        part.value += data[start:end]

    def _on_part_end(self) -> None:
        part = self._part
        assert part is not None
        if self._in_file:
            self._in_file = False
            self._file_done = True
        elif part.name and part.name != self._file_field and part.name not in self.fields:
            self.fields[part.name] = part.value.decode("utf-8", "replace")  # the first of a repeated field
        self._part = None

    def _on_end(self) -> None:
        self._body_done = True
