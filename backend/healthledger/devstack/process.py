"""Small helpers to run local dev/test servers (IPFS, Anvil, SecantusDB, ...) as child processes.

Typical use::

    port = free_port()
    with ManagedProcess(["anvil", "--port", str(port)], name="anvil", log_path=tmp / "anvil.log") as proc:
        proc.wait_ready(lambda: port_open("127.0.0.1", port), timeout=10)
        ...

Readiness is always polled against a deadline (`wait_until`), never assumed after a fixed sleep.
"""

from __future__ import annotations

import atexit
import os
import random
import re
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, TypeVar

from .ports import port_free

T = TypeVar("T")

__all__ = [
    "ManagedProcess", "PortConflictError", "ProcessExitedError", "free_port", "port_open",
    "start_retrying_port_conflicts", "wait_until",
]


# Ports free_port() hands out start here and end where the kernel's ephemeral range begins.
LOWEST_FREE_PORT = 20000
_EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
# Log lines of a server that could not listen: Python, Rust (Anvil) and Node (js-ipfs) spell it so.
_PORT_CONFLICT = re.compile(r"EADDRINUSE|address already in use", re.IGNORECASE)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port a server could listen on now, chosen at random below the kernel's ephemeral range.

    Why not bind(0), which lets the kernel pick: it picks from the ephemeral range, the range every
    outgoing connection on the machine takes its local port from. Between this call and the server's
    own bind (seconds, for SecantusDB or js-ipfs), any client connection (the API's, a browser's,
    another test stack's) may take that port, or leave it in TIME_WAIT for a minute, and the server
    then cannot listen. Below that range a port is only ever taken by an explicit bind, so only
    another caller of this function can race us, and it picks at random too. Still "free a moment
    ago" only: servers started on it retry on a conflict (`ManagedProcess.reports_port_conflict`).
    """
    first_ephemeral = _first_ephemeral_port()
    if first_ephemeral - LOWEST_FREE_PORT >= 1000:
        for _ in range(200):
            port = random.randrange(LOWEST_FREE_PORT, first_ephemeral)
            if port_free(host, port):
                return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:  # an unusual range: let the OS pick
        sock.bind((host, 0))
        return sock.getsockname()[1]


def _first_ephemeral_port() -> int:
    """The start of the kernel's ephemeral port range (Linux's default 32768 where /proc says nothing)."""
    try:
        return int(_EPHEMERAL_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    """Whether something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_until(
    predicate: Callable[[], T],
    timeout: float,
    interval: float = 0.05,
    *,
    description: str = "condition",
) -> T:
    """Call `predicate` until it returns a truthy value, and return that value.

    Raises TimeoutError after `timeout` seconds. Exceptions raised by `predicate` propagate (so a
    predicate can abort the wait early, e.g. when the process it waits for has exited).
    """
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"timed out after {timeout:.1f} s waiting for {description}")
        time.sleep(min(interval, remaining))


class ProcessExitedError(RuntimeError):
    """The child process exited while we waited for it to become ready."""


class PortConflictError(ProcessExitedError):
    """The child said it could not listen on its port, so it will never become ready.

    A kind of ProcessExitedError for its handlers' sake, though the child may still run: js-ipfs logs
    EADDRINUSE and hangs. Whoever waited stops it, and may start it again on another port.
    """


def start_retrying_port_conflicts(
    start_once: Callable[[], T], attempts: int, retry_on: type[ProcessExitedError] = PortConflictError
) -> T:
    """Call `start_once` until it returns, at most `attempts` times; a `retry_on` error means "again".

    `start_once` chooses its ports, launches, waits until ready, and stops what it launched when that
    fails. A port from free_port() can be taken before the server binds it, so such a start is tried
    again on new ports (pass attempts=1 for a port the caller gave: it is never swapped).
    """
    for attempt in range(1, attempts + 1):
        try:
            return start_once()
        except retry_on:
            if attempt == attempts:
                raise
    raise AssertionError("unreachable")


class ManagedProcess:
    """A child process with its output in a log file, stopped with SIGTERM then SIGKILL.

    The child runs in its own session (process group), so `stop` also reaches its children and a
    Ctrl-C in the terminal does not kill it before the parent's clean-up runs. Processes still
    running when the interpreter exits are stopped by an atexit hook.
    """

    def __init__(
        self,
        args: Sequence[str | os.PathLike[str]],
        *,
        name: str | None = None,
        env: Mapping[str, str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
        log_path: str | os.PathLike[str] | None = None,
    ) -> None:
        self.args = [os.fspath(a) for a in args]
        self.name = name or Path(self.args[0]).name
        self.env = dict(env) if env is not None else None
        self.cwd = cwd
        self.log_path = Path(log_path) if log_path is not None else None
        self._popen: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._log_start = 0  # where this run's output begins in a log shared with earlier runs

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> ManagedProcess:
        if self._popen is not None:
            raise RuntimeError(f"{self.name} was already started")
        if self.log_path is None:
            fd, path = tempfile.mkstemp(prefix=f"{self.name}-", suffix=".log")
            os.close(fd)
            self.log_path = Path(path)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self._log_start = self._log.tell()
        try:
            # Its own session (process group): `stop` reaches its children, a terminal's Ctrl-C does not.
            self._popen = subprocess.Popen(
                self.args, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
                env=self.env, cwd=self.cwd, start_new_session=True,
            )
        except BaseException:
            self._log.close()
            self._log = None
            raise
        _running.add(self)
        return self

    @property
    def pid(self) -> int | None:
        return self._popen.pid if self._popen is not None else None

    @property
    def returncode(self) -> int | None:
        return self._popen.poll() if self._popen is not None else None

    def is_running(self) -> bool:
        return self._popen is not None and self._popen.poll() is None

    def wait_ready(
        self, probe: Callable[[], T], timeout: float, interval: float = 0.05, *, description: str | None = None
    ) -> T:
        """Poll `probe` until it is truthy; fail early, with the log's tail, if the process exits or
        says it cannot listen (PortConflictError)."""
        what = description or f"{self.name} to become ready"

        def check() -> T:
            if self.reports_port_conflict():
                raise PortConflictError(
                    f"{self.name} could not listen on its port while waiting for {what}; "
                    f"log {self.log_path}:\n{self.log_tail()}"
                )
            if not self.is_running():
                raise ProcessExitedError(
                    f"{self.name} exited with code {self.returncode} while waiting for {what}; "
                    f"log {self.log_path}:\n{self.log_tail()}"
                )
            return probe()

        try:
            return wait_until(check, timeout, interval, description=what)
        except TimeoutError as exc:
            raise TimeoutError(f"{exc}; log {self.log_path}:\n{self.log_tail()}") from None

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM the process group, wait up to `timeout` s, then SIGKILL. Returns the exit code."""
        popen = self._popen
        if popen is None:
            return None
        if self not in _running:  # already stopped: never signal a process group id twice
            return popen.returncode
        try:
            if popen.poll() is None:
                self._signal(signal.SIGTERM)
                try:
                    popen.wait(timeout)
                except subprocess.TimeoutExpired:
                    self._signal(signal.SIGKILL)
                    popen.wait(5)
            else:
                # The leader died by itself; make sure nothing it started lingers in its group.
                self._signal(signal.SIGKILL)
            return popen.returncode
        finally:
            _running.discard(self)
            if self._log is not None:
                self._log.close()
                self._log = None

    def _signal(self, sig: signal.Signals) -> None:
        assert self._popen is not None
        try:
            os.killpg(self._popen.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def log_tail(self, max_bytes: int = 4000) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        with open(self.log_path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - max_bytes))
            return f.read().decode(errors="replace")

    def reports_port_conflict(self) -> bool:
        """Whether this run's output says it could not listen on its port.

        Only this run's: a log shared with an earlier run that met a conflict does not count.
        """
        if self.log_path is None or not self.log_path.exists():
            return False
        with open(self.log_path, "rb") as f:
            f.seek(self._log_start)
            return bool(_PORT_CONFLICT.search(f.read().decode(errors="replace")))

    def __enter__(self) -> ManagedProcess:
        if self._popen is None:
            self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.is_running() else f"exited {self.returncode}" if self._popen else "not started"
        return f"<ManagedProcess {self.name} pid={self.pid} {state}>"


# Strong references: a process nobody stopped is still stopped at exit, even if its object was dropped.
_running: set[ManagedProcess] = set()


@atexit.register
def _stop_leftovers() -> None:
    for proc in list(_running):
        proc.stop(timeout=5)
