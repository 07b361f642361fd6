"""The body-size guard alone, driven through ASGI directly: how many bytes it lets the app pull.

A scripted `receive` plays the server: it hands out body messages and counts them, so each test
knows exactly how much of a body was read before the 413 (the HTTP tests in
tests/backend/test_body_limit_http.py can only see what the client sent).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from fastapi import FastAPI, File, UploadFile
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from healthledger.api.body_limit import UPLOAD_FORM_OVERHEAD_BYTES, BodyLimitMiddleware
from healthledger.errors import install_error_handlers
from healthledger.settings import Settings

MAX_UPLOAD = 256 * 1024
MAX_JSON = 4 * 1024
UPLOAD_LIMIT = MAX_UPLOAD + UPLOAD_FORM_OVERHEAD_BYTES
MESSAGE_BYTES = 1000  # one `http.request` message of the scripted server


class Profile(BaseModel):
    displayName: str


def _app(calls: list[str]) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.put("/api/profile")
    async def profile(body: Profile) -> dict[str, Any]:
        calls.append("profile")
        return {"length": len(body.displayName)}

    @app.post("/api/medical-records/upload")
    async def upload(file: UploadFile = File()) -> dict[str, Any]:
        calls.append("upload")
        return {"size": len(await file.read())}

    @app.post("/api/echo-stream")
    async def echo_stream() -> StreamingResponse:
        async def parts():  # type: ignore[no-untyped-def]
            yield b"started"

        return StreamingResponse(parts())

    settings = Settings(max_upload_bytes=MAX_UPLOAD, max_json_body_bytes=MAX_JSON)
    app.add_middleware(BodyLimitMiddleware, **BodyLimitMiddleware.limits(settings))
    return app


class Server:
    """Plays uvicorn for one request: the body comes as `MESSAGE_BYTES` messages; `pulled` counts them."""

    def __init__(self, body: bytes | None = None, *, endless: bool = False) -> None:
        self.body = body or b""
        self.endless = endless
        self.pulled = 0
        self.sent: list[dict[str, Any]] = []

    async def receive(self) -> dict[str, Any]:
        if self.endless:
            self.pulled += MESSAGE_BYTES
            return {"type": "http.request", "body": b"x" * MESSAGE_BYTES, "more_body": True}
        piece = self.body[self.pulled : self.pulled + MESSAGE_BYTES]
        self.pulled += len(piece)
        return {"type": "http.request", "body": piece, "more_body": self.pulled < len(self.body)}

    async def send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)

    @property
    def status(self) -> int:
        starts = [m for m in self.sent if m["type"] == "http.response.start"]
        assert len(starts) == 1, self.sent
        return starts[0]["status"]

    @property
    def headers(self) -> dict[str, str]:
        start = next(m for m in self.sent if m["type"] == "http.response.start")
        return {k.decode().lower(): v.decode() for k, v in start["headers"]}

    def json(self) -> Any:
        return json.loads(b"".join(m.get("body", b"") for m in self.sent if m["type"] == "http.response.body"))


def _scope(method: str, path: str, headers: dict[str, str]) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }


Call = Callable[[str, str, dict[str, str], Server], Awaitable[Server]]


@pytest.fixture
def calls() -> list[str]:
    return []


@pytest.fixture
def call(calls: list[str]) -> Call:
    app = _app(calls)

    async def run(method: str, path: str, headers: dict[str, str], server: Server) -> Server:
        await app(_scope(method, path, headers), server.receive, server.send)
        return server

    return run


CHUNKED = {"transfer-encoding": "chunked", "content-type": "application/json"}


def _assert_refused_at(server: Server, limit: int, error: dict[str, str], calls: list[str]) -> None:
    """413 with `error`, the connection closed, the app never called, and the body read up to the
    message that passed `limit`, and not one more."""
    assert server.status == 413
    assert server.json() == {"error": error}
    assert server.headers["connection"] == "close"
    assert limit < server.pulled <= limit + MESSAGE_BYTES
    assert calls == []


@pytest.mark.asyncio
async def test_endless_chunked_json_is_refused_at_the_limit(call: Call, calls: list[str]) -> None:
    server = await call("PUT", "/api/profile", CHUNKED, Server(endless=True))
    error = {"code": "payload_too_large", "message": f"request body exceeds the {MAX_JSON} byte limit"}
    _assert_refused_at(server, MAX_JSON, error, calls)


@pytest.mark.asyncio
async def test_endless_chunked_upload_is_refused_at_the_limit(call: Call, calls: list[str]) -> None:
    boundary = "b0undary"
    headers = {"transfer-encoding": "chunked", "content-type": f"multipart/form-data; boundary={boundary}"}
    prefix = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.pdf"\r\n'
        "Content-Type: application/pdf\r\n\r\n"
    ).encode()

    class Upload(Server):
        async def receive(self) -> dict[str, Any]:
            message = await super().receive()
            if self.pulled == MESSAGE_BYTES:
                message["body"] = prefix + message["body"][len(prefix):]
            return message

    server = await call("POST", "/api/medical-records/upload", headers, Upload(endless=True))
    error = {"code": "file_too_large", "message": f"file exceeds the {MAX_UPLOAD} byte limit"}
    _assert_refused_at(server, UPLOAD_LIMIT, error, calls)


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("path", "limit", "code"),
    [
        ("/api/profile", MAX_JSON, "payload_too_large"),
        ("/api/medical-records/upload", UPLOAD_LIMIT, "file_too_large"),
        ("/api/medical-records/doctor/upload", UPLOAD_LIMIT, "file_too_large"),
    ],
)
async def test_declared_length_over_the_limit_is_refused_unread(call: Call, path: str, limit: int, code: str) -> None:
    server = await call("POST", path, {"content-length": str(limit + 1), "expect": "100-continue"}, Server(b"x" * (limit + 1)))
    assert server.status == 413
    assert server.json()["error"]["code"] == code
    assert server.headers["connection"] == "close"
    assert server.pulled == 0


@pytest.mark.asyncio
@pytest.mark.parametrize("chunked", [True, False])
async def test_json_body_of_exactly_the_limit_is_served(call: Call, calls: list[str], chunked: bool) -> None:
    overhead = len(json.dumps({"displayName": ""}))
    body = json.dumps({"displayName": "n" * (MAX_JSON - overhead)}).encode()
    assert len(body) == MAX_JSON
    headers = CHUNKED if chunked else {"content-type": "application/json", "content-length": str(len(body))}
    server = await call("PUT", "/api/profile", headers, Server(body))
    assert server.status == 200, server.json()
    assert server.json() == {"length": MAX_JSON - overhead}
    assert "connection" not in server.headers
    assert calls == ["profile"]


@pytest.mark.asyncio
async def test_a_body_one_byte_over_is_refused(call: Call, calls: list[str]) -> None:
    server = await call("PUT", "/api/profile", CHUNKED, Server(b" " * (MAX_JSON + 1)))
    assert server.status == 413
    assert calls == []


@pytest.mark.asyncio
async def test_chunked_body_left_unread_closes_the_connection(call: Call) -> None:
    """An answer before the end of a chunked body (here a 404) must not let the server read the rest."""
    server = await call("POST", "/api/nowhere", CHUNKED, Server(endless=True))
    assert server.status == 404
    assert server.headers["connection"] == "close"
    assert server.pulled == 0


@pytest.mark.asyncio
async def test_response_already_started_is_cut_short_not_replaced(calls: list[str]) -> None:
    """An app that answers while it reads: once over the limit nothing more is sent, and no second start."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        while True:
            message = await receive()
            await send({"type": "http.response.body", "body": b".", "more_body": True})
            if not message.get("more_body"):
                break

    guarded = BodyLimitMiddleware(app, **BodyLimitMiddleware.limits(Settings(max_json_body_bytes=MAX_JSON)))
    server = Server(endless=True)
    await guarded(_scope("POST", "/api/stream", CHUNKED), server.receive, server.send)
    assert server.status == 200
    assert server.pulled <= MAX_JSON + MESSAGE_BYTES
    assert len(server.sent) == 1 + MAX_JSON // MESSAGE_BYTES  # start, then one body per message under the limit


@pytest.mark.asyncio
async def test_other_scopes_pass_through() -> None:
    seen: list[str] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        seen.append(scope["type"])

    guarded = BodyLimitMiddleware(app, **BodyLimitMiddleware.limits(Settings()))
    await guarded({"type": "lifespan"}, None, None)  # type: ignore[arg-type]
    assert seen == ["lifespan"]


def test_limits_follow_the_settings() -> None:
    limits = BodyLimitMiddleware.limits(Settings(max_upload_bytes=1000, max_json_body_bytes=10))
    assert limits["upload"].max_bytes == 1000 + 64 * 1024
    assert (limits["upload"].code, limits["upload"].message) == ("file_too_large", "file exceeds the 1000 byte limit")
    assert limits["default"].max_bytes == 10
    assert limits["default"].code == "payload_too_large"
