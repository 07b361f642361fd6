"""The streamed multipart reader (api/multipart_stream.py) against scripted request bodies.

A fake request hands out the body in chosen pieces and records how many it handed out, so each
test can tell how far the reader got: the fields come back before the file's bytes were pulled,
and the file's bytes only as they are read.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from starlette.requests import ClientDisconnect

from healthledger.api.multipart_stream import MAX_FIELD_BYTES, MAX_PARTS, StreamedForm
from healthledger.errors import ApiError

BOUNDARY = "testboundary7MA4YWxkTrZu0gW"
KNOWN = ("recordType", "name", "nonce", "duplicateTag")
REQUIRED = ("recordType", "name", "nonce")


def field(name: str, value: str) -> bytes:
    return f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()


def file_head(filename: str = "scan.pdf", content_type: str = "application/pdf") -> bytes:
    return (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        f"Content-Type: {content_type}\r\n\r\n"
    ).encode()


def file_part(content: bytes) -> bytes:
    return file_head() + content + b"\r\n"


END = f"--{BOUNDARY}--\r\n".encode()
FIELDS = field("recordType", "report") + field("name", "Scan") + field("nonce", "3")


class ScriptedRequest:
    """`headers` and `stream()` as Starlette's Request has them; counts the pieces handed out."""

    def __init__(self, pieces: list[bytes | BaseException], content_type: str | None = None) -> None:
        self.headers = {"content-type": content_type or f"multipart/form-data; boundary={BOUNDARY}"}
        self._pieces = pieces
        self.pulled = 0

    async def stream(self) -> AsyncIterator[bytes]:
        for piece in self._pieces:
            self.pulled += 1
            if isinstance(piece, BaseException):
                raise piece
            yield piece


def split(body: bytes, size: int) -> list[bytes | BaseException]:
    return [body[i : i + size] for i in range(0, len(body), size)]


async def open_form(request: ScriptedRequest) -> StreamedForm:
    return await StreamedForm.open(request, "file", required=REQUIRED, known=KNOWN)  # type: ignore[arg-type]


async def read_all(form: StreamedForm, size: int = 1000) -> bytes:
    assert form.file is not None
    await form.file.seek(0)
    out = bytearray()
    while chunk := await form.file.read(size):
        assert len(chunk) <= size
        out += chunk
    return bytes(out)


def run(coro: Any) -> Any:
    return asyncio.run(coro)


async def open_and_read(request: ScriptedRequest, size: int = 1000) -> tuple[StreamedForm, bytes]:
    """Open and read in one event loop (the body's async generator belongs to the loop it started in)."""
    form = await open_form(request)
    return form, await read_all(form, size)


def error_of(coro: Any) -> ApiError:
    with pytest.raises(ApiError) as caught:
        run(coro)
    return caught.value


def test_fields_come_back_before_the_file_is_read_then_the_file_streams() -> None:
    content = bytes(range(256)) * 40  # 10,240 bytes
    pieces: list[bytes | BaseException] = [FIELDS, file_head(), *split(content, 1024), b"\r\n" + END]
    request = ScriptedRequest(pieces)

    async def scenario() -> tuple[dict[str, str], int, bytes, int]:
        form = await open_form(request)
        pulled_at_open = request.pulled
        data = await read_all(form, size=3000)
        return form.fields, pulled_at_open, data, request.pulled

    fields, pulled_at_open, data, pulled_at_end = run(scenario())
    assert fields == {"recordType": "report", "name": "Scan", "nonce": "3"}
    assert pulled_at_open == 2  # the fields and the file's headers: not one byte of the file yet
    assert data == content
    assert pulled_at_end == len(pieces)


def test_a_file_before_a_required_field_is_spooled_until_the_body_ends() -> None:
    content = b"x" * 5000
    body = field("recordType", "report") + file_part(content) + field("name", "Scan") + field("nonce", "1") + END
    request = ScriptedRequest(split(body, 700))

    async def scenario() -> tuple[StreamedForm, bytes]:
        form = await open_form(request)
        assert request.pulled == len(split(body, 700))  # all of it, to find the fields after the file
        return form, await read_all(form)

    form, data = run(scenario())
    assert form.fields == {"recordType": "report", "name": "Scan", "nonce": "1"}
    assert data == content
    assert form.file is not None and form.file.filename == "scan.pdf" and form.file.content_type == "application/pdf"


def test_a_known_field_after_a_streamed_file_is_refused_before_the_file_ends() -> None:
    body = FIELDS + file_part(b"abc") + field("duplicateTag", "0x" + "11" * 32) + END

    async def scenario() -> None:
        form = await open_form(ScriptedRequest(split(body, 64)))
        assert form.file is not None
        assert await form.file.read(2) == b"ab"
        await form.file.read(100)  # the last bytes, then the end: the late field is found first
        await form.file.read(100)

    assert error_of(scenario()).code == "field_after_file"


def test_unknown_parts_after_the_file_are_ignored() -> None:
    body = FIELDS + file_part(b"abc") + field("somethingElse", "1") + END
    _, data = run(open_and_read(ScriptedRequest([body])))
    assert data == b"abc"


def test_a_form_without_a_file_returns_its_fields_and_no_file() -> None:
    form = run(open_form(ScriptedRequest([FIELDS + END])))
    assert form.file is None and form.fields["name"] == "Scan"


def test_a_field_named_file_without_a_filename_is_not_the_file() -> None:
    form = run(open_form(ScriptedRequest([FIELDS + field("file", "not a file") + END])))
    assert form.file is None and "file" not in form.fields


@pytest.mark.parametrize(
    "content_type", ["application/json", "multipart/form-data", "text/plain; boundary=x", ""]
)
def test_not_multipart_with_a_boundary_is_malformed(content_type: str) -> None:
    request = ScriptedRequest([FIELDS + END], content_type=content_type or "none")
    assert error_of(open_form(request)).code == "malformed_multipart"


def test_a_broken_body_is_malformed() -> None:
    request = ScriptedRequest([b"--not-the-boundary\r\nhello\r\n"])
    assert error_of(open_form(request)).code in ("malformed_multipart", "upload_incomplete")


def test_a_body_that_ends_mid_file_is_incomplete_not_a_shorter_file() -> None:
    request = ScriptedRequest([FIELDS, file_head(), b"only the first half"])
    assert error_of(open_and_read(request)).code == "upload_incomplete"


def test_a_client_that_leaves_mid_file_is_incomplete() -> None:
    request = ScriptedRequest([FIELDS, file_head(), b"some bytes", ClientDisconnect()])
    assert error_of(open_and_read(request)).code == "upload_incomplete"


def test_a_body_that_ends_mid_file_while_spooling_is_incomplete() -> None:
    request = ScriptedRequest([field("name", "Scan"), file_head(), b"half a file"])
    assert error_of(open_form(request)).code == "upload_incomplete"


def test_an_oversized_field_is_refused() -> None:
    request = ScriptedRequest([field("name", "x" * (MAX_FIELD_BYTES + 1)) + END])
    assert error_of(open_form(request)).code == "field_too_large"


def test_too_many_parts_are_refused() -> None:
    request = ScriptedRequest([b"".join(field(f"f{i}", "1") for i in range(MAX_PARTS + 1)) + END])
    assert error_of(open_form(request)).code == "too_many_parts"


def test_a_repeated_field_keeps_its_first_value() -> None:
    form = run(open_form(ScriptedRequest([FIELDS + field("name", "Second") + file_part(b"z") + END])))
    assert form.fields["name"] == "Scan"


def test_seeking_after_reading_a_live_file_is_refused() -> None:
    async def scenario() -> None:
        form = await open_form(ScriptedRequest([FIELDS + file_part(b"abcdef") + END]))
        assert form.file is not None
        await form.file.read(2)
        await form.file.seek(0)

    with pytest.raises(OSError):
        run(scenario())


def test_a_client_that_sends_nothing_for_the_idle_timeout_is_cut_off() -> None:
    class StalledRequest(ScriptedRequest):
        async def stream(self) -> AsyncIterator[bytes]:
            yield FIELDS + file_head() + b"a first piece"
            await asyncio.Event().wait()  # then nothing, ever
            yield b""

    async def scenario() -> None:
        form = await StreamedForm.open(StalledRequest([]), "file", REQUIRED, KNOWN, idle_timeout=0.05)  # type: ignore[arg-type]
        await read_all(form)

    error = error_of(scenario())
    assert (error.status, error.code) == (408, "upload_stalled")
