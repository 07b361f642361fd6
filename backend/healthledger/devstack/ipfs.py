"""A local, offline js-ipfs node for development and tests.

js-ipfs 0.66 (npm `ipfs`, installed in tools/ipfs by `make install`) serves the same `/api/v0` RPC
API as Kubo, which cannot be installed here. The node keeps its repo in `repo_dir`: data and pins
survive restarts. It listens on 127.0.0.1 only and does not dial anyone (`--offline`, no swarm).

    with JsIpfsNode(tmp_path / "ipfs") as node:
        client = IpfsClient(node.api_url)
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import time
from pathlib import Path

import httpx

from .process import ManagedProcess, free_port, start_retrying_port_conflicts, wait_until

log = logging.getLogger(__name__)

__all__ = ["JsIpfsNode", "JsIpfsNotInstalled", "api_answers", "find_jsipfs", "wait_for_api"]

REPO_ROOT = Path(__file__).resolve().parents[3]
JSIPFS_RELATIVE = Path("tools/ipfs/node_modules/.bin/jsipfs")
# Written into the repo while our daemon runs (js-ipfs ignores files it does not know).
PID_FILE = "healthledger-daemon.pid"
# Daemon starts on new ports after a port conflict, when no port was given.
START_ATTEMPTS = 3


class JsIpfsNotInstalled(RuntimeError):
    pass


def find_jsipfs() -> Path:
    """The jsipfs executable: $JSIPFS_BIN, else tools/ipfs/node_modules/.bin/jsipfs in this checkout."""
    override = os.environ.get("JSIPFS_BIN")
    path = Path(override) if override else REPO_ROOT / JSIPFS_RELATIVE
    if not (path.is_file() and os.access(path, os.X_OK)):
        raise JsIpfsNotInstalled(
            f"js-ipfs is not installed ({path} is missing): run `make install` "
            f"(or `npm ci --prefix tools/ipfs`), or set JSIPFS_BIN"
        )
    if shutil.which("node") is None:
        raise JsIpfsNotInstalled("`node` is not on PATH: js-ipfs needs Node.js 20")
    return path


class JsIpfsNode:
    """Start (and stop) `jsipfs daemon --offline` on a repo, initialising the repo if new.

    Ports default to free ones, chosen anew at each `start()` unless given. After `start()`,
    `api_url` is the RPC base URL (`http://127.0.0.1:PORT`), `gateway_url` the HTTP gateway's,
    and `startup_seconds` how long the start took (init + config + daemon until it answered).
    """

    def __init__(
        self,
        repo_dir: str | os.PathLike[str],
        *,
        api_port: int | None = None,
        gateway_port: int | None = None,
        rpc_port: int | None = None,
        log_path: str | os.PathLike[str] | None = None,
        binary: str | os.PathLike[str] | None = None,
        start_timeout: float = 60.0,
        host: str = "127.0.0.1",
    ) -> None:
        self.repo_dir = Path(repo_dir).resolve()
        self._ports_given = (api_port, gateway_port, rpc_port)
        self.api_port = self.gateway_port = self.rpc_port = 0
        self.log_path = Path(log_path) if log_path is not None else self.repo_dir.parent / (self.repo_dir.name + ".log")
        self.binary = Path(binary) if binary is not None else None
        self.start_timeout = start_timeout
        self.host = host
        self.startup_seconds: float | None = None
        self.initialised_repo = False
        self._process: ManagedProcess | None = None

    @property
    def api_url(self) -> str:
        if not self.api_port:
            raise RuntimeError("the node was not started")
        return f"http://{self.host}:{self.api_port}"

    @property
    def gateway_url(self) -> str:
        if not self.gateway_port:
            raise RuntimeError("the node was not started")
        return f"http://{self.host}:{self.gateway_port}"

    @property
    def pid(self) -> int | None:
        """The server's process id while it runs (benchmarks read its CPU time from /proc)."""
        return self._process.pid if self._process is not None else None

    def is_running(self) -> bool:
        return self._process is not None and self._process.is_running()

    # -- lifecycle -----------------------------------------------------------------------------------

    def start(self) -> JsIpfsNode:
        if self.is_running():
            raise RuntimeError("the node is already running")
        binary = self.binary or find_jsipfs()
        started = time.perf_counter()
        env = {**os.environ, "IPFS_PATH": str(self.repo_dir)}

        self._recover_from_crash()
        self.initialised_repo = not (self.repo_dir / "config").is_file()
        if self.initialised_repo:
            self.repo_dir.mkdir(parents=True, exist_ok=True)
            # --profile test: no bootstrap peers, no MDNS; -e: empty repo (no welcome files).
            self._run([binary, "init", "--profile", "test", "-e"], env)

        # A port chosen here may be taken before the daemon binds it. js-ipfs then logs EADDRINUSE
        # and hangs; wait_ready notices (PortConflictError) and the daemon starts again on new ports.
        attempts = 1 if any(self._ports_given) else START_ATTEMPTS
        start_retrying_port_conflicts(lambda: self._launch_daemon(binary, env), attempts)
        self.startup_seconds = time.perf_counter() - started
        log.info("jsipfs ready at %s in %.2f s (repo %s)", self.api_url, self.startup_seconds, self.repo_dir)
        return self

    def stop(self, timeout: float = 15.0) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        process.stop(timeout)
        pid_file = self.repo_dir / PID_FILE
        try:
            ours = int(pid_file.read_text()) == process.pid
        except (OSError, ValueError):
            ours = False
        if ours:
            pid_file.unlink(missing_ok=True)
            (self.repo_dir / "api").unlink(missing_ok=True)

    def __enter__(self) -> JsIpfsNode:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- helpers -------------------------------------------------------------------------------------

    def _launch_daemon(self, binary: str | os.PathLike[str], env: dict[str, str]) -> None:
        """One try: ports, the config naming them, the daemon, the wait for its API (stopped on failure)."""
        self._choose_ports()
        self._configure()
        self._process = ManagedProcess(
            [binary, "daemon", "--offline"], name="jsipfs", env=env, log_path=self.log_path
        ).start()
        (self.repo_dir / PID_FILE).write_text(str(self._process.pid))
        try:
            self._process.wait_ready(
                lambda: api_answers(self.api_url), self.start_timeout, interval=0.1, description="jsipfs API"
            )
        except BaseException:
            self.stop()
            raise

    def _choose_ports(self) -> None:
        """The API, gateway and RPC ports: the ones given, else free ones (three different ones)."""
        chosen: list[int] = []
        for given in self._ports_given:
            port = given
            while not port or (not given and port in chosen):
                port = free_port(self.host)
            chosen.append(port)
        self.api_port, self.gateway_port, self.rpc_port = chosen

    def _configure(self) -> None:
        """Point the repo's config at our ports, with no swarm listeners, peers or routing.

        Equivalent to `jsipfs config Addresses.API /ip4/127.0.0.1/tcp/P` etc., but each jsipfs
        command starts Node and loads js-ipfs (about 2 s), so the JSON config file is edited
        directly (atomically). Only done while no daemon of ours holds the repo.
        """
        path = self.repo_dir / "config"
        config = json.loads(path.read_text())
        if not isinstance(config, dict):
            raise RuntimeError(f"{path} is not a JSON object")
        tcp = f"/ip4/{self.host}/tcp/"
        addresses = config.setdefault("Addresses", {})
        addresses.update(
            API=tcp + str(self.api_port),
            Gateway=tcp + str(self.gateway_port),
            RPC=tcp + str(self.rpc_port),
            Swarm=[],
            Announce=[],
            NoAnnounce=[],
            Delegates=[],
        )
        config["Bootstrap"] = []
        config.setdefault("Discovery", {}).setdefault("MDNS", {})["Enabled"] = False
        config.setdefault("Routing", {})["Type"] = "none"
        tmp = path.with_name("config.tmp")
        tmp.write_text(json.dumps(config, indent=2))
        os.replace(tmp, path)

    def _run(self, args: list[str | os.PathLike[str]], env: dict[str, str]) -> None:
        try:
            result = subprocess.run(
                [os.fspath(a) for a in args], env=env, capture_output=True, text=True, timeout=self.start_timeout
            )
        except subprocess.TimeoutExpired as exc:
            raise RuntimeError(f"`{' '.join(map(str, args[1:]))}` did not finish in {self.start_timeout} s") from exc
        if result.returncode != 0:
            raise RuntimeError(
                f"`jsipfs {' '.join(map(str, args[1:]))}` failed ({result.returncode}) for repo {self.repo_dir}:\n"
                f"{result.stderr.strip() or result.stdout.strip()}"
            )

    def _recover_from_crash(self) -> None:
        """Clean up after a daemon of ours that died without shutting down (kill -9, OOM, ...).

        It leaves `repo.lock` (js-ipfs then refuses the repo for 20 s, until the lock goes stale)
        and `api` (the CLI then sends commands to that dead address instead of opening the repo).
        Both are removed if the daemon that the pid file names is gone; a live one is an error.
        """
        pid_file = self.repo_dir / PID_FILE
        try:
            pid = int(pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            pid = None
        if pid is not None and _is_jsipfs_daemon(pid):
            raise RuntimeError(f"a jsipfs daemon (pid {pid}) is already running on {self.repo_dir}")
        if pid is not None:
            lock = self.repo_dir / "repo.lock"
            if lock.is_dir():
                shutil.rmtree(lock, ignore_errors=True)
            else:
                lock.unlink(missing_ok=True)
            pid_file.unlink(missing_ok=True)
        if pid is not None or not (self.repo_dir / "repo.lock").exists():
            (self.repo_dir / "api").unlink(missing_ok=True)


def _is_jsipfs_daemon(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    # js-ipfs sets process.title = "ipfs", which overwrites the command line.
    return cmdline[0] == b"ipfs" or (b"daemon" in cmdline and any(b"jsipfs" in arg for arg in cmdline))


def api_answers(api_url: str) -> bool:
    """Whether an IPFS RPC API (js-ipfs or Kubo) answers /api/v0/version at `api_url`."""
    try:
        return httpx.post(f"{api_url}/api/v0/version", timeout=2.0, trust_env=False).status_code == 200
    except httpx.TransportError:
        return False


def wait_for_api(api_url: str, timeout: float = 30.0) -> None:
    """Block until the IPFS RPC API at `api_url` answers (e.g. an external Kubo in `make run`)."""
    wait_until(lambda: api_answers(api_url), timeout, 0.1, description=f"IPFS API at {api_url}")
