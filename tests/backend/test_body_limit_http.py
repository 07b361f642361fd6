"""Body-size limits over real HTTP, against the API running as its own process (as `make run` runs it).

Huge bodies are streamed with chunked transfer encoding (no Content-Length to refuse up front) by a
raw-socket client that watches for the answer while it sends. A refusal must come while the client
is still sending: the client stops and fails the test once it has sent `SLACK` bytes beyond the limit
without an answer. The API's memory is read from /proc: its peak (VmHWM, reset after a warm-up) may
not grow by `MAX_RSS_GROWTH` while the body streams in.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Iterator
from typing import TypeVar

import httpx
import pytest

from tests.backend.fixtures.api_process import ApiProcess, ApiProcessLauncher, StartApiProcess

from .support.raw_http import StreamOutcome, exchange_raw, stream_request
from .support.records import upload, upload_form
from .support.wallet import Wallet

T = TypeVar("T")
MB = 1024 * 1024
MAX_UPLOAD = 2 * MB
UPLOAD_LIMIT = MAX_UPLOAD + 64 * 1024  # the file plus room for the multipart envelope and the other fields
JSON_LIMIT = 64 * 1024
SLACK = 64 * MB  # sent beyond the limit with no answer yet: the server is reading what it should refuse
MAX_RSS_GROWTH = 20 * MB
UPLOAD_PATH = "/api/medical-records/upload"


@pytest.fixture(scope="module")
def api(api_process_launcher: ApiProcessLauncher) -> Iterator[ApiProcess]:
    handle = api_process_launcher.start(max_upload_bytes=MAX_UPLOAD, max_json_body_bytes=JSON_LIMIT)
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture(scope="module")
def http(api: ApiProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=api.url, timeout=60.0, trust_env=False) as client:
        yield client


@pytest.fixture(scope="module")
def patient(http: httpx.Client) -> Wallet:
    wallet = Wallet.random()
    wallet.login(http)
    return wallet


def multipart_file_head(boundary: str) -> bytes:
    """The start of a multipart upload whose file part is the rest of the stream."""
    return (
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="file"; filename="huge.pdf"\r\n'
        "Content-Type: application/pdf\r\n\r\n"
    ).encode()


def measured(api: ApiProcess, action: Callable[[], T]) -> tuple[T, int, int]:
    """Run `action`; return its result, the API's peak RSS growth during it and its RSS growth after it."""
    api.reset_peak_rss()
    before = api.rss_bytes()
    result = action()
    return result, api.peak_rss_bytes() - before, api.rss_bytes() - before


def assert_refused(outcome: StreamOutcome, code: str, message: str, limit: int) -> None:
    assert outcome.status == 413, (
        f"no 413 while sending: status {outcome.status}, {outcome.body_bytes_sent} body bytes sent, "
        f"gave up: {outcome.gave_up}, body {outcome.body[:300]!r}"
    )
    assert outcome.json() == {"error": {"code": code, "message": message}}
    assert outcome.headers.get("connection") == "close"
    assert outcome.server_closed, "the server kept the connection open after the 413"
    assert outcome.body_bytes_sent < limit + SLACK
    assert not outcome.gave_up


def report(label: str, outcome: StreamOutcome, peak_growth: int, growth: int) -> None:
    answer = (
        f"status {outcome.status} after {outcome.seconds_to_answer:.3f} s"
        if outcome.seconds_to_answer is not None
        else f"no answer (gave up: {outcome.gave_up})"
    )
    print(
        f"\n[measured] {label}: {outcome.body_bytes_sent} body bytes sent, {answer}, "
        f"peak RSS +{peak_growth / MB:.1f} MB, RSS after +{growth / MB:.1f} MB"
    )


def test_chunked_upload_of_300_mb_is_refused_while_it_streams(api: ApiProcess, patient: Wallet) -> None:
    boundary = secrets.token_hex(8)
    headers = {**patient.headers, "Content-Type": f"multipart/form-data; boundary={boundary}"}

    def send(total: int) -> StreamOutcome:
        return stream_request(
            api.url, "POST", UPLOAD_PATH, headers=headers, body_bytes=total,
            prefix=multipart_file_head(boundary), give_up_after=UPLOAD_LIMIT + SLACK,
        )

    send(UPLOAD_LIMIT + 4 * MB)  # warm-up: the same path once, so first-use allocations are not counted
    outcome, peak_growth, growth = measured(api, lambda: send(300 * MB))
    report("300 MB chunked upload", outcome, peak_growth, growth)
    assert_refused(outcome, "file_too_large", f"file exceeds the {MAX_UPLOAD} byte limit", UPLOAD_LIMIT)
    assert peak_growth < MAX_RSS_GROWTH
    assert api.is_running()


@pytest.mark.parametrize(
    ("method", "path", "signed_in"),
    [("PUT", "/api/profile", True), ("POST", "/api/auth/login", False)],
    ids=["profile", "login"],
)
def test_chunked_json_of_200_mb_is_refused_while_it_streams(
    api: ApiProcess, patient: Wallet, method: str, path: str, signed_in: bool
) -> None:
    headers = {"Content-Type": "application/json", **(patient.headers if signed_in else {})}

    def send(total: int) -> StreamOutcome:
        return stream_request(
            api.url, method, path, headers=headers, body_bytes=total,
            prefix=b'{"displayName": "', give_up_after=JSON_LIMIT + SLACK,
        )

    send(4 * MB)  # warm-up
    outcome, peak_growth, growth = measured(api, lambda: send(200 * MB))
    report(f"200 MB chunked JSON {method} {path}", outcome, peak_growth, growth)
    assert_refused(outcome, "payload_too_large", f"request body exceeds the {JSON_LIMIT} byte limit", JSON_LIMIT)
    assert peak_growth < MAX_RSS_GROWTH
    assert api.is_running()


@pytest.mark.parametrize(
    ("method", "path", "limit", "code"),
    [
        ("POST", UPLOAD_PATH, UPLOAD_LIMIT, "file_too_large"),
        ("PUT", "/api/profile", JSON_LIMIT, "payload_too_large"),
        ("POST", "/api/auth/login", JSON_LIMIT, "payload_too_large"),
    ],
    ids=["upload", "profile", "login"],
)
def test_declared_length_over_the_limit_is_refused_before_the_body_is_sent(
    api: ApiProcess, method: str, path: str, limit: int, code: str
) -> None:
    """Only the head goes out, with `Expect: 100-continue`: the answer is the 413, never a `100 Continue`."""
    outcome = stream_request(
        api.url, method, path, chunked=False, send_body=False, body_bytes=0, content_length=limit + 1,
        headers={"Content-Type": "application/json", "Expect": "100-continue"}, timeout=10.0,
    )
    assert outcome.status == 413, f"no answer without the body (status {outcome.status}, interim {outcome.interim})"
    assert outcome.interim == []
    assert outcome.json()["error"]["code"] == code
    assert outcome.headers.get("connection") == "close"
    assert outcome.server_closed
    assert outcome.body_bytes_sent == 0


def test_upload_of_exactly_the_limit_still_succeeds(http: httpx.Client, patient: Wallet) -> None:
    response = upload(http, patient, secrets.token_bytes(MAX_UPLOAD))
    assert response.status_code in (201, 202), response.text
    assert response.json()["size"] == MAX_UPLOAD


def test_chunked_upload_of_exactly_the_limit_still_succeeds(api: ApiProcess, http: httpx.Client, patient: Wallet) -> None:
    """The same upload streamed without a length: the multipart overhead fits in the 64 KiB allowance."""
    content = secrets.token_bytes(MAX_UPLOAD)
    request = http.build_request(
        "POST", UPLOAD_PATH, data=upload_form(http, patient, content),
        files={"file": ("exact.pdf", content, "application/pdf")}, headers=patient.headers,
    )
    body = request.read()
    assert MAX_UPLOAD < len(body) <= UPLOAD_LIMIT
    outcome = stream_request(
        api.url, "POST", UPLOAD_PATH, body_bytes=len(body), prefix=body,
        headers={**patient.headers, "Content-Type": request.headers["content-type"]}, timeout=90.0,
    )
    assert outcome.status in (201, 202), outcome.body[:500]
    assert outcome.json()["size"] == MAX_UPLOAD


@pytest.mark.parametrize("chunked", [True, False], ids=["chunked", "content-length"])
def test_json_body_of_exactly_the_limit_still_works(api: ApiProcess, patient: Wallet, chunked: bool) -> None:
    body = json.dumps({"displayName": "Body Limit", "published": False}).encode()
    body += b" " * (JSON_LIMIT - len(body))  # JSON allows trailing whitespace
    assert len(body) == JSON_LIMIT
    outcome = stream_request(
        api.url, "PUT", "/api/profile", body_bytes=len(body), prefix=body, chunked=chunked,
        headers={**patient.headers, "Content-Type": "application/json"}, close_timeout=0.5,
    )
    assert outcome.status == 200, outcome.body[:500]
    assert outcome.json()["display_name"] == "Body Limit"
    assert not outcome.server_closed  # kept alive: nothing was refused


def test_broken_chunked_framing_gets_the_json_error_from_the_process_make_run_starts(api: ApiProcess) -> None:
    """The command line every launcher uses (healthledger/serving.py) selects the API's HTTP protocol:
    the parser's 400 is JSON here too (tests/backend/test_malformed_http.py has the cases)."""
    answer = exchange_raw(
        api.url,
        f"POST {UPLOAD_PATH} HTTP/1.1\r\nHost: api\r\nTransfer-Encoding: chunked\r\n\r\nnot-a-size\r\n".encode(),
    )
    assert answer.status == 400 and answer.headers.get("content-type") == "application/json"
    assert answer.json()["error"]["code"] == "malformed_http_request"
    assert answer.server_closed


def test_start_api_process_applies_overrides_and_stops(start_api_process: StartApiProcess) -> None:
    """The fixture other tests reuse: its overrides reach the child, RSS is readable, stop() ends it."""
    small = start_api_process(max_json_body_bytes=1024)
    assert small.rss_bytes() > 10 * MB
    outcome = stream_request(
        small.url, "POST", "/api/auth/login", body_bytes=2048, headers={"Content-Type": "application/json"}
    )
    assert outcome.status == 413
    assert outcome.json()["error"]["message"] == "request body exceeds the 1024 byte limit"
    small.stop()
    assert not small.is_running()
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{small.url}/api/system/status", timeout=2.0, trust_env=False)
