"""Requests the HTTP parser cannot read get the API's JSON error, like every other 4xx.

They never reach the app, so uvicorn answers them itself: before api/http_protocol.py, with a
plain-text 400 ("Invalid HTTP request received."), which clients parsing `{"error": {...}}` choke on.
The server here is the session's API (in a thread, with the protocol every launch selects);
tests/backend/test_body_limit_http.py checks the same against the API run as its own process.
"""

from __future__ import annotations

import httpx
import pytest

from healthledger.api.http_protocol import MALFORMED_REQUEST_BODY

from .fixtures.api import ApiServer
from .support.raw_http import StreamOutcome, exchange_raw

UNPARSEABLE = {
    "not HTTP at all": b"THIS IS NOT HTTP\r\n\r\n",
    "a bad method": b"G@T /api/system/status HTTP/1.1\r\nHost: api\r\n\r\n",
    "a header without a colon": b"GET /api/system/status HTTP/1.1\r\nHost: api\r\nno colon here\r\n\r\n",
    "broken chunked framing": (
        b"POST /api/auth/nonce HTTP/1.1\r\nHost: api\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\nnot-a-size\r\n{}\r\n0\r\n\r\n"
    ),
}


def assert_json_400(answer: StreamOutcome) -> None:
    assert answer.status == 400, answer
    assert answer.headers.get("content-type") == "application/json"
    assert answer.json()["error"]["code"] == "malformed_http_request"
    assert answer.json()["error"]["message"]
    assert answer.headers.get("connection") == "close" and answer.server_closed


@pytest.mark.parametrize("raw", UNPARSEABLE.values(), ids=UNPARSEABLE.keys())
def test_an_unparseable_request_gets_a_json_400_and_a_closed_connection(api_server: ApiServer, raw: bytes) -> None:
    assert_json_400(exchange_raw(api_server.url, raw))


def test_the_answer_never_echoes_the_request(api_server: ApiServer) -> None:
    secret = b"0x" + b"ab" * 65  # as a wallet signature in a header would look
    answer = exchange_raw(api_server.url, b"GET / HTTP/1.1\r\nX-Signature " + secret + b"\r\n\r\n")
    assert_json_400(answer)
    assert answer.body == MALFORMED_REQUEST_BODY and secret not in answer.body


def test_the_server_goes_on_serving_after_refusing(api_server: ApiServer) -> None:
    for raw in UNPARSEABLE.values():
        assert_json_400(exchange_raw(api_server.url, raw))
    assert httpx.get(f"{api_server.url}/api/system/status", timeout=10.0, trust_env=False).status_code == 200
