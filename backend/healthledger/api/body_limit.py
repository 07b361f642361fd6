"""One body-size guard for every request: bytes are counted as they arrive, and 413 comes at once.

Two route classes: a file upload may carry `MAX_UPLOAD_BYTES` plus 64 KiB of multipart envelope and
form fields (`file_too_large`); every other request `MAX_JSON_BODY_BYTES` (`payload_too_large`).
A declared Content-Length over the limit is refused before a byte of the body is read (so a client
that sent `Expect: 100-continue` never gets its `100 Continue`). A body without a length (chunked
transfer encoding) is counted message by message in `receive`: the message that passes the limit is
never handed to the app, `receive` raises instead, and the middleware answers.

Why hand-written, as a pure ASGI middleware:

- Checking Content-Length alone (what this replaces) lets any chunked body through: the app read a
  300 MB chunked upload to a temporary file, and a chunked JSON body into memory without limit.
- uvicorn has no body-size option. Starlette 1.10 / FastAPI 0.165 do have `max_body_size` (app, router
  or route), but it does not serve here (tried on this stack): its 413 carries no `Connection: close`,
  so uvicorn keeps the connection and reads (and discards) the rest of the body, and the client went
  on sending 100 MB after the answer; a declared Content-Length over the limit is answered in plain
  text ("Content Too Large"), not in our `{"error": {...}}` shape; and its error is one generic
  HTTPException, which cannot keep the upload's `file_too_large` code and message (the web app shows
  it).
- FastAPI turns any exception raised while it parses a body into a 400 "There was an error parsing the
  body". So the middleware owns the answer: once the limit is passed it drops whatever the app tries
  to send and sends the 413 itself (if no response has started; one that has cannot be replaced, and
  is cut short instead).

Every 413 carries `Connection: close`: uvicorn then closes the connection after the answer instead of
reading the unread body, so the client stops sending. The same header is added when the app answers
a chunked request whose body it did not read to the end (e.g. a 404), for the same reason.
Nothing here blocks: it only counts lengths of messages that pass through.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..errors import error_body
from ..settings import Settings

log = logging.getLogger(__name__)

__all__ = ["LARGE_BODY_PATHS", "UPLOAD_FORM_OVERHEAD_BYTES", "UPLOAD_PATHS", "BodyLimit", "BodyLimitMiddleware", "BodyTooLarge"]

# Room for the multipart envelope and the other form fields around the file (signatures, name, ...).
UPLOAD_FORM_OVERHEAD_BYTES = 64 * 1024
# Every route that takes a file: the patient's upload and the doctor's (a doctor's record is a file too).
UPLOAD_PATHS = frozenset({"/api/medical-records/upload", "/api/medical-records/doctor/upload"})
# Routes whose body may be as large as an upload: the uploads, and a FHIR Bundle to import (its files
# inline, api/fhir.py), which is read whole and is bounded the same way.
LARGE_BODY_PATHS = UPLOAD_PATHS | frozenset({"/api/fhir/import/prepare"})


@dataclass(frozen=True)
class BodyLimit:
    """The most body bytes a route class accepts, and the error a larger body gets."""

    max_bytes: int
    code: str
    message: str


class BodyTooLarge(Exception):
    """Raised from the guarded `receive` once the body passed its limit, so the app stops reading."""


class BodyLimitMiddleware:
    """Refuses, with a 413 and `Connection: close`, any request body over its route class's limit."""

    def __init__(
        self, app: ASGIApp, *, upload: BodyLimit, default: BodyLimit, upload_paths: frozenset[str] = LARGE_BODY_PATHS
    ) -> None:
        self.app = app
        self.upload = upload
        self.default = default
        self.upload_paths = upload_paths

    @classmethod
    def limits(cls, settings: Settings) -> dict[str, BodyLimit]:
        """The `upload` and `default` limits from the settings (keyword arguments of the constructor)."""
        return {
            "upload": BodyLimit(
                settings.max_upload_bytes + UPLOAD_FORM_OVERHEAD_BYTES,
                "file_too_large",
                f"file exceeds the {settings.max_upload_bytes} byte limit",
            ),
            "default": BodyLimit(
                settings.max_json_body_bytes,
                "payload_too_large",
                f"request body exceeds the {settings.max_json_body_bytes} byte limit",
            ),
        }

    def limit_for(self, scope: Scope) -> BodyLimit:
        path: str = scope.get("path", "")
        root = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root):]
        return self.upload if path.rstrip("/") in self.upload_paths else self.default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope)
        headers = _headers(scope)
        declared = _declared_length(headers)
        if declared is not None and declared > limit.max_bytes:
            log.info("body over the limit (declared)", extra={"method": scope["method"], "code": limit.code, "count": declared})
            await _refuse(scope, receive, send, limit)
            return
        chunked = declared is None and b"chunked" in headers.get(b"transfer-encoding", b"").lower()
        guard = _Guard(limit, receive, send, chunked=chunked)
        try:
            await self.app(scope, guard.receive, guard.send)
        except Exception:
            if not guard.exceeded:
                raise
            # The app's reaction to BodyTooLarge (FastAPI: a 400 "error parsing the body"): ours is the answer.
        if not guard.exceeded:
            return
        log.info("body over the limit (streamed)", extra={"method": scope["method"], "code": limit.code, "count": guard.received})
        if guard.response_started:
            # Too late for a 413; returning without finishing the response makes uvicorn close the connection.
            return
        await _refuse(scope, receive, send, limit)


class _Guard:
    """The `receive` and `send` one request's app sees: counts body bytes, hides the app's answers once over."""

    def __init__(self, limit: BodyLimit, receive: Receive, send: Send, *, chunked: bool) -> None:
        self.limit = limit
        self._receive = receive
        self._send = send
        self.chunked = chunked
        self.received = 0
        self.body_complete = False
        self.exceeded = False
        self.response_started = False

    async def receive(self) -> Message:
        if self.exceeded:
            raise BodyTooLarge(self.limit.message)
        message = await self._receive()
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            if self.received > self.limit.max_bytes:
                # This message is not handed on: the app never holds a byte beyond the limit.
                self.exceeded = True
                raise BodyTooLarge(self.limit.message)
            if not message.get("more_body", False):
                self.body_complete = True
        return message

    async def send(self, message: Message) -> None:
        if self.exceeded:
            return
        if message["type"] == "http.response.start":
            self.response_started = True
            if self.chunked and not self.body_complete:
                # Answered before the end of a body of unknown length: don't let uvicorn read the rest.
                message = {**message, "headers": [*message.get("headers", []), (b"connection", b"close")]}
        await self._send(message)


async def _refuse(scope: Scope, receive: Receive, send: Send, limit: BodyLimit) -> None:
    response = JSONResponse(
        error_body(limit.code, limit.message), status_code=413, headers={"Connection": "close"}
    )
    await response(scope, receive, send)


def _headers(scope: Scope) -> dict[bytes, bytes]:
    """Request headers by lower-case name (the first of repeated ones; the server parser already
    refuses conflicting Content-Length headers)."""
    found: dict[bytes, bytes] = {}
    for name, value in scope.get("headers", ()):
        found.setdefault(name.lower(), value)
    return found


def _declared_length(headers: dict[bytes, bytes]) -> int | None:
    value = headers.get(b"content-length")
    if value is None or not value.strip().isdigit():
        return None
    return int(value)
