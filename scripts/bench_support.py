"""Helpers for the service benchmarks: a throw-away stack with the API in its own process, and RSS sampling.

`BenchStack` starts SecantusDB, js-ipfs and Anvil on free 127.0.0.1 ports with all their data in a
temporary directory, deploys the contracts, then runs the API as a separate process
(`python -m uvicorn --factory healthledger.app:create_app`, one process, no reloader, no workers) so
the process being measured is the server itself. `stop()` stops everything it started, in reverse
order, and is safe to call after a partial start.

`RssSampler` polls `/proc/<pid>/status` in a background thread and keeps the peak VmRSS;
`CpuMeter` reads how much CPU each of the stack's processes used (`BenchStack.service_pids`).

Every benchmark ends the same way: `measure_on` runs the measurement on a started stack (and says
why when it could not), `print_result` prints the JSON under the table, and `save_and_check` writes
it to `.cache/bench/` and turns missed targets into exit status 1; `result_envelope` gives every
result the same outer shape.
"""

from __future__ import annotations

import json
import os
import platform
import secrets
import shutil
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

import httpx
from healthledger.devstack.procfs import stat_fields, status_kib

ROOT = Path(__file__).resolve().parent.parent
RELAYER_INDEX = 9  # Anvil dev key #9 pays the relayer's gas, as in `make run`
API_START_TIMEOUT_SECONDS = 90.0


def prepare_environment() -> None:
    """Make `anvil`, `node`, the venv's tools and `tests.backend.support` reachable."""
    path = os.environ.get("PATH", "")
    extra = [str(ROOT / "bin"), str(Path(sys.executable).parent)]
    os.environ["PATH"] = os.pathsep.join([*extra, path])
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))


# ------------------------------------------------------------------------------------------- /proc


def rss_mib(pid: int) -> float:
    return status_kib(pid, "VmRSS")["VmRSS"] / 1024


def hwm_mib(pid: int) -> float:
    return status_kib(pid, "VmHWM")["VmHWM"] / 1024


class RssSampler:
    """Samples VmRSS of `pid` every `interval` seconds while active; `peak_mib` is the highest seen.

        with RssSampler(pid) as sampler:
            do_work()
        sampler.peak_mib, sampler.samples
    """

    def __init__(self, pid: int, interval: float = 0.02) -> None:
        self.pid = pid
        self.interval = interval
        self.peak_mib = 0.0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"rss-{pid}", daemon=True)

    def _sample(self) -> None:
        try:
            value = rss_mib(self.pid)
        except (OSError, KeyError):
            return
        self.samples += 1
        self.peak_mib = max(self.peak_mib, value)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self.interval)

    def __enter__(self) -> RssSampler:
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()


class CpuMeter:
    """CPU time (user + system) that named processes have used, each counted with its descendants
    that are not named themselves (the client, which started the others, counts only its own).

    Why: on a small machine every process of the stack (the API, the IPFS node, the database, the
    chain node, the benchmark's own client) shares the same cores, so an operation cannot take less
    wall time than the CPU it needs divided by the cores. Reading each process's share next to the
    wall time says where an operation's time goes. /proc counts in clock ticks (10 ms): report
    means over several runs, not single readings.

        meter = CpuMeter({"api": pid, ...})
        before = meter.read(); work(); spent = meter.spent_since(before)   # seconds per name
    """

    TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = dict(pids)

    def read(self) -> dict[str, float]:
        parents = _parent_pids()
        named = set(self.pids.values())
        return {name: sum(_cpu_seconds(p) for p in _tree(pid, parents, named)) for name, pid in self.pids.items()}

    def spent_since(self, before: dict[str, float]) -> dict[str, float]:
        now = self.read()
        return {name: max(0.0, now[name] - before.get(name, 0.0)) for name in now}


def _cpu_seconds(pid: int) -> float:
    try:
        fields = stat_fields(pid)
    except OSError:  # it exited meanwhile
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CpuMeter.TICKS_PER_SECOND  # utime + stime


def _parent_pids() -> dict[int, int]:
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                parents[int(entry)] = int(stat_fields(entry)[1])
            except OSError:
                continue
    return parents


def _tree(pid: int, parents: dict[int, int], named: set[int]) -> list[int]:
    """`pid` and its descendants, not entering the subtree of another named process."""
    found, frontier = [pid], {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier and child not in named}
        found += frontier
    return found


# ------------------------------------------------------------------------------------------- stack


@dataclass
class BenchStack:
    """Every component on free 127.0.0.1 ports, data and logs under one temporary directory."""

    max_upload_bytes: int = 200 * 1024 * 1024
    keep_dir: bool = False
    api_python_args: list[str] = field(default_factory=list)  # e.g. ["-m", "cProfile", "-o", FILE]
    say: Callable[[str], None] = lambda text: print(text, file=sys.stderr, flush=True)
    tmp: Path = field(init=False)
    api_url: str = ""
    ipfs_api_url: str = ""
    rpc_url: str = ""
    factory: str = ""
    deployer_key: str = ""  # dev account #0: deployed the contracts, holds REGISTRAR_ROLE (registers doctors)
    # The stack's processes by role, for CpuMeter: api, ipfs, mongodb, chain, and client (this process).
    service_pids: dict[str, int] = field(default_factory=dict, init=False)
    _stoppers: list[tuple[str, Callable[[], object]]] = field(default_factory=list, init=False)
    _api: object = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="healthledger-bench-"))

    @property
    def logs(self) -> Path:
        return self.tmp / "logs"

    @property
    def api_pid(self) -> int:
        pid = getattr(self._api, "pid", None)
        if pid is None:
            raise RuntimeError("the API is not running")
        return pid

    def api_log_tail(self) -> str:
        return self._api.log_tail() if self._api is not None else ""  # type: ignore[attr-defined]

    def start(self) -> BenchStack:
        from healthledger.chain.deployment import deploy
        from healthledger.devstack.anvil import AnvilNode
        from healthledger.devstack.ipfs import JsIpfsNode
        from healthledger.devstack.mongo import SecantusServer
        from healthledger.devstack.process import ManagedProcess, free_port
        from healthledger.serving import uvicorn_command

        self.logs.mkdir(parents=True, exist_ok=True)
        began = time.perf_counter()

        mongo = SecantusServer(self.tmp / "mongo", log_path=self.logs / "secantus.log")
        self._stoppers.append(("secantusdb", mongo.stop))
        mongo.start()
        ipfs = JsIpfsNode(self.tmp / "ipfs", log_path=self.logs / "ipfs.log")
        self._stoppers.append(("js-ipfs", ipfs.stop))
        ipfs.start()
        self.ipfs_api_url = ipfs.api_url
        anvil = AnvilNode(log_path=self.logs / "anvil.log")
        self._stoppers.append(("anvil", anvil.stop))
        anvil.start()
        self.rpc_url = anvil.rpc_url
        accounts = anvil.accounts
        self.deployer_key = accounts[0].private_key
        self.factory = deploy(anvil.rpc_url, self.deployer_key).factory
        self.say(f"  services up in {time.perf_counter() - began:.1f} s (data in {self.tmp})")

        port = free_port()
        env = {
            **os.environ,
            "HOST": "127.0.0.1",
            "PORT": str(port),
            "MONGODB_URI": mongo.uri,
            "MONGODB_DATABASE": "healthledger_bench",
            "IPFS_API_URL": ipfs.api_url,
            "ETH_RPC_URL": anvil.rpc_url,
            "FACTORY_ADDRESS": self.factory,
            "CHAIN_ID": "31337",
            "RELAYER_PRIVATE_KEY": accounts[RELAYER_INDEX].private_key,
            "JWT_SECRET": secrets.token_urlsafe(36),  # 48 characters
            "MAX_UPLOAD_BYTES": str(self.max_upload_bytes),
            "TX_TIMEOUT_SECONDS": "60",
            "IPFS_TIMEOUT_SECONDS": "120",
            # Benchmarks measure throughput from one client address: limits would refuse most of it.
            "RATE_LIMITS_ENABLED": "false",
        }
        # The interpreter itself (not a console-script wrapper), no --reload, no --workers: the PID
        # we get is the one process that serves requests, whose memory we measure.
        command = uvicorn_command("127.0.0.1", port, log_level="warning", python_args=self.api_python_args)
        api_dir = self.tmp / "api"  # cwd without a `.env`: only the settings above apply
        api_dir.mkdir()
        self._api = ManagedProcess(command, name="api", env=env, cwd=api_dir, log_path=self.logs / "api.log")
        self._stoppers.append(("api", self._api.stop))
        self._api.start()
        self.api_url = f"http://127.0.0.1:{port}"
        status = self._api.wait_ready(
            self._status_ok, API_START_TIMEOUT_SECONDS, interval=0.2, description="GET /api/system/status"
        )
        if status.get("status") != "ok":
            raise RuntimeError(f"the API reports {status}")
        self.service_pids = {
            "api": self.api_pid, "ipfs": ipfs.pid, "mongodb": mongo.pid, "chain": anvil.pid, "client": os.getpid(),
        }
        self.say(f"  API up (pid {self.api_pid}) after {time.perf_counter() - began:.1f} s")
        return self

    def _status_ok(self) -> dict | None:
        try:
            response = httpx.get(f"{self.api_url}/api/system/status", timeout=5.0, trust_env=False)
        except httpx.TransportError:
            return None
        if response.status_code != 200:
            return None
        body = response.json()
        return body if body.get("status") == "ok" else None

    def stop(self) -> None:
        """Stop everything started, newest first; every stop runs even if one fails."""
        errors = []
        while self._stoppers:
            name, stop = self._stoppers.pop()
            try:
                stop()
            except Exception as exc:  # noqa: BLE001 - report, keep stopping the others
                errors.append(f"{name}: {type(exc).__name__}: {exc}")
        if not self.keep_dir:
            shutil.rmtree(self.tmp, ignore_errors=True)
        for error in errors:
            self.say(f"  warning: could not stop {error}")

    def __enter__(self) -> BenchStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# ------------------------------------------------------------------------------------------- running


class Stack(Protocol):
    """What `measure_on` needs of a stack (BenchStack, or a benchmark's own)."""

    def start(self) -> object: ...
    def stop(self) -> None: ...
    def api_log_tail(self) -> str: ...


StackT = TypeVar("StackT", bound=Stack)
Measured = TypeVar("Measured")


def measure_on(
    stack: StackT, name: str, measure: Callable[[StackT], Measured], say: Callable[[str], None]
) -> Measured | None:
    """Start `stack`, run `measure` on it and stop it; None (the error said, with the API's log tail)
    when the benchmark could not run: any failure here means no figures."""
    say(f"{name} benchmark: starting SecantusDB, js-ipfs, Anvil and the API ...")
    try:
        stack.start()
        return measure(stack)
    except Exception as exc:  # noqa: BLE001 - any failure here means no figures
        traceback.print_exc()
        tail = stack.api_log_tail()
        if tail:
            say(f"--- API log tail ---\n{tail}")
        say(f"{name} benchmark could not run: {type(exc).__name__}: {exc}")
        return None
    finally:
        stack.stop()


def result_envelope(
    benchmark: str, unit_note: str, measured: dict[str, Any], targets: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Every benchmark's JSON result: its name, what the units mean, the figures, the targets (when it
    has any, with `ok`), and the machine it ran on (figures only compare on the same machine)."""
    result: dict[str, Any] = {"benchmark": benchmark, "unit_note": unit_note, **measured}
    if targets is not None:
        result["targets"] = targets
        result["ok"] = all(t["ok"] for t in targets.values())
    result["environment"] = {
        "python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform(),
    }
    return result


def print_result(result: dict[str, Any]) -> str:
    """Print the result as JSON after a blank line (the table is above it); the JSON text."""
    print()
    text = json.dumps(result, indent=2)
    print(text)
    return text


def save(text: str, out: Path) -> None:
    """Write the JSON `text` to `out` (its folder made if needed)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text + "\n")


def save_and_check(text: str, out: Path, result: dict[str, Any], missed: str) -> int:
    """Write the JSON `text` to `out`; the exit status: 1 (after `missed: names`) when a target is missed."""
    save(text, out)
    failed = [name for name, t in result["targets"].items() if not t["ok"]]
    if failed:
        print(f"\n{missed}: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


# ------------------------------------------------------------------------------------------- profiling


def _profile_module(argv: list[str]) -> None:
    """`python bench_support.py OUT.prof -m MODULE ARGS...`: run MODULE under cProfile, dump at exit.

    Unlike `python -m cProfile`, the stats are also written when the process is stopped with SIGTERM
    (uvicorn re-raises the signal after its graceful shutdown, which would otherwise kill the process
    before cProfile writes anything).
    """
    import cProfile
    import runpy
    import signal

    if len(argv) < 3 or argv[1] != "-m":
        raise SystemExit("usage: bench_support.py OUT.prof -m MODULE [ARGS...]")
    out, module, rest = argv[0], argv[2], argv[3:]

    def _exit(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, _exit)
    sys.argv = [module, *rest]
    profiler = cProfile.Profile()
    profiler.enable()
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    except SystemExit:
        pass
    finally:
        profiler.disable()
        profiler.dump_stats(out)


if __name__ == "__main__":
    _profile_module(sys.argv[1:])
