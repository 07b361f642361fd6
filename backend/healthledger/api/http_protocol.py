"""The HTTP/1.1 connection protocol the API is served with: uvicorn's, answering unparseable requests in JSON.

A request the HTTP parser cannot read (a broken request line, a bad header, broken chunked framing)
never reaches the app, so none of the app's error handlers can answer it: uvicorn writes a plain-text
400 itself (`send_400_response`). Clients of this API parse `{"error": {"code", "message"}}` from
every 4xx; this subclass writes that shape instead, with the same status, `Connection: close` and
uvicorn's default headers (`server`, `date`).

Why a subclass of a private method: uvicorn has no hook for this answer, and a proxy in front would
only move the problem. uvicorn is pinned by requirements.lock, and tests/backend/test_malformed_http.py
fails if an upgrade stops calling this method.
Every launch of the API selects it: `uvicorn --http` with `UVICORN_HTTP` (serving.py builds the
command), or `http=` with the class for an in-process server.
"""

from __future__ import annotations

import json

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from ..errors import error_body

__all__ = ["MALFORMED_REQUEST_BODY", "UVICORN_HTTP", "JsonErrorHttpProtocol"]

# What `uvicorn --http` takes to select the protocol below.
UVICORN_HTTP = f"{__name__}:JsonErrorHttpProtocol"

MALFORMED_REQUEST_BODY = json.dumps(
    error_body(
        "malformed_http_request",
        "the request is not valid HTTP/1.1 (request line, headers or chunked framing); nothing was processed",
    ),
    separators=(",", ":"),
).encode()


class JsonErrorHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol (its C parser: what uvicorn picks by itself when httptools is
    installed), with the parser's 400 in the API's JSON error shape."""

    def send_400_response(self, msg: str) -> None:
        """Answer 400 `malformed_http_request` and close. `msg` is uvicorn's fixed text, already
        logged by the caller; the body never echoes the request's bytes.

        If the app already started answering (the parser failed later in the same connection, e.g.
        in a pipelined request), another status line would corrupt the stream: the connection is
        only closed, as an HTTP server must when it cannot frame what follows."""
        cycle = self.cycle
        if cycle is not None and cycle.response_started and not cycle.response_complete:
            self.transport.close()
            return
        head = [b"HTTP/1.1 400 Bad Request\r\n"]
        for name, value in self.server_state.default_headers:
            head.append(name + b": " + value + b"\r\n")
        head.append(b"content-type: application/json\r\n")
        head.append(b"content-length: " + str(len(MALFORMED_REQUEST_BODY)).encode("ascii") + b"\r\n")
        head.append(b"connection: close\r\n\r\n")
        self.transport.write(b"".join(head) + MALFORMED_REQUEST_BODY)
        self.transport.close()
