"""The launcher's settings: `.env` overlaid with the process environment, ports, paths, dev accounts.

Why a module of its own: every other part of the launcher (children, provisioning, summary) reads
the same `StackConfig`, and checking the settings needs no process, chain or network, so a wrong
combination fails in milliseconds, before anything starts.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from .anvil import DEFAULT_CHAIN_ID
from .chainstate import ChainFiles

__all__ = ["DataFiles", "StackConfig", "StackError", "redact_url"]

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

# How long an outside service (ETH_RPC_URL, IPFS_API_URL, MONGODB_URI) may take to answer its check.
EXTERNAL_SERVICE_TIMEOUT_SECONDS = 10.0


class StackError(RuntimeError):
    """A problem the user can fix (port taken, incomplete settings, service unreachable): no traceback."""


def redact_url(url: str) -> str:
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


# The factory's admin delay (AccessControlDefaultAdminRules, a uint48 of seconds) on the local chain.
DEFAULT_ADMIN_DELAY_SECONDS = 0
MAX_ADMIN_DELAY_SECONDS = 2**48 - 1


def _delay_setting(settings: Mapping[str, str], name: str, default: int) -> int:
    """ADMIN_DELAY_SECONDS: how long a two-step admin transfer of the local factory must wait."""
    raw = settings.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or int(raw) > MAX_ADMIN_DELAY_SECONDS:
        raise StackError(f"{name}={raw!r} is not a whole number of seconds (0-{MAX_ADMIN_DELAY_SECONDS})")
    return int(raw)


MAX_API_INSTANCES = 32


def _instances_setting(settings: Mapping[str, str], name: str) -> int:
    """API_INSTANCES: how many API processes share the API's port (uvicorn workers; default 1)."""
    raw = settings.get(name, "").strip()
    if not raw:
        return 1
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_API_INSTANCES:
        raise StackError(f"{name}={raw!r} is not a number of API instances (1-{MAX_API_INSTANCES})")
    return int(raw)


class DataFiles(NamedTuple):
    """What a run keeps in its data dir (HEALTHLEDGER_DATA_DIR) besides the services' own stores."""

    logs: Path  # one log per child; the previous run's as `<name>.log.1`
    deployment: Path  # the local chain's contracts (chain/deployment.py), reused while they verify
    secrets: Path  # JWT_SECRET for local runs (mode 0600)
    lock: Path  # held while a stack runs on this dir; names its pid and its children's
    api_env: Path  # with --no-api: the API's settings, to run it yourself (mode 0600)
    metrics: Path  # API_INSTANCES > 1: the workers' PROMETHEUS_MULTIPROC_DIR, emptied at every start

    @classmethod
    def in_dir(cls, data_dir: Path) -> DataFiles:
        return cls(
            data_dir / "logs", data_dir / "deployment.json", data_dir / "secrets.json",
            data_dir / "stack.lock", data_dir / "api.env", data_dir / "metrics",
        )


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
    admin_delay_seconds: int = DEFAULT_ADMIN_DELAY_SECONDS
    api_instances: int = 1

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
            admin_delay_seconds=_delay_setting(settings, "ADMIN_DELAY_SECONDS", DEFAULT_ADMIN_DELAY_SECONDS),
            api_instances=_instances_setting(settings, "API_INSTANCES"),
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
    def files(self) -> DataFiles:
        return DataFiles.in_dir(self.data_dir)

    @property
    def chain_files(self) -> ChainFiles:
        """`.data/anvil/state.json` (the chain) and `head.json` (the last head seen, to detect losses)."""
        return ChainFiles.in_dir(self.data_dir / "anvil")

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def frontend_dist(self) -> Path | None:
        """The built web app the API serves at `/` (FRONTEND_DIST, relative to the repo), if it exists."""
        frontend = Path(self.setting("FRONTEND_DIST") or self.repo_root / "frontend" / "dist")
        if not frontend.is_absolute():
            frontend = self.repo_root / frontend
        return frontend if frontend.is_dir() else None

    def short(self, path: Path) -> str:
        """`path` relative to the current directory when inside it (shorter messages)."""
        try:
            return str(path.relative_to(Path.cwd()))
        except ValueError:
            return str(path)

