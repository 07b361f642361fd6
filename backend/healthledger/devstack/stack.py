"""`make run`: the whole HealthLedger stack on 127.0.0.1, in one foreground process.

Starts Anvil (chain 31337, state kept in `.data/anvil/state.json`, saved after every block and at
stop: see `chainstate.py`), a js-ipfs node (`.data/ipfs`) and
SecantusDB (`.data/mongo`); deploys the contracts, or reuses the deployment recorded in
`.data/deployment.json` when it still verifies against the chain; registers a demo doctor; then runs
the API (`serving.uvicorn_command`: uvicorn with the app factory and the API's HTTP protocol) with
every setting in its environment, waits until `/api/system/status` answers, and prints the URL, the
contracts, the demo accounts and how to add the chain to MetaMask.

Any service whose settings are present (process environment, or `.env`) is used instead of the
embedded one: ETH_RPC_URL + FACTORY_ADDRESS (+ RELAYER_PRIVATE_KEY): no Anvil and no deployment;
IPFS_API_URL: no js-ipfs; MONGODB_URI: no SecantusDB.

Ctrl-C, SIGTERM or SIGHUP stops every child in reverse start order and exits 0. A child that dies is
reported (name, exit code, the tail of its log in `.data/logs/`), the others are stopped, and the
exit code is 1. Children run in their own process groups, so the terminal's Ctrl-C reaches only
this process, which then stops them in order; after each stop the child's whole process group is
checked to be empty. The chain is saved once more before Anvil is stopped. At start, a chain that
lost blocks since the last run (a crash between a block and its save) is reported with a warning.

Environment of this launcher (besides the service settings above): API_INSTANCES (API processes
behind the one PORT, default 1: `uvicorn --workers N`, see the README's "Several API instances"; with
N > 1 the workers get `<data dir>/metrics`, emptied at each start, as PROMETHEUS_MULTIPROC_DIR so that
/metrics answers for all of them), PORT (API, default 8000),
ANVIL_PORT (default 8545), HEALTHLEDGER_DATA_DIR (default `<repo>/.data`), HEALTHLEDGER_ENV_FILE
(default `<repo>/.env`).

This module orchestrates; each responsibility has its own module: `config.py` (settings, `.env`,
ports, paths), `secrets.py` (the dev secrets), `children.py` (child processes, the lock file,
reaping), `localchain.py` (Anvil and its saved chain), `provision.py` (the contracts, through
`chain/deployment.py`, and the demo doctor), `summary.py` (what is printed). Nothing in the API's
request path imports any of them.
"""

from __future__ import annotations

import argparse
import shlex
import shutil
import signal
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from ..serving import uvicorn_command
from .children import Children, rotate_log
from .config import EXTERNAL_SERVICE_TIMEOUT_SECONDS, REPO_ROOT, StackConfig, StackError, redact_url
from .ipfs import JsIpfsNode, wait_for_api
from .localchain import LocalChain
from .mongo import SecantusServer
from .ports import PortInUse, check_port_free
from .process import ManagedProcess, ProcessExitedError
from .provision import provision_local_chain, use_external_chain
from .secrets import load_or_create_secrets, write_private
from .summary import StackInfo, seconds_since_process_start, summary

__all__ = ["Stack", "StackConfig", "StackError", "load_or_create_secrets", "main"]

API_START_TIMEOUT_SECONDS = 90.0
STARTUP_LINE = "Application startup complete."  # uvicorn logs it once per worker, after the lifespan start


class StopRequested(BaseException):  # noqa: N818 - like KeyboardInterrupt: not an Exception on purpose
    """SIGINT/SIGTERM arrived while the stack was starting."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class Stack:
    """Starts the services in order, watches them, stops them in reverse order."""

    def __init__(self, config: StackConfig, say: Callable[[str], None] | None = None) -> None:
        self.config = config
        self.say = say or (lambda text: print(text, flush=True))
        self.info = StackInfo()
        self.children = Children(config, self.say)
        self.chain = LocalChain(config, self.children, self.info, self.say)
        self._threads: list[threading.Thread] = []

    # -- start --------------------------------------------------------------------------------------

    def start(self) -> StackInfo:
        cfg = self.config
        started = time.perf_counter()
        if cfg.data_dir.is_dir():
            self.children.acquire_lock()
            # Of a run that was killed (SIGKILL, OOM) and could not stop its children.
            self.children.stop_leftovers({"anvil": self.chain.save_leftover})
        self._check_ports()  # before anything starts: fail in milliseconds, not after the slow parts
        cfg.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not self.children.locked:
            self.children.acquire_lock()
        cfg.files.logs.mkdir(parents=True, exist_ok=True)
        dev_secrets = load_or_create_secrets(cfg.files.secrets)

        env: dict[str, str] = {}
        # Outside services first: each is one quick request, and a wrong setting fails before anything starts.
        if cfg.external_chain:
            env.update(use_external_chain(cfg, self.info))
        if cfg.setting("IPFS_API_URL"):
            env.update(self._use_external_ipfs())
        if cfg.setting("MONGODB_URI"):
            env.update(self._use_external_mongo())
        # js-ipfs is the slow one (2-6 s): it starts in a thread while the chain and MongoDB start here.
        ipfs = None if cfg.setting("IPFS_API_URL") else self._in_background("ipfs", self._start_ipfs)
        if not cfg.external_chain:
            self._timed("chain", lambda: env.update(self._start_chain()))
        if not cfg.setting("MONGODB_URI"):
            self._timed("mongodb", lambda: env.update(self._start_mongo()))
        if ipfs is not None:
            env.update(ipfs())
        env["JWT_SECRET"] = cfg.setting("JWT_SECRET") or dev_secrets["JWT_SECRET"]
        env["HOST"] = cfg.host
        env["PORT"] = str(cfg.port)
        if frontend := cfg.frontend_dist:
            env["FRONTEND_DIST"] = str(frontend)
        self.info.api_env = env

        if cfg.start_api:
            self._timed("api", lambda: self._start_api(env))
        else:
            write_private(cfg.files.api_env, "".join(f"{k}={shlex.quote(v)}\n" for k, v in sorted(env.items())))
        self.info.timings["total"] = time.perf_counter() - started
        return self.info

    def _timed(self, name: str, step: Callable[[], object]) -> None:
        began = time.perf_counter()
        step()
        self.info.timings[name] = time.perf_counter() - began

    def _in_background(self, name: str, step: Callable[[], dict[str, str]]) -> Callable[[], dict[str, str]]:
        """Run `step` in a thread; the returned function waits for it and returns (or raises) its result.

        `stop()` waits for such threads before stopping anything, so a service still starting when a
        signal arrives is registered, and stopped, like the others.
        """
        outcome: dict[str, Any] = {}

        def run() -> None:
            began = time.perf_counter()
            try:
                outcome["value"] = step()
            except BaseException as exc:  # handed to the main thread by join()
                outcome["error"] = exc
            finally:
                self.info.timings[name] = time.perf_counter() - began

        thread = threading.Thread(target=run, name=f"start-{name}", daemon=True)
        self._threads.append(thread)
        thread.start()

        def join() -> dict[str, str]:
            thread.join()
            if "error" in outcome:
                raise outcome["error"]
            return outcome["value"]

        return join

    def _check_ports(self) -> None:
        cfg = self.config
        try:
            if cfg.start_api:
                check_port_free(cfg.host, cfg.port, "the API", "stop the other process or set PORT")
            if not cfg.external_chain:
                check_port_free(
                    cfg.host, cfg.anvil_port, "Anvil (the local chain)", "stop the other process or set ANVIL_PORT"
                )
        except PortInUse as exc:
            raise StackError(str(exc)) from None

    def _start_chain(self) -> dict[str, str]:
        rpc_url = self.chain.start()
        if self.config.setting("RELAYER_PRIVATE_KEY"):
            self.say("note: RELAYER_PRIVATE_KEY is ignored on the local chain (the relayer is Anvil dev account #9)")
        return provision_local_chain(rpc_url, self.config, self.info)

    def _use_external_ipfs(self) -> dict[str, str]:
        external = str(self.config.setting("IPFS_API_URL"))
        try:
            wait_for_api(external.rstrip("/"), timeout=EXTERNAL_SERVICE_TIMEOUT_SECONDS)
        except TimeoutError:
            raise StackError(f"the IPFS API at IPFS_API_URL ({redact_url(external)}) does not answer") from None
        self.info.ipfs_api_url, self.info.ipfs_external = redact_url(external), True
        return {"IPFS_API_URL": external}

    def _start_ipfs(self) -> dict[str, str]:
        cfg = self.config
        node = JsIpfsNode(cfg.data_dir / "ipfs", log_path=rotate_log(cfg.files.logs / "ipfs.log"), host=cfg.host)
        try:
            self.children.launch("ipfs", node)
        except ProcessExitedError as exc:
            raise StackError(f"the IPFS node did not start: {exc}") from None
        self.info.ipfs_api_url = node.api_url
        return {"IPFS_API_URL": node.api_url}

    def _use_external_mongo(self) -> dict[str, str]:
        from pymongo import MongoClient
        from pymongo.errors import PyMongoError

        external = str(self.config.setting("MONGODB_URI"))
        timeout_ms = int(EXTERNAL_SERVICE_TIMEOUT_SECONDS * 1000)
        try:
            with MongoClient(external, serverSelectionTimeoutMS=timeout_ms, connectTimeoutMS=timeout_ms) as client:
                client.admin.command("ping")
        except PyMongoError as exc:
            reason = str(exc).split(" (configured timeouts")[0].split(", Timeout:")[0][:300]
            raise StackError(f"MongoDB at MONGODB_URI ({redact_url(external)}) does not answer: {reason}") from None
        self.info.mongodb_uri, self.info.mongodb_external = redact_url(external), True
        return {"MONGODB_URI": external}

    def _start_mongo(self) -> dict[str, str]:
        cfg = self.config
        server = SecantusServer(cfg.data_dir / "mongo", log_path=rotate_log(cfg.files.logs / "mongodb.log"))
        try:
            self.children.launch("mongodb", server)  # on failure, stop() stops it: it is registered already
        except ProcessExitedError as exc:
            raise StackError(f"SecantusDB did not start: {exc}") from None
        self.info.mongodb_uri = server.uri
        return {"MONGODB_URI": server.uri}

    def _start_api(self, env: dict[str, str]) -> None:
        cfg = self.config
        try:  # again: the services before it took seconds to start, and the port may be gone since
            check_port_free(cfg.host, cfg.port, "the API", "stop the other process or set PORT")
        except PortInUse as exc:
            raise StackError(str(exc)) from None
        child_env = {**cfg.settings, **env}
        child_env["PYTHONUNBUFFERED"] = "1"
        command = uvicorn_command(cfg.host, cfg.port, workers=cfg.api_instances)
        child_env.pop("PROMETHEUS_MULTIPROC_DIR", None)  # the launcher decides, below
        if cfg.api_instances > 1:
            # uvicorn's supervisor shares one listening socket across N worker processes (the kernel
            # spreads connections); each worker runs its own lifespan: its relay worker (the queue's
            # lease decides which one broadcasts) and its maintenance loop. No hand-written proxy.
            child_env["PROMETHEUS_MULTIPROC_DIR"] = str(fresh_metrics_dir(cfg.files.metrics))
        # cwd is the data dir so the app reads no `.env` of its own: every setting comes from here.
        process = ManagedProcess(
            command, name="api", env=child_env, cwd=cfg.data_dir, log_path=rotate_log(cfg.files.logs / "api.log")
        )
        self.children.launch("api", process)
        status_url = f"{cfg.url}/api/system/status"

        def answers() -> dict[str, Any] | None:
            try:
                response = httpx.get(status_url, timeout=5.0, trust_env=False)
            except httpx.TransportError:
                return None
            if response.status_code != 200:
                return None
            return response.json()

        log_path = process.log_path

        def all_answer() -> dict[str, Any] | None:
            """The status once every worker finished its lifespan start (uvicorn logs one line each)."""
            status = answers()
            if status is None or cfg.api_instances == 1:
                return status
            started = log_path.read_text(errors="replace").count(STARTUP_LINE) if log_path else 0
            return status if started >= cfg.api_instances else None

        try:
            self.info.status = process.wait_ready(
                all_answer, API_START_TIMEOUT_SECONDS, interval=0.1, description=f"GET {status_url}"
            )
        except ProcessExitedError as exc:
            raise StackError(f"the API did not start: {exc}") from None
        self.info.url = cfg.url
        self.info.api_instances = cfg.api_instances

    # -- stop -------------------------------------------------------------------------------------------

    def stop(self) -> list[str]:
        """Stop every child, last started first; returns the names of any whose group had to be killed."""
        for thread in self._threads:  # a service still starting in the background: let it finish first
            if thread.is_alive():
                self.say(f"  waiting for {thread.name.removeprefix('start-')} to finish starting ...")
            thread.join()
        self._threads.clear()
        leftovers = self.children.stop_all(self.chain.save_before_stop)
        self.chain.stop_saver()  # its node was never registered as running: just end the thread
        self.children.release_lock()
        return leftovers


def fresh_metrics_dir(path: Path) -> Path:
    """An empty PROMETHEUS_MULTIPROC_DIR for the API's workers (metrics.py), made before they start.

    Wiped at every start, as prometheus-client requires: files left by the previous run's workers
    would otherwise be merged into this run's counters (and their pids may be reused)."""
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path


# ------------------------------------------------------------------------------------------- main


def main(argv: list[str] | None = None, repo_root: Path = REPO_ROOT) -> int:
    parser = argparse.ArgumentParser(prog="run_stack", description="Start the whole HealthLedger stack locally.")
    parser.add_argument(
        "--no-api",
        action="store_true",
        help="start the services (chain, IPFS, MongoDB) and write the API's settings to .data/api.env, "
        "but do not start the API (run it yourself, e.g. with --reload)",
    )
    args = parser.parse_args(argv)

    def say(text: str) -> None:
        try:
            print(text, flush=True)
        except OSError:  # the terminal is gone (SIGHUP): keep stopping the children regardless
            pass

    try:
        config = StackConfig.from_environ(repo_root, start_api=not args.no_api)
    except StackError as exc:
        say(f"error: {exc}")
        return 1

    stop_requested = threading.Event()
    phase = ["starting"]

    def on_signal(signum: int, _frame: object) -> None:
        if phase[0] == "stopping":
            say(f"({signal.Signals(signum).name}: still stopping, please wait)")
            return
        first = not stop_requested.is_set()
        stop_requested.set()
        if first and phase[0] == "starting":
            raise StopRequested(signum)

    # A SIGINT ignored by whoever started us (`cmd &` in a script, nohup) stays ignored; SIGTERM then stops us.
    # SIGHUP (the terminal was closed) stops the stack too: the children are in their own sessions and
    # would otherwise be orphaned; under nohup it stays ignored.
    signals = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    handled = [sig for sig in signals if signal.getsignal(sig) is not signal.SIG_IGN]
    previous = {sig: signal.signal(sig, on_signal) for sig in handled}
    stack = Stack(config, say)
    exit_code = 0
    try:
        say(f"Starting HealthLedger (data in {config.short(config.data_dir)}) ...")
        info = stack.start()
        phase[0] = "running"
        info.timings["total"] = seconds_since_process_start() or info.timings["total"]
        if stop_requested.is_set():  # a signal raced with the end of start()
            raise StopRequested(signal.SIGTERM)
        say(summary(config, info))
        crashed = stack.children.watch(stop_requested)
        phase[0] = "stopping"
        if crashed is not None:
            say(stack.children.describe_exit(crashed))
            say("stopping the other services ...")
            exit_code = 1
        else:
            say("\nstopping ...")
    except StopRequested as stop:
        phase[0] = "stopping"
        say(f"\n{stop.args[0]} during start-up: stopping ...")
    except StackError as exc:
        phase[0] = "stopping"
        say(f"error: {exc}")
        exit_code = 1
    except Exception as exc:
        phase[0] = "stopping"
        known = type(exc).__module__.startswith("healthledger") or isinstance(exc, (TimeoutError, ProcessExitedError))
        say(f"error: {exc}" if known else "error: start-up failed:\n" + traceback.format_exc().rstrip())
        exit_code = 1
    finally:
        phase[0] = "stopping"
        began = time.perf_counter()
        had_children = bool(stack.children)
        leftovers = stack.stop()
        if leftovers:
            say(f"warning: killed processes left behind by: {', '.join(leftovers)}")
        if had_children:
            say(f"stopped everything in {time.perf_counter() - began:.1f} s")
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return exit_code
