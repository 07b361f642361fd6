"""The API's HTTP protocol (api/http_protocol.py) and the command line that selects it (serving.py),
without a server: a fake transport records what the protocol writes.

The answers over real sockets are in tests/backend/test_malformed_http.py."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from uvicorn.config import Config
from uvicorn.importer import import_from_string
from uvicorn.server import ServerState

from healthledger.api.http_protocol import UVICORN_HTTP, JsonErrorHttpProtocol
from healthledger.serving import APP_FACTORY, uvicorn_command


class RecordingTransport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.written = bytearray()
        self.closed = False

    def write(self, data: Any) -> None:
        self.written += data

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 50000), "sockname": ("127.0.0.1", 8000)}.get(name, default)


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


def connected_protocol(loop: asyncio.AbstractEventLoop) -> tuple[JsonErrorHttpProtocol, RecordingTransport]:
    async def app(scope: Any, receive: Any, send: Any) -> None:  # never reached: the parser refuses first
        raise AssertionError("the app saw an unparseable request")

    config = Config(app, http=JsonErrorHttpProtocol)
    config.load()
    state = ServerState()
    state.default_headers = [(b"server", b"uvicorn")]
    protocol = JsonErrorHttpProtocol(config, state, app_state={}, _loop=loop)
    transport = RecordingTransport()
    protocol.connection_made(transport)
    return protocol, transport


def test_garbage_is_answered_with_the_json_error_and_the_connection_closed(loop: asyncio.AbstractEventLoop) -> None:
    protocol, transport = connected_protocol(loop)
    protocol.data_received(b"NOT HTTP\r\n\r\n")
    head, _, body = bytes(transport.written).partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    assert lines[0] == "HTTP/1.1 400 Bad Request"
    assert {"server: uvicorn", "content-type: application/json", "connection: close",
            f"content-length: {len(body)}"} <= set(lines[1:])
    assert json.loads(body)["error"]["code"] == "malformed_http_request"
    assert transport.closed


def test_a_response_already_under_way_is_not_followed_by_a_second_status_line(
    loop: asyncio.AbstractEventLoop,
) -> None:
    protocol, transport = connected_protocol(loop)
    protocol.cycle = SimpleNamespace(response_started=True, response_complete=False)  # type: ignore[assignment]
    protocol.send_400_response("Invalid HTTP request received.")
    assert transport.written == b"" and transport.closed


def test_every_launch_serves_the_app_with_this_protocol() -> None:
    command = uvicorn_command("127.0.0.1", 8123, workers=3, log_level="warning")
    assert command[command.index("--http") + 1] == UVICORN_HTTP
    assert import_from_string(UVICORN_HTTP) is JsonErrorHttpProtocol
    assert command[command.index("--factory") + 1] == APP_FACTORY
    assert command[command.index("--workers") + 1] == "3"
    assert "--workers" not in uvicorn_command("127.0.0.1", 8123)


@pytest.mark.parametrize("python_args", [(), ("-X", "importtime")])
def test_interpreter_options_come_before_the_module(python_args: tuple[str, ...]) -> None:
    command = uvicorn_command("127.0.0.1", 8123, python_args=python_args)
    assert command[1 : 1 + len(python_args)] == list(python_args)
    assert command[1 + len(python_args) : 3 + len(python_args)] == ["-m", "uvicorn"]
