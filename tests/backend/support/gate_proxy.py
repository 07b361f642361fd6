"""A TCP proxy in front of a service that can hold one request at a chosen point, for fault tests.

A fault "during an upload" must strike while the upload is in a known step, not whenever a sleep
happens to end. The API is pointed at this proxy instead of the service, and:

- `hold(marker)` stops the next request whose bytes contain `marker` (e.g. ``b"POST /api/v0/add"``)
  until `release()`: the test waits for `reached`, does its fault (stops a process), then lets the
  request go on to the service as it is now (perhaps gone);
- `hold(marker, answer=True)` also holds the service's answer to that request once it comes
  (`answered`), so the service has done the work but the client has not heard; `lose_answer()`
  then resets the client's connection instead of passing the answer on;
- `refuse()` / `accept()` close and reopen the proxy's own listening port, so a client sees a
  stopped service exactly as without the proxy: connection refused;
- `drop_connections()` closes the open connections (a client's kept-alive ones too), as a
  restarted service does, and `accepted` counts the connections clients opened;
- `count(marker)` starts counting the requests whose bytes contain `marker`, `seen(marker)` says
  how many went by since (whether they were answered or not).

Otherwise bytes go through unchanged, and a connection the service closes or resets is closed
for the client too. Hold only briefly: the held client's own timeouts keep running.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

CHUNK_BYTES = 65536
HOLD_LIMIT_SECONDS = 60.0


def _reset(sock: socket.socket) -> None:
    """Close with an RST (SO_LINGER 0): the peer sees a reset, not a clean end of stream.

    `shutdown(SHUT_RD)` first wakes the other pump thread blocked reading this socket (sending
    nothing): a close alone would wait for that read to end before the socket is released.
    """
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RD)
    with contextlib.suppress(OSError):
        sock.close()


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()


@dataclass(eq=False)  # hashed by identity: kept in a set
class _Connection:
    client: socket.socket
    upstream: socket.socket
    hold_answer: bool = False
    lose_answer: bool = False
    done: threading.Event = field(default_factory=threading.Event)


class GateProxy:
    """`GateProxy(upstream_port)`: listens on `port` (127.0.0.1) and forwards to the upstream port."""

    def __init__(self, upstream_port: int, host: str = "127.0.0.1") -> None:
        self.host = host
        self.upstream_port = upstream_port
        self._lock = threading.Lock()
        self._marker: bytes | None = None
        self._counted: dict[bytes, int] = {}
        self._hold_answer = False
        self._lose_answer = False
        self.reached = threading.Event()
        self.answered = threading.Event()
        self._released = threading.Event()
        self._answer_released = threading.Event()
        self._released.set()
        self._answer_released.set()
        self._connections: set[_Connection] = set()
        self.accepted = 0  # client connections accepted so far (a client that keeps its connections alive opens few)
        self._closed = False
        self._listener: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self.port = 0
        self.accept()

    # -- the listening port ------------------------------------------------------------------------

    def accept(self) -> None:
        """(Re)open the listening port (the same one after a `refuse()`)."""
        if self._listener is not None:
            return
        self._listener = socket.create_server((self.host, self.port))  # SO_REUSEADDR on POSIX
        self.port = self._listener.getsockname()[1]
        self._thread = threading.Thread(
            target=self._accept_loop, args=(self._listener,), name=f"gate-proxy-{self.port}", daemon=True
        )
        self._thread.start()

    def refuse(self) -> None:
        """Close the listening port: new connections are refused, as by a stopped service."""
        listener, self._listener = self._listener, None
        if listener is not None:
            _close(listener)
        if self._thread is not None:
            self._thread.join(timeout=5.0)
            self._thread = None

    # -- the gate ----------------------------------------------------------------------------------

    @contextlib.contextmanager
    def hold(self, marker: bytes, *, answer: bool = False) -> Iterator[GateProxy]:
        """Hold the next request containing `marker` until `release()` (and, with `answer`, its
        answer until `pass_answer()` or `lose_answer()`); everything goes on when the block ends."""
        with self._lock:
            self._marker = marker
            self._hold_answer = answer
            self._lose_answer = False
            self.reached.clear()
            self.answered.clear()
            self._released.clear()
            self._answer_released.clear()
        try:
            yield self
        finally:
            with self._lock:
                self._marker = None
            self._released.set()
            self._answer_released.set()

    def count(self, marker: bytes) -> None:
        """Count from now on the requests containing `marker` (from zero again if already counted)."""
        with self._lock:
            self._counted[marker] = 0

    def seen(self, marker: bytes) -> int:
        """How many requests containing `marker` reached the proxy since `count(marker)`."""
        with self._lock:
            return self._counted[marker]

    @staticmethod
    def _wait(event: threading.Event, timeout: float, what: str) -> None:
        if not event.wait(timeout):
            raise TimeoutError(f"{what} within {timeout:g} s")

    def wait_reached(self, timeout: float) -> None:
        self._wait(self.reached, timeout, "no request reached the gate")

    def wait_answered(self, timeout: float) -> None:
        self._wait(self.answered, timeout, "the service did not answer the held request")

    def release(self) -> None:
        """Let the held request go on."""
        self._released.set()

    def pass_answer(self) -> None:
        self._answer_released.set()

    def lose_answer(self) -> None:
        """The held answer never reaches the client: its connection is reset instead."""
        self._lose_answer = True
        self._answer_released.set()

    # -- plumbing ----------------------------------------------------------------------------------

    def _accept_loop(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        with self._lock:
            self.accepted += 1
        try:
            upstream = socket.create_connection((self.host, self.upstream_port), timeout=5.0)
        except OSError:
            _reset(client)  # the service went away between our accept and this connect
            return
        upstream.settimeout(None)
        connection = _Connection(client, upstream)
        with self._lock:
            if self._closed:
                _close(client)
                _close(upstream)
                return
            self._connections.add(connection)
        back = threading.Thread(target=self._pump_answers, args=(connection,), daemon=True)
        back.start()
        self._pump_requests(connection)
        back.join()
        with self._lock:
            self._connections.discard(connection)

    def _pump_requests(self, connection: _Connection) -> None:
        try:
            while data := connection.client.recv(CHUNK_BYTES):
                self._maybe_hold_request(connection, data)
                connection.upstream.sendall(data)
        except OSError:
            pass
        finally:
            _close(connection.upstream)
            if not connection.hold_answer:
                _close(connection.client)

    def _pump_answers(self, connection: _Connection) -> None:
        reset = False
        try:
            while data := connection.upstream.recv(CHUNK_BYTES):
                if connection.hold_answer:
                    connection.hold_answer = False
                    self.answered.set()
                    self._answer_released.wait(HOLD_LIMIT_SECONDS)
                    if self._lose_answer:
                        reset = True
                        break
                connection.client.sendall(data)
        except OSError:
            reset = True
        finally:
            # The service closed or reset the connection (or its answer is lost): so does the client's.
            if reset:
                _reset(connection.client)
            else:
                _close(connection.client)
            _close(connection.upstream)

    def _maybe_hold_request(self, connection: _Connection, data: bytes) -> None:
        with self._lock:
            for counted in self._counted:
                self._counted[counted] += counted in data
            marker = self._marker
            if marker is None or marker not in data:
                return
            self._marker = None  # only the first matching request is held
            connection.hold_answer = self._hold_answer
            self.reached.set()
        self._released.wait(HOLD_LIMIT_SECONDS)

    def drop_connections(self) -> None:
        """Close every open connection at both ends (as a restarted service or an idle timeout does);
        the port keeps accepting new ones."""
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            _close(connection.upstream)
            _close(connection.client)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            connections = list(self._connections)
            self._connections.clear()
        self._released.set()
        self._answer_released.set()
        self.refuse()
        for connection in connections:
            _close(connection.client)
            _close(connection.upstream)
