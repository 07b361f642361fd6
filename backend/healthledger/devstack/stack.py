"""`make run`: the whole HealthLedger stack on 127.0.0.1, in one foreground process.

Starts Anvil (chain 31337, state kept in `.data/anvil/state.json`, saved after every block and at
stop: see `chainstate.py`), a js-ipfs node (`.data/ipfs`) and
SecantusDB (`.data/mongo`); deploys the contracts, or reuses the deployment recorded in
`.data/deployment.json` when it still verifies against the chain; registers a demo doctor; then runs
the API (`uvicorn --factory healthledger.app:create_app`) with every setting in its environment,
waits until `/api/system/status` answers, and prints the URL, the contracts, the demo accounts and
how to add the chain to MetaMask.

Any service whose settings are present (process environment, or `.env`) is used instead of the
embedded one: ETH_RPC_URL + FACTORY_ADDRESS (+ RELAYER_PRIVATE_KEY): no Anvil and no deployment;
IPFS_API_URL: no js-ipfs; MONGODB_URI: no SecantusDB.

Ctrl-C, SIGTERM or SIGHUP stops every child in reverse start order and exits 0. A child that dies is
reported (name, exit code, the tail of its log in `.data/logs/`), the others are stopped, and the
exit code is 1. Children run in their own process groups, so the terminal's Ctrl-C reaches only
this process, which then stops them in order; after each stop the child's whole process group is
checked to be empty. The chain is saved once more before Anvil is stopped. At start, a chain that
lost blocks since the last run (a crash between a block and its save) is reported with a warning.

Environment of this launcher (besides the service settings above): PORT (API, default 8000),
ANVIL_PORT (default 8545), HEALTHLEDGER_DATA_DIR (default `<repo>/.data`), HEALTHLEDGER_ENV_FILE
(default `<repo>/.env`).
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import re
import secrets
import shlex
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol

import httpx

from .anvil import DEFAULT_CHAIN_ID, AnvilNode, DevAccount, dev_accounts
from .chainstate import (
    SAVE_ERRORS,
    ChainFiles,
    ChainLoss,
    ChainSaver,
    block_hash,
    chain_head,
    find_lost_blocks,
    lost_blocks_warning,
    prepare_state_dir,
    read_head,
    save_chain,
)
from .ipfs import JsIpfsNode, wait_for_api
from .mongo import SecantusServer
from .ports import PortInUse, check_port_free
from .process import ManagedProcess, ProcessExitedError

__all__ = ["Stack", "StackConfig", "StackError", "load_or_create_secrets", "main"]

REPO_ROOT = Path(__file__).resolve().parents[3]
HOST = "127.0.0.1"
DEFAULT_PORT = 8000
DEFAULT_ANVIL_PORT = 8545
LOCAL_CHAIN_ID = DEFAULT_CHAIN_ID  # 31337

# Anvil's dev accounts (public keys from the public test mnemonic): who plays which part locally.
DEPLOYER_INDEX = 0  # deploys the factory; holds DEFAULT_ADMIN_ROLE and REGISTRAR_ROLE
DOCTOR_INDEX = 1  # registered as a doctor at start-up
PATIENT_INDEX = 2  # any unregistered account can be a patient; this one is suggested
RELAYER_INDEX = 9  # the API's relayer (pays gas for signed actions)

API_START_TIMEOUT_SECONDS = 90.0
EXTERNAL_SERVICE_TIMEOUT_SECONDS = 10.0
WATCH_INTERVAL_SECONDS = 0.25
LOG_TAIL_BYTES = 3000

# Settings that, when present, replace an embedded service; and those the launcher always sets.
SERVICE_SETTINGS = ("ETH_RPC_URL", "FACTORY_ADDRESS", "IPFS_API_URL", "MONGODB_URI")


class StackError(RuntimeError):
    """A problem the user can fix (port taken, incomplete settings, service unreachable): no traceback."""


class StopRequested(BaseException):  # noqa: N818 - like KeyboardInterrupt: not an Exception on purpose
    """SIGINT/SIGTERM arrived while the stack was starting."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


# ----------------------------------------------------------------------------------------- config


def _redact_url(url: str) -> str:
    """scheme://host[:port] only: RPC URLs of hosted providers carry API keys, Mongo URIs passwords."""
    match = re.match(r"^([a-zA-Z][a-zA-Z0-9+.-]*://)(?:[^@/]*@)?([^/?#]*)", url)
    if not match:
        return "<url>"
    rest = url[match.end():]
    return match.group(1) + match.group(2) + ("/..." if rest.strip("/") else "")


def _read_env_file(path: Path) -> dict[str, str]:
    if not path.is_file():
        return {}
    from dotenv import dotenv_values  # python-dotenv: a dependency of pydantic-settings

    return {key: value for key, value in dotenv_values(path).items() if value is not None}


def _port_setting(settings: Mapping[str, str], name: str, default: int) -> int:
    raw = settings.get(name, "").strip()
    if not raw:
        return default
    try:
        port = int(raw)
    except ValueError:
        raise StackError(f"{name}={raw!r} is not a port number") from None
    if not 1 <= port <= 65535:
        raise StackError(f"{name}={port} is not a port number (1-65535)")
    return port


@dataclass(frozen=True)
class StackConfig:
    """What to start where. Build it with `from_environ`."""

    repo_root: Path
    data_dir: Path
    settings: Mapping[str, str]  # `.env` overlaid with the process environment
    port: int = DEFAULT_PORT
    anvil_port: int = DEFAULT_ANVIL_PORT
    host: str = HOST
    start_api: bool = True

    @classmethod
    def from_environ(
        cls, repo_root: Path = REPO_ROOT, environ: Mapping[str, str] | None = None, *, start_api: bool = True
    ) -> StackConfig:
        environ = dict(os.environ if environ is None else environ)
        env_file = Path(environ.get("HEALTHLEDGER_ENV_FILE") or repo_root / ".env")
        settings = {**_read_env_file(env_file), **environ}
        data_dir = Path(settings.get("HEALTHLEDGER_DATA_DIR") or repo_root / ".data").expanduser().resolve()
        config = cls(
            repo_root=repo_root,
            data_dir=data_dir,
            settings=settings,
            port=_port_setting(settings, "PORT", DEFAULT_PORT),
            anvil_port=_port_setting(settings, "ANVIL_PORT", DEFAULT_ANVIL_PORT),
            start_api=start_api,
        )
        config.validate()
        return config

    def setting(self, name: str) -> str | None:
        """A setting's value, None when unset or empty (`.env.example` lists empty ones)."""
        value = self.settings.get(name, "").strip()
        return value or None

    @property
    def external_chain(self) -> bool:
        return bool(self.setting("ETH_RPC_URL") and self.setting("FACTORY_ADDRESS"))

    def validate(self) -> None:
        rpc, factory = self.setting("ETH_RPC_URL"), self.setting("FACTORY_ADDRESS")
        if rpc and not factory:
            raise StackError(
                "ETH_RPC_URL is set but FACTORY_ADDRESS is not: to use that chain, deploy the contracts "
                "(python -m healthledger.chain.deployment) and set FACTORY_ADDRESS; to use the local "
                "Anvil chain, unset ETH_RPC_URL (check .env too)"
            )
        if factory and not rpc:
            raise StackError("FACTORY_ADDRESS is set but ETH_RPC_URL is not: set both, or neither for local Anvil")
        if self.external_chain and not self.setting("RELAYER_PRIVATE_KEY"):
            raise StackError("ETH_RPC_URL and FACTORY_ADDRESS are set: RELAYER_PRIVATE_KEY must be set too")
        if self.start_api and not self.external_chain and self.port == self.anvil_port:
            raise StackError(f"PORT and ANVIL_PORT are both {self.port}: choose different ports")

    # -- paths ------------------------------------------------------------------------------------

    @property
    def logs_dir(self) -> Path:
        return self.data_dir / "logs"

    @property
    def chain_files(self) -> ChainFiles:
        """`.data/anvil/state.json` (the chain) and `head.json` (the last head seen, to detect losses)."""
        return ChainFiles.in_dir(self.data_dir / "anvil")

    @property
    def deployment_file(self) -> Path:
        return self.data_dir / "deployment.json"

    @property
    def secrets_file(self) -> Path:
        return self.data_dir / "secrets.json"

    @property
    def lock_file(self) -> Path:
        return self.data_dir / "stack.lock"

    @property
    def api_env_file(self) -> Path:
        return self.data_dir / "api.env"

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def anvil_url(self) -> str:
        return f"http://{self.host}:{self.anvil_port}"

    def short(self, path: Path) -> str:
        """`path` relative to the current directory when inside it (shorter messages)."""
        try:
            return str(path.relative_to(Path.cwd()))
        except ValueError:
            return str(path)


# ---------------------------------------------------------------------------------------- secrets


def _write_private(path: Path, text: str) -> None:
    """Write `text` to `path` atomically, readable by the owner only (0600) from the first byte."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o600)  # in case the file existed with other bits
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def load_or_create_secrets(path: Path) -> dict[str, str]:
    """JWT_SECRET and GRANT_KEY for local runs: generated once, kept in `path` (mode 0600).

    Persisted so that sign-ins and doctors' grants (data keys wrapped with GRANT_KEY) survive a
    restart. Local development secrets only; production sets both in its environment.
    """
    stored: dict[str, str] = {}
    if path.exists():
        try:
            loaded = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise StackError(f"{path} is unreadable ({exc}): fix or delete it (sessions and grants then reset)") from None
        if not isinstance(loaded, dict):
            raise StackError(f"{path} is not a JSON object: fix or delete it (sessions and grants then reset)")
        stored = {k: v for k, v in loaded.items() if isinstance(v, str)}
        if path.stat().st_mode & 0o077:
            os.chmod(path, 0o600)
    wanted = {"JWT_SECRET": lambda: secrets.token_urlsafe(48), "GRANT_KEY": lambda: secrets.token_hex(32)}
    missing = {name: make() for name, make in wanted.items() if not stored.get(name)}
    if missing:
        stored.update(missing)
        _write_private(path, json.dumps(stored, indent=2) + "\n")
    return stored


# --------------------------------------------------------------------------------------- children


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


def _rotate_log(path: Path) -> Path:
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


def _is_ours(pid: int, data_dir: Path) -> bool:
    """Whether `pid` is a live session leader (as our children are) that refers to `data_dir`."""
    proc = Path(f"/proc/{pid}")
    try:
        fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
        if fields[0] == "Z" or int(fields[3]) != pid:  # zombie, or not its own session leader
            return False
        marker = str(data_dir).encode()
        if marker in (proc / "cmdline").read_bytes() or marker in (proc / "environ").read_bytes():
            return True
        return Path(os.readlink(proc / "cwd")) == data_dir
    except (OSError, IndexError, ValueError):
        return False


def _anvil_url_of(pid: int) -> str | None:
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
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return False
    return True


# ------------------------------------------------------------------------------------------ stack


@dataclass
class StackInfo:
    """What is running, for the summary (and tests)."""

    url: str | None = None
    status: dict[str, Any] | None = None
    chain_id: int | None = None
    rpc_url: str | None = None
    local_chain: bool = True
    factory: str | None = None
    implementation: str | None = None
    deployed_now: bool = False
    redeploy_reason: list[str] = field(default_factory=list)
    lost_blocks: ChainLoss | None = None
    doctor_registered_now: bool = False
    ipfs_api_url: str | None = None
    ipfs_external: bool = False
    mongodb_uri: str | None = None
    mongodb_external: bool = False
    timings: dict[str, float] = field(default_factory=dict)
    api_env: dict[str, str] = field(default_factory=dict)


class Stack:
    """Starts the services in order, watches them, stops them in reverse order."""

    def __init__(self, config: StackConfig, say: Callable[[str], None] | None = None) -> None:
        self.config = config
        self.say = say or (lambda text: print(text, flush=True))
        self.children: list[Child] = []
        self.info = StackInfo()
        self._lock_file: IO[str] | None = None
        self._threads: list[threading.Thread] = []
        self._previous_children: dict[str, int] = {}
        self._children_lock = threading.Lock()
        self._chain_saver: ChainSaver | None = None
        self._chain_node: AnvilNode | None = None

    # -- start --------------------------------------------------------------------------------------

    def start(self) -> StackInfo:
        cfg = self.config
        started = time.perf_counter()
        if cfg.data_dir.is_dir():
            self._acquire_lock()
            self._stop_leftovers()  # of a run that was killed (SIGKILL, OOM) and could not stop its children
        self._check_ports()  # before anything starts: fail in milliseconds, not after the slow parts
        cfg.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        if self._lock_file is None:
            self._acquire_lock()
        cfg.logs_dir.mkdir(parents=True, exist_ok=True)
        dev_secrets = load_or_create_secrets(cfg.secrets_file)

        env: dict[str, str] = {}
        # Outside services first: each is one quick request, and a wrong setting fails before anything starts.
        if cfg.external_chain:
            env.update(self._use_external_chain())
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
        env["GRANT_KEY"] = cfg.setting("GRANT_KEY") or dev_secrets["GRANT_KEY"]
        env["HOST"] = cfg.host
        env["PORT"] = str(cfg.port)
        frontend = Path(cfg.setting("FRONTEND_DIST") or cfg.repo_root / "frontend" / "dist")
        if not frontend.is_absolute():
            frontend = cfg.repo_root / frontend
        if frontend.is_dir():
            env["FRONTEND_DIST"] = str(frontend)
        self.info.api_env = env

        if cfg.start_api:
            self._timed("api", lambda: self._start_api(env))
        else:
            _write_private(
                cfg.api_env_file, "".join(f"{k}={shlex.quote(v)}\n" for k, v in sorted(env.items()))
            )
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

    def _acquire_lock(self) -> None:
        path = self.config.lock_file
        handle = open(path, "a+", encoding="utf-8")  # noqa: SIM115 - held until stop()
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
        self._previous_children = {str(k): int(v) for k, v in previous.items() if isinstance(v, int)}
        self._write_lock()

    def _stop_leftovers(self) -> None:
        """Stop children of an earlier run on this data dir that outlived it (it was SIGKILLed).

        The lock file lists them; a pid counts as a leftover only if it still leads its own process
        group and its command line, environment or working directory names this data dir.
        """
        leftovers = {
            name: pid for name, pid in self._previous_children.items() if _is_ours(pid, self.config.data_dir)
        }
        if not leftovers:
            return
        listed = ", ".join(f"{name} (pid {pid})" for name, pid in leftovers.items())
        self.say(f"stopping what an earlier run left behind (it did not stop cleanly): {listed}")
        if "anvil" in leftovers:
            self._save_leftover_chain(leftovers["anvil"])
        for pid in leftovers.values():
            try:
                os.killpg(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and any(_group_alive(pid) for pid in leftovers.values()):
            time.sleep(0.1)
        for pid in leftovers.values():
            if _group_alive(pid):
                try:
                    os.killpg(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass

    def _save_leftover_chain(self, pid: int) -> None:
        """Save the chain of an Anvil that outlived its run before stopping it.

        Its run's saver died with the run, so blocks mined since (the API may have outlived the run
        too) are only in that Anvil's memory, and Anvil does not write the state file itself.
        """
        url = _anvil_url_of(pid)
        try:
            if url is None:
                raise ValueError("its command line names no --port")
            head = save_chain(url, self.config.chain_files)
        except SAVE_ERRORS as exc:
            self.say(f"  warning: could not save the chain of that anvil first ({exc}); blocks since its last save are lost")
            return
        self.say(f"  saved the chain of that anvil first (block {head.number})")

    def _write_lock(self) -> None:
        """The lock file also says who runs and what it started (for `ps`-free checks and tests)."""
        with self._children_lock:
            self._write_lock_unlocked()

    def _write_lock_unlocked(self) -> None:
        if self._lock_file is None:
            return
        state = {
            "pid": os.getpid(),
            "url": self.config.url if self.config.start_api else None,
            "children": {child.name: child.pid for child in self.children if child.pid is not None},
        }
        self._lock_file.seek(0)
        self._lock_file.truncate()
        self._lock_file.write(json.dumps(state) + "\n")
        self._lock_file.flush()

    def _launch(self, name: str, service: Any) -> None:
        """Register `service` as a child, then start it (a signal in between cannot orphan it)."""
        with self._children_lock:
            self.children.append(Child(name, service))
        try:
            service.start()
        finally:
            self._write_lock()

    def _start_chain(self) -> dict[str, str]:
        cfg = self.config
        check_port_free(cfg.host, cfg.anvil_port, "Anvil (the local chain)", "stop the other process or set ANVIL_PORT")
        files = cfg.chain_files
        prepare_state_dir(files, self.say)
        # Anvil only loads the state; every write of it is the saver's (atomic), none is Anvil's (in place).
        # Its cwd is the data dir: before the first save its command line names no path there, and a
        # later run must still recognise it as ours if this one is killed (`_is_ours`).
        node = AnvilNode(
            port=cfg.anvil_port,
            host=cfg.host,
            chain_id=LOCAL_CHAIN_ID,
            load_state_path=files.state,
            log_path=_rotate_log(cfg.logs_dir / "anvil.log"),
            cwd=cfg.data_dir,
        )
        try:
            self._launch("anvil", node)
        except ProcessExitedError as exc:
            raise StackError(f"Anvil did not start: {exc}") from None
        # Before anything mines a block (the deployment would hide a shorter chain) or the saver
        # overwrites the marker with the new head.
        self._report_lost_blocks(node.rpc_url, files)
        saver = ChainSaver(node.rpc_url, files, self.say, node_alive=node.is_running)
        self._chain_node, self._chain_saver = node, saver  # before start(): stop() must find it
        saver.start()
        if cfg.setting("RELAYER_PRIVATE_KEY"):
            self.say("note: RELAYER_PRIVATE_KEY is ignored on the local chain (the relayer is Anvil dev account #9)")
        accounts = dev_accounts()
        self._deploy(node.rpc_url, accounts)
        self._register_doctor(node.rpc_url, accounts)
        self.info.chain_id = LOCAL_CHAIN_ID
        self.info.rpc_url = node.rpc_url
        self.info.local_chain = True
        return {
            "ETH_RPC_URL": node.rpc_url,
            "FACTORY_ADDRESS": str(self.info.factory),
            "CHAIN_ID": str(LOCAL_CHAIN_ID),
            "RELAYER_PRIVATE_KEY": accounts[RELAYER_INDEX].private_key,
            "CHAIN_NAME": "HealthLedger local (Anvil)",
            "WALLET_RPC_URL": node.rpc_url,
        }

    def _report_lost_blocks(self, rpc_url: str, files: ChainFiles) -> None:
        """Warn now when the chain Anvil loaded lacks blocks the last run saw (see chainstate.py)."""
        try:
            loss = find_lost_blocks(read_head(files.head), chain_head(rpc_url).number, lambda n: block_hash(rpc_url, n))
        except SAVE_ERRORS as exc:  # Anvil answered its readiness probe; if it fails now, the next steps say so
            self.say(f"warning: could not compare the chain with the last head seen ({exc})")
            return
        if loss is not None:
            self.info.lost_blocks = loss
            self.say(lost_blocks_warning(loss))

    def _deploy(self, rpc_url: str, accounts: tuple[DevAccount, ...]) -> None:
        from web3 import Web3

        from ..chain import deployment as deployments

        w3 = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": 30}))
        path = self.config.deployment_file
        existing = None
        if path.exists():
            try:
                existing = deployments.load(path)
            except (OSError, ValueError) as exc:
                self.info.redeploy_reason = [f"{path.name} is unreadable: {exc}"]
        if existing is not None:
            problems = deployments.verify_problems(existing, w3)
            if not problems:
                self.info.factory, self.info.implementation = existing.factory, existing.implementation
                return
            self.info.redeploy_reason = problems
        # The relayer also gets REGISTRAR_ROLE so the registrar's screen (POST /api/admin/doctors) works.
        fresh = deployments.deploy(
            w3, accounts[DEPLOYER_INDEX].private_key, registrar=accounts[RELAYER_INDEX].address
        )
        deployments.save(fresh, path)
        self.info.factory, self.info.implementation = fresh.factory, fresh.implementation
        self.info.deployed_now = True

    def _register_doctor(self, rpc_url: str, accounts: tuple[DevAccount, ...]) -> None:
        from eth_account import Account
        from web3 import Web3

        from ..chain.artifacts import health_record_factory

        w3 = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": 30}))
        factory = w3.eth.contract(address=self.info.factory, abi=health_record_factory().abi)
        doctor = accounts[DOCTOR_INDEX].address
        if factory.functions.isDoctor(doctor).call():
            return
        registrar = Account.from_key(accounts[DEPLOYER_INDEX].private_key)
        tx = factory.functions.registerDoctor(doctor).build_transaction(
            {"from": registrar.address, "nonce": w3.eth.get_transaction_count(registrar.address, "pending")}
        )
        tx_hash = w3.eth.send_raw_transaction(registrar.sign_transaction(tx).raw_transaction)
        receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30, poll_latency=0.05)
        if receipt["status"] != 1:
            raise StackError(f"registering the demo doctor failed (transaction {tx_hash.to_0x_hex()})")
        self.info.doctor_registered_now = True

    def _use_external_chain(self) -> dict[str, str]:
        from eth_utils import is_address, to_checksum_address
        from web3 import Web3

        from ..chain.artifacts import health_record_factory

        cfg = self.config
        rpc_url, factory = str(cfg.setting("ETH_RPC_URL")), str(cfg.setting("FACTORY_ADDRESS"))
        shown = _redact_url(rpc_url)
        if not is_address(factory):
            raise StackError(f"FACTORY_ADDRESS={factory!r} is not an Ethereum address")
        factory = to_checksum_address(factory)
        w3 = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": EXTERNAL_SERVICE_TIMEOUT_SECONDS}))
        try:
            chain_id = w3.eth.chain_id
            code = bytes(w3.eth.get_code(factory))
        except Exception as exc:  # the message may quote the full URL, API key included: name the type only
            raise StackError(f"the chain at ETH_RPC_URL ({shown}) does not answer ({type(exc).__name__})") from None
        expected = cfg.setting("CHAIN_ID")
        if expected and expected != str(chain_id):
            raise StackError(f"ETH_RPC_URL ({shown}) serves chain {chain_id}, but CHAIN_ID is {expected}")
        if not code:
            raise StackError(f"no contract at FACTORY_ADDRESS {factory} on chain {chain_id} ({shown})")
        contract = w3.eth.contract(address=factory, abi=health_record_factory().abi)
        try:
            self.info.implementation = contract.functions.implementation().call()
        except Exception:
            raise StackError(f"FACTORY_ADDRESS {factory} on chain {chain_id} is not a HealthRecordFactory") from None
        self.info.chain_id, self.info.rpc_url, self.info.local_chain = chain_id, shown, False
        self.info.factory = factory
        return {
            "ETH_RPC_URL": rpc_url,
            "FACTORY_ADDRESS": factory,
            "CHAIN_ID": str(chain_id),
            "RELAYER_PRIVATE_KEY": str(cfg.setting("RELAYER_PRIVATE_KEY")),
        }

    def _use_external_ipfs(self) -> dict[str, str]:
        external = str(self.config.setting("IPFS_API_URL"))
        try:
            wait_for_api(external.rstrip("/"), timeout=EXTERNAL_SERVICE_TIMEOUT_SECONDS)
        except TimeoutError:
            raise StackError(f"the IPFS API at IPFS_API_URL ({_redact_url(external)}) does not answer") from None
        self.info.ipfs_api_url, self.info.ipfs_external = _redact_url(external), True
        return {"IPFS_API_URL": external}

    def _start_ipfs(self) -> dict[str, str]:
        cfg = self.config
        node = JsIpfsNode(cfg.data_dir / "ipfs", log_path=_rotate_log(cfg.logs_dir / "ipfs.log"), host=cfg.host)
        try:
            self._launch("ipfs", node)
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
            raise StackError(f"MongoDB at MONGODB_URI ({_redact_url(external)}) does not answer: {reason}") from None
        self.info.mongodb_uri, self.info.mongodb_external = _redact_url(external), True
        return {"MONGODB_URI": external}

    def _start_mongo(self) -> dict[str, str]:
        cfg = self.config
        server = SecantusServer(cfg.data_dir / "mongo", log_path=_rotate_log(cfg.logs_dir / "mongodb.log"))
        try:
            self._launch("mongodb", server)  # on failure, stop() stops it: it is registered already
        except ProcessExitedError as exc:
            raise StackError(f"SecantusDB did not start: {exc}") from None
        self.info.mongodb_uri = server.uri
        return {"MONGODB_URI": server.uri}

    def _start_api(self, env: dict[str, str]) -> None:
        cfg = self.config
        check_port_free(cfg.host, cfg.port, "the API", "stop the other process or set PORT")
        child_env = {**cfg.settings, **env}
        child_env["PYTHONUNBUFFERED"] = "1"
        command = [
            sys.executable, "-m", "uvicorn",
            "--factory", "healthledger.app:create_app",
            "--host", cfg.host,
            "--port", str(cfg.port),
            "--timeout-graceful-shutdown", "5",
        ]
        # cwd is the data dir so the app reads no `.env` of its own: every setting comes from here.
        process = ManagedProcess(
            command, name="api", env=child_env, cwd=cfg.data_dir, log_path=_rotate_log(cfg.logs_dir / "api.log")
        )
        self._launch("api", process)
        status_url = f"{cfg.url}/api/system/status"

        def answers() -> dict[str, Any] | None:
            try:
                response = httpx.get(status_url, timeout=5.0, trust_env=False)
            except httpx.TransportError:
                return None
            if response.status_code != 200:
                return None
            return response.json()

        try:
            self.info.status = process.wait_ready(
                answers, API_START_TIMEOUT_SECONDS, interval=0.1, description=f"GET {status_url}"
            )
        except ProcessExitedError as exc:
            raise StackError(f"the API did not start: {exc}") from None
        self.info.url = cfg.url

    # -- run ------------------------------------------------------------------------------------------

    def watch(self, stop: threading.Event) -> Child | None:
        """Block until `stop` is set (returns None) or a child exits (returns it)."""
        while not stop.wait(WATCH_INTERVAL_SECONDS):
            for child in self.children:
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

    # -- stop -------------------------------------------------------------------------------------------

    def _save_chain_before_stop(self, child: Child, running: bool) -> int | None:
        """For the local Anvil: stop the saver and, if Anvil runs, save once more (it writes nothing at exit).

        Returns the block number saved, or None (another child, Anvil already dead, or the save
        failed: the saver says why).
        """
        if self._chain_saver is None or child.service is not self._chain_node:
            return None
        saver, self._chain_saver = self._chain_saver, None
        try:
            head = saver.stop(final_save=running)
        except Exception as exc:  # never let a failed save keep Anvil (or anything after it) running
            self.say(f"  {child.name}: error while saving the chain: {exc}")
            return None
        return head.number if head is not None else None

    def stop(self) -> list[str]:
        """Stop every child, last started first; returns the names of any whose group had to be killed."""
        leftovers: list[str] = []
        for thread in self._threads:  # a service still starting in the background: let it finish first
            if thread.is_alive():
                self.say(f"  waiting for {thread.name.removeprefix('start-')} to finish starting ...")
            thread.join()
        self._threads.clear()
        while self.children:
            child = self.children[-1]
            began = time.perf_counter()
            pgid = child.pid
            was_running = child.is_running()
            saved = self._save_chain_before_stop(child, was_running)
            try:
                child.service.stop()
            except Exception as exc:  # keep stopping the others
                self.say(f"  {child.name}: error while stopping: {exc}")
            # Make sure nothing the child started survives it (its own process group).
            if pgid is not None and _group_alive(pgid) and not _zombie_only_group(pgid):
                try:
                    os.killpg(pgid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                leftovers.append(child.name)
            self.children.pop()
            self._write_lock()
            if pgid is None:
                continue  # never started
            state = f"stopped in {time.perf_counter() - began:.1f} s" if was_running else "had already exited"
            if saved is not None:
                state += f" (chain saved at block {saved})"
            self.say(f"  {child.name}: {state}")
        if self._chain_saver is not None:  # its node was never registered as running: just end the thread
            self._chain_saver.stop(final_save=False)
            self._chain_saver = None
        if self._lock_file is not None:
            self._lock_file.seek(0)
            self._lock_file.truncate()
            self._lock_file.close()
            self._lock_file = None
        return leftovers


# ---------------------------------------------------------------------------------------- summary


def _seconds_since_process_start() -> float | None:
    """How long this process has existed (so the start-up time includes Python's own start and imports)."""
    try:
        start_ticks = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19])
        return time.clock_gettime(time.CLOCK_BOOTTIME) - start_ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, AttributeError):
        return None


def summary(config: StackConfig, info: StackInfo) -> str:
    t = info.timings
    steps = [f"{name} {t[name]:.1f} s" for name in ("chain", "mongodb") if name in t]
    if "ipfs" in t:
        steps.append(f"ipfs {t['ipfs']:.1f} s (alongside those)")
    if "api" in t:
        steps.append(f"then api {t['api']:.1f} s")
    parts = ", ".join(steps)
    lines = [""]
    if config.start_api:
        state = (info.status or {}).get("status", "?")
        lines.append(f"HealthLedger is running: {info.url}   (started in {t['total']:.1f} s: {parts})")
        lines.append(f"  API status      {info.url}/api/system/status ({state})")
        down = [
            name
            for name, dep in ((info.status or {}).get("dependencies") or {}).items()
            if isinstance(dep, dict) and dep.get("state") != "ok"
        ]
        if down:
            lines.append(f"  warning: not ok: {', '.join(down)} (see the status URL)")
    else:
        lines.append(f"HealthLedger services are running, API not started   (started in {t['total']:.1f} s: {parts})")
        lines.append(f"  API settings    {config.short(config.api_env_file)} (mode 0600). Run the API yourself, e.g.:")
        lines.append(
            f"    set -a; . {config.short(config.api_env_file)}; set +a; "
            f"uvicorn --factory healthledger.app:create_app --reload --port {config.port}"
        )
    lines.append(f"  Data            {config.short(config.data_dir)} (logs in {config.short(config.logs_dir)}/)")
    lines.append("")
    if info.local_chain:
        lines.append(f"Chain             local Anvil, chain id {info.chain_id}, RPC {info.rpc_url}")
        if info.lost_blocks is not None:
            lost = info.lost_blocks
            which = "was replaced" if lost.replaced else f"lost {lost.blocks}"
            lines.append(f"  warning: the chain {which} since the last run (see the warning above)")
    else:
        lines.append(f"Chain             ETH_RPC_URL ({info.rpc_url}), chain id {info.chain_id}")
    if info.deployed_now:
        origin = "deployed now"
        if info.redeploy_reason:
            origin += " (the recorded deployment did not match the chain: " + "; ".join(info.redeploy_reason) + ")"
    elif info.local_chain:
        origin = f"reused from {config.short(config.deployment_file)}"
    else:
        origin = "FACTORY_ADDRESS"
    lines.append(f"  Factory         {info.factory}   ({origin})")
    lines.append(f"  Implementation  {info.implementation}")
    ipfs_origin = "IPFS_API_URL" if info.ipfs_external else f"js-ipfs, repo {config.short(config.data_dir / 'ipfs')}"
    mongo_origin = "MONGODB_URI" if info.mongodb_external else f"SecantusDB, {config.short(config.data_dir / 'mongo')}"
    lines.append(f"IPFS              {info.ipfs_api_url}   ({ipfs_origin})")
    lines.append(f"MongoDB           {info.mongodb_uri}   ({mongo_origin})")
    if info.local_chain:
        accounts = dev_accounts()

        def account(index: int, role: str, with_key: bool = True) -> str:
            acct = accounts[index]
            return f"  #{index} {role:<28} {acct.address}  " + (f"key {acct.private_key}" if with_key else "(the API's)")

        lines += [
            "",
            "Demo accounts: Anvil's dev keys. LOCAL ONLY: these keys are public, never use them on a real network.",
            account(DEPLOYER_INDEX, "deployer, registrar"),
            account(DOCTOR_INDEX, "demo doctor (" + ("registered now" if info.doctor_registered_now else "registered") + ")"),
            account(PATIENT_INDEX, "demo patient"),
            account(RELAYER_INDEX, "relayer (pays the gas)", with_key=False),
            "  MetaMask: account menu > Add account or hardware wallet > Import account, paste a key.",
            "",
            "Add the local chain to MetaMask (Settings > Networks > Add a network manually):",
            "  Network name      HealthLedger Local (Anvil)",
            f"  RPC URL           {info.rpc_url}",
            f"  Chain ID          {info.chain_id}",
            "  Currency symbol   ETH",
            f"  (after deleting {config.short(config.data_dir)}, clear MetaMask's activity data: Settings > Advanced)",
        ]
    lines += ["", "Press Ctrl-C to stop."]
    return "\n".join(lines)


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
        info.timings["total"] = _seconds_since_process_start() or info.timings["total"]
        if stop_requested.is_set():  # a signal raced with the end of start()
            raise StopRequested(signal.SIGTERM)
        say(summary(config, info))
        crashed = stack.watch(stop_requested)
        phase[0] = "stopping"
        if crashed is not None:
            say(stack.describe_exit(crashed))
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
