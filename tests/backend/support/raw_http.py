"""A raw-socket HTTP/1.1 client for streaming a large body while watching for the server's answer.

httpx (like most clients) writes the whole body before it reads, and may fail with a write error
once the server answered and closed: the answer is lost, and so is how much was sent before it.
This client interleaves: it sends whenever the socket is writable, reads whenever it is readable,
stops sending as soon as a response arrives, and reports how many body bytes the socket had
accepted by then (an upper bound on what the server read: the rest sat in kernel buffers).
"""

from __future__ import annotations

import json
import os
import selectors
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

CHUNK_BYTES = 64 * 1024


@dataclass
class StreamOutcome:
    """What happened to one streamed request."""

    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    interim: list[int] = field(default_factory=list)  # 1xx statuses seen before the final answer
    body_bytes_sent: int = 0  # body bytes on the wire (chunk framing included) the socket accepted
    seconds_to_answer: float | None = None  # from the first header byte sent to the whole answer read
    server_closed: bool = False  # EOF or reset seen after the answer (or instead of one)
    gave_up: bool = False  # stopped sending at `give_up_after` bytes with no answer yet

    def json(self) -> Any:
        return json.loads(self.body)


def stream_request(
    base_url: str,
    method: str,
    path: str,
    *,
    body_bytes: int,
    headers: Mapping[str, str] | None = None,
    chunked: bool = True,
    content_length: int | None = None,
    send_body: bool = True,
    give_up_after: int | None = None,
    timeout: float = 60.0,
    answer_wait_after_give_up: float = 5.0,
    close_timeout: float = 10.0,
    prefix: bytes = b"",
) -> StreamOutcome:
    """Send `method path` with a body of `body_bytes` (`prefix`, then random bytes), chunked or not.

    `content_length` is the declared length (default: `body_bytes` when not chunked); `send_body=False`
    sends the head only and waits for the answer. Sending stops at the answer, or after `give_up_after`
    body bytes (then the answer is awaited `answer_wait_after_give_up` seconds more). After the answer,
    waits up to `close_timeout` for the server to close. Whatever the server does, this returns: with
    `status=None` when no answer came within `timeout`.
    """
    target = urlsplit(base_url)
    host, port = target.hostname or "127.0.0.1", target.port or 80
    head = [f"{method} {path} HTTP/1.1", f"Host: {host}:{port}"]
    for name, value in (headers or {}).items():
        head.append(f"{name}: {value}")
    if chunked:
        head.append("Transfer-Encoding: chunked")
    else:
        head.append(f"Content-Length: {content_length if content_length is not None else body_bytes}")
    outgoing = bytearray(("\r\n".join(head) + "\r\n\r\n").encode())
    head_size = len(outgoing)

    outcome = StreamOutcome()
    payload_left = body_bytes if send_body else 0
    pending_prefix = prefix
    random_block = os.urandom(CHUNK_BYTES)
    finished_body = not send_body
    sent_total = 0
    received = bytearray()
    began = time.monotonic()
    deadline = began + timeout

    sock = socket.create_connection((host, port), timeout=timeout)
    sock.setblocking(False)
    selector = selectors.DefaultSelector()
    selector.register(sock, selectors.EVENT_READ)
    try:
        while outcome.status is None:
            if not outgoing and not finished_body:
                if give_up_after is not None and sent_total - head_size >= give_up_after:
                    outcome.gave_up = finished_body = True
                    deadline = min(deadline, time.monotonic() + answer_wait_after_give_up)
                elif payload_left > 0:
                    piece = pending_prefix[:CHUNK_BYTES] or random_block[: min(CHUNK_BYTES, payload_left)]
                    pending_prefix = pending_prefix[len(piece):]
                    payload_left -= len(piece)
                    outgoing += (f"{len(piece):x}\r\n".encode() + piece + b"\r\n") if chunked else piece
                else:
                    finished_body = True
                    if chunked and send_body:
                        outgoing += b"0\r\n\r\n"
            left = deadline - time.monotonic()
            if left <= 0:
                break
            selector.modify(sock, selectors.EVENT_READ | (selectors.EVENT_WRITE if outgoing else 0))
            for _, events in selector.select(timeout=left):
                if events & selectors.EVENT_READ:
                    try:
                        data = sock.recv(65536)
                    except (ConnectionResetError, BrokenPipeError):
                        data = b""
                    if not data:
                        outcome.server_closed = True
                        return _finish(outcome, sent_total, head_size)
                    received += data
                    _parse(received, outcome, began)
                if events & selectors.EVENT_WRITE and outgoing and outcome.status is None:
                    try:
                        count = sock.send(outgoing)
                    except BlockingIOError:
                        count = 0
                    except (BrokenPipeError, ConnectionResetError):
                        # The server closed: send nothing more, read what it answered (if anything).
                        outgoing.clear()
                        finished_body = True
                        count = 0
                    del outgoing[:count]
                    sent_total += count
        if outcome.status is not None:
            outcome.server_closed = _wait_closed(sock, time.monotonic() + close_timeout)
        return _finish(outcome, sent_total, head_size)
    finally:
        selector.close()
        sock.close()


def exchange_raw(base_url: str, raw: bytes, *, timeout: float = 10.0) -> StreamOutcome:
    """Send `raw` as it is (any bytes, valid HTTP or not) and read the answer, then whether the
    server closes the connection within `timeout`. `status=None` if no whole answer came in time."""
    target = urlsplit(base_url)
    outcome = StreamOutcome()
    received = bytearray()
    began = time.monotonic()
    with socket.create_connection((target.hostname or "127.0.0.1", target.port or 80), timeout=timeout) as sock:
        sock.sendall(raw)
        while outcome.status is None and time.monotonic() - began < timeout:
            try:
                data = sock.recv(65536)
            except (ConnectionResetError, BrokenPipeError, TimeoutError):
                data = b""
            if not data:
                outcome.server_closed = True
                break
            received += data
            _parse(received, outcome, began)
        if outcome.status is not None and not outcome.server_closed:
            sock.setblocking(False)
            outcome.server_closed = _wait_closed(sock, began + timeout)
    return outcome


def _finish(outcome: StreamOutcome, sent_total: int, head_size: int) -> StreamOutcome:
    outcome.body_bytes_sent = max(0, sent_total - head_size)
    return outcome


def _parse(buffer: bytearray, outcome: StreamOutcome, began: float) -> None:
    """Parse complete responses at the start of `buffer`: 1xx ones into `interim`, the final into `outcome`."""
    while outcome.status is None:
        end = buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        lines = bytes(buffer[:end]).decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if status < 200:
            outcome.interim.append(status)
            del buffer[: end + 4]
            continue
        length = int(headers.get("content-length", "0"))
        if len(buffer) < end + 4 + length:
            return
        outcome.status, outcome.headers = status, headers
        outcome.body = bytes(buffer[end + 4 : end + 4 + length])
        outcome.seconds_to_answer = time.monotonic() - began


def _wait_closed(sock: socket.socket, deadline: float) -> bool:
    """Whether the server closes the connection (EOF or reset) before `deadline`."""
    with selectors.DefaultSelector() as selector:
        selector.register(sock, selectors.EVENT_READ)
        while (left := deadline - time.monotonic()) > 0:
            if not selector.select(timeout=left):
                continue
            try:
                if not sock.recv(65536):
                    return True
            except (ConnectionResetError, BrokenPipeError):
                return True
            except BlockingIOError:
                continue
    return False
