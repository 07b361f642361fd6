"""A local MongoDB-wire server (SecantusDB) for tests and `make run`.

There is no mongod on these machines; SecantusDB speaks the MongoDB wire protocol on WiredTiger and
runs as a separate process, so the backend talks to it exactly as to real MongoDB. Production sets
MONGODB_URI instead. SecantusDB is GPL-2.0 and beta: a dev/test dependency only, never imported.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from .ports import port_free
from .process import (
    ManagedProcess, PortConflictError, free_port, port_open, start_retrying_port_conflicts,
)

START_TIMEOUT_SECONDS = 30.0
# SecantusDB flushes WiredTiger on SIGTERM and takes about 5 s to exit.
STOP_TIMEOUT_SECONDS = 20.0
# A port chosen here can be taken before the server binds it: start again on a new one.
START_ATTEMPTS = 3


def _server_command() -> str:
    """`secantusd-py` from the running interpreter's environment (the project venv)."""
    candidate = Path(sys.executable).parent / "secantusd-py"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("secantusd-py")
    if not found:
        raise RuntimeError("secantusd-py not found: run `make install` (SecantusDB is in requirements.txt)")
    return found


class SecantusServer:
    """Starts SecantusDB on 127.0.0.1 with its data in `storage_dir` (kept across restarts)."""

    def __init__(self, storage_dir: Path, port: int | None = None, log_path: Path | None = None) -> None:
        self.storage_dir = Path(storage_dir)
        self._port_given = port is not None
        self.port = port or free_port()
        self._log_path = log_path or self.storage_dir.parent / "secantus.log"
        self._process: ManagedProcess | None = None

    @property
    def pid(self) -> int | None:
        """The server's process id while it runs (benchmarks read its CPU time from /proc)."""
        return self._process.pid if self._process is not None else None

    @property
    def uri(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}/?directConnection=true"

    def start(self) -> "SecantusServer":
        """Launch the server and wait until it accepts connections.

        A port this class chose may be taken before the server binds it; the server then exits
        saying so, and is started again on a new port (at most START_ATTEMPTS times). A port the
        caller gave is never swapped.
        """
        self.storage_dir.mkdir(parents=True, exist_ok=True)
        return start_retrying_port_conflicts(self._launch, 1 if self._port_given else START_ATTEMPTS)

    def _launch(self) -> "SecantusServer":
        """One try; a chosen port taken since it was chosen is chosen again first."""
        if not self._port_given and not port_free("127.0.0.1", self.port):
            self.port = free_port()
        self._process = ManagedProcess(self._command(), log_path=self._log_path, name="secantusdb").start()
        try:
            self._process.wait_ready(
                lambda: port_open("127.0.0.1", self.port),
                timeout=START_TIMEOUT_SECONDS,
                description=f"SecantusDB to accept connections on port {self.port}",
            )
        except PortConflictError:
            self.stop()
            if not self._port_given:  # the next try's port (a given one is never retried, nor swapped)
                self.port = free_port()
            raise
        return self

    def _command(self) -> list[str]:
        return [
            _server_command(),
            "--host", "127.0.0.1",
            "--port", str(self.port),
            "--storage-path", str(self.storage_dir),
            "--cache-size", "64M",
        ]

    def stop(self) -> None:
        if self._process is not None:
            self._process.stop(timeout=STOP_TIMEOUT_SECONDS)
            self._process = None

    def __enter__(self) -> "SecantusServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
