"""The launcher's child processes: registered before they start, watched, stopped last first, reaped.

Why a module of its own: the rules that keep a dev machine free of orphans live here and nowhere
else. Each child runs in its own process group (see `process.ManagedProcess`); after a child stops,
its whole group is checked to be empty and killed if not. The lock file (`.data/stack.lock`, held
with flock for the run) names this process and its children's pids, so a second run on the same
data dir is refused, and a run that finds children of an earlier run that was SIGKILLed stops them
first (only pids that still lead their own group and name this data dir count).
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol

from .config import HOST, StackConfig, StackError
from .process import ManagedProcess
from .procfs import stat_fields

__all__ = ["Child", "Children", "anvil_url_of", "rotate_log"]

WATCH_INTERVAL_SECONDS = 0.25
LOG_TAIL_BYTES = 3000
LEFTOVER_STOP_SECONDS = 15.0


class _Service(Protocol):
    def stop(self) -> None: ...


@dataclass
class Child:
    """One service the stack starts (registered before it starts, so a signal never orphans it)."""

    name: str
    service: _Service

    @property
    def process(self) -> ManagedProcess | None:
        """The service's process once started (the devstack launchers keep it in `_process`)."""
        if isinstance(self.service, ManagedProcess):
            return self.service if self.service.pid is not None else None
        process = getattr(self.service, "_process", None)
        return process if isinstance(process, ManagedProcess) else None

    @property
    def pid(self) -> int | None:
        process = self.process
        return process.pid if process is not None else None

    def is_running(self) -> bool:
        process = self.process
        return process is not None and process.is_running()


def rotate_log(path: Path) -> Path:
    """Keep the previous run's log as `<name>.log.1`; each run starts a fresh log."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() and path.stat().st_size:
        os.replace(path, path.with_name(path.name + ".1"))
    return path


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    """Send `sig` to process group `pgid`; a group that is already gone is fine."""
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        pass


def _is_ours(pid: int, data_dir: Path) -> bool:
    """Whether `pid` is a live session leader (as our children are) that refers to `data_dir`."""
    proc = Path(f"/proc/{pid}")
    try:
        fields = stat_fields(pid)
        if fields[0] == "Z" or int(fields[3]) != pid:  # zombie, or not its own session leader
            return False
        marker = str(data_dir).encode()
        if marker in (proc / "cmdline").read_bytes() or marker in (proc / "environ").read_bytes():
            return True
        return Path(os.readlink(proc / "cwd")) == data_dir
    except (OSError, IndexError, ValueError):
        return False


def anvil_url_of(pid: int) -> str | None:
    """The RPC URL of the Anvil process `pid`, from its command line (`--host H --port P`)."""
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return None
    options = dict(zip(args, args[1:], strict=False))
    port = options.get("--port", "")
    return f"http://{options.get('--host', HOST)}:{port}" if port.isdigit() else None


def _zombie_only_group(pgid: int) -> bool:
    """True when every process left in group `pgid` is a zombie (exited, not yet reaped)."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat_fields(stat.parent.name)
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return False
    return True


class Children:
    """The stack's children in start order, and the lock file that names them."""

    def __init__(self, config: StackConfig, say: Callable[[str], None]) -> None:
        self.config = config
        self.say = say
        self._items: list[Child] = []
        self._lock_file: IO[str] | None = None
        self._previous: dict[str, int] = {}
        self._mutex = threading.Lock()  # services start in threads too (js-ipfs)

    def __iter__(self) -> Iterator[Child]:
        return iter(list(self._items))

    def __bool__(self) -> bool:
        return bool(self._items)

    # -- the lock file ------------------------------------------------------------------------------

    @property
    def locked(self) -> bool:
        return self._lock_file is not None

    def acquire_lock(self) -> None:
        """Hold `stack.lock` for this run; StackError when another run holds it."""
        path = self.config.files.lock
        handle = open(path, "a+", encoding="utf-8")  # noqa: SIM115 - held until release_lock()
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            try:
                holder = json.loads(handle.read() or "{}").get("pid")
            except ValueError:
                holder = None
            handle.close()
            who = f" (pid {holder})" if holder else ""
            raise StackError(
                f"another stack{who} is already running on {self.config.data_dir}: stop it first "
                f"(Ctrl-C in its terminal), or set HEALTHLEDGER_DATA_DIR to use another data directory"
            ) from None
        self._lock_file = handle
        handle.seek(0)
        try:
            previous = json.loads(handle.read() or "{}").get("children") or {}
        except ValueError:
            previous = {}
        self._previous = {str(k): int(v) for k, v in previous.items() if isinstance(v, int)}
        self._write_lock()

    def release_lock(self) -> None:
        if self._lock_file is not None:
            self._lock_file.seek(0)
            self._lock_file.truncate()
            self._lock_file.close()
            self._lock_file = None

    def _write_lock(self) -> None:
        """The lock file also says who runs and what it started (for `ps`-free checks and tests)."""
        with self._mutex:
            if self._lock_file is None:
                return
            state = {
                "pid": os.getpid(),
                "url": self.config.url if self.config.start_api else None,
                "children": {child.name: child.pid for child in self._items if child.pid is not None},
            }
            self._lock_file.seek(0)
            self._lock_file.truncate()
            self._lock_file.write(json.dumps(state) + "\n")
            self._lock_file.flush()

    def stop_leftovers(self, before_stopping: dict[str, Callable[[int], None]]) -> None:
        """Stop children of an earlier run on this data dir that outlived it (it was SIGKILLed).

        The lock file lists them; a pid counts as a leftover only if it still leads its own process
        group and its command line, environment or working directory names this data dir.
        `before_stopping[name](pid)` runs first for a leftover of that name (Anvil: save its chain).
        """
        leftovers = {name: pid for name, pid in self._previous.items() if _is_ours(pid, self.config.data_dir)}
        if not leftovers:
            return
        listed = ", ".join(f"{name} (pid {pid})" for name, pid in leftovers.items())
        self.say(f"stopping what an earlier run left behind (it did not stop cleanly): {listed}")
        for name, pid in leftovers.items():
            if name in before_stopping:
                before_stopping[name](pid)
        for pid in leftovers.values():
            _signal_group(pid, signal.SIGTERM)
        deadline = time.monotonic() + LEFTOVER_STOP_SECONDS
        while time.monotonic() < deadline and any(_group_alive(pid) for pid in leftovers.values()):
            time.sleep(0.1)
        for pid in leftovers.values():
            if _group_alive(pid):
                _signal_group(pid, signal.SIGKILL)

    # -- running ------------------------------------------------------------------------------------

    def launch(self, name: str, service: Any) -> None:
        """Register `service` as a child, then start it (a signal in between cannot orphan it)."""
        with self._mutex:
            self._items.append(Child(name, service))
        try:
            service.start()
        finally:
            self._write_lock()

    def watch(self, stop: threading.Event) -> Child | None:
        """Block until `stop` is set (returns None) or a child exits (returns it)."""
        while not stop.wait(WATCH_INTERVAL_SECONDS):
            for child in self:
                if not child.is_running():
                    return child
        return None

    def describe_exit(self, child: Child) -> str:
        process = child.process
        assert process is not None
        tail = process.log_tail(LOG_TAIL_BYTES).rstrip()
        where = self.config.short(process.log_path) if process.log_path else "its log"
        code = process.returncode
        how = f"was killed by {signal.Signals(-code).name}" if code is not None and code < 0 else f"exited with code {code}"
        lines = [f"error: {child.name} (pid {process.pid}) {how} unexpectedly"]
        lines.append(f"last lines of {where}:" if tail else f"{where} is empty")
        if tail:
            lines += ["    " + line for line in tail.splitlines()[-25:]]
        return "\n".join(lines)

    # -- stopping -----------------------------------------------------------------------------------

    def stop_all(self, before_stop: Callable[[Child, bool], str | None]) -> list[str]:
        """Stop every child, last started first; returns the names of any whose group had to be killed.

        `before_stop(child, running)` runs just before each stop and may return a note for its line
        (the local chain is saved there once more).
        """
        leftovers: list[str] = []
        while self._items:
            child = self._items[-1]
            began = time.perf_counter()
            pgid = child.pid
            was_running = child.is_running()
            note = before_stop(child, was_running)
            try:
                child.service.stop()
            except Exception as exc:  # keep stopping the others
                self.say(f"  {child.name}: error while stopping: {exc}")
            # Make sure nothing the child started survives it (its own process group).
            if pgid is not None and _group_alive(pgid) and not _zombie_only_group(pgid):
                _signal_group(pgid, signal.SIGKILL)
                leftovers.append(child.name)
            with self._mutex:
                self._items.pop()
            self._write_lock()
            if pgid is None:
                continue  # never started
            state = f"stopped in {time.perf_counter() - began:.1f} s" if was_running else "had already exited"
            if note is not None:
                state += f" ({note})"
            self.say(f"  {child.name}: {state}")
        return leftovers
