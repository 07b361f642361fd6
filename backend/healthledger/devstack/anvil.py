"""A local Anvil node for development and tests, plus the JSON-RPC "cheat codes" tests need.

Anvil (the real Foundry binary, from npm `@foundry-rs/anvil-linux-amd64`, linked at `bin/anvil`)
starts in well under a second, so every test session gets its own node on a free 127.0.0.1 port
instead of sharing a long-lived one. With `state_path` the chain is loaded from and dumped to a file
by Anvil itself (`--state`, written at exit only, in place). With `load_state_path` Anvil only loads
the file (`--load-state`) and never writes it: `make run` saves it itself, atomically, after every
block with the `anvil_dumpState` RPC (see `chainstate.py`).

    with AnvilNode() as node:
        w3 = Web3(Web3.HTTPProvider(node.rpc_url))
        key = node.accounts[0].private_key

Dev accounts are derived here from the same mnemonic Anvil uses (BIP-44 m/44'/60'/0'/0/i), so a
test never has to scrape Anvil's banner for keys.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from eth_account import Account

from .process import ManagedProcess, ProcessExitedError, free_port, start_retrying_port_conflicts

__all__ = [
    "DEFAULT_CHAIN_ID",
    "DEFAULT_MNEMONIC",
    "AnvilNode",
    "AnvilNotInstalled",
    "AnvilRpcError",
    "DevAccount",
    "dev_accounts",
    "decode_state_dump",
    "find_anvil",
    "rpc_call",
]

REPO_ROOT = Path(__file__).resolve().parents[3]
DEFAULT_MNEMONIC = "test test test test test test test test test test test junk"
DEFAULT_CHAIN_ID = 31337
START_TIMEOUT_SECONDS = 15.0
# Anvil writes `--state` on SIGTERM; give it time to do so before SIGKILL.
STOP_TIMEOUT_SECONDS = 10.0
# A free port can be taken between `free_port()` and Anvil's bind; retry with a new one.
START_ATTEMPTS = 3
# The RPC is always local: never send it through an HTTP(S)_PROXY from the environment.
_LOCAL_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class AnvilNotInstalled(RuntimeError):
    """No anvil binary was found."""


class AnvilRpcError(RuntimeError):
    """Anvil answered a JSON-RPC request with an error."""


def rpc_call(url: str, method: str, params: Sequence[Any] = (), *, timeout: float = 10.0, request_id: int = 1) -> Any:
    """One synchronous JSON-RPC call to a local node (stdlib only, so the launcher needs no web3 provider).

    A module function, not only a method, so that a node this process did not start (the leftover of
    a killed run) can be asked too. Raises OSError (urllib.error.URLError included) when the node does
    not answer, AnvilRpcError when it answers with an error.
    """
    body = json.dumps({"jsonrpc": "2.0", "id": request_id, "method": method, "params": list(params)})
    request = urllib.request.Request(url, data=body.encode(), headers={"Content-Type": "application/json"}, method="POST")
    with _LOCAL_OPENER.open(request, timeout=timeout) as response:
        answer = json.loads(response.read())
    if answer.get("error"):
        raise AnvilRpcError(f"{method}: {answer['error']}")
    return answer.get("result")


def decode_state_dump(result: str) -> bytes:
    """`anvil_dumpState`'s answer ("0x" + hex of gzip-compressed JSON) as the JSON `--load-state` reads.

    Anvil 1.7 refuses the gzip form in `--load-state` ("stream did not contain valid UTF-8"), so the
    file must hold the plain JSON. gzip's CRC also proves the dump arrived whole.
    """
    if not isinstance(result, str) or not result.startswith("0x"):
        raise ValueError(f"anvil_dumpState answered {str(result)[:40]!r}, not 0x-prefixed hex")
    try:
        return gzip.decompress(bytes.fromhex(result[2:]))
    except (ValueError, OSError, EOFError) as exc:
        raise ValueError(f"anvil_dumpState answered something that is not gzip-compressed hex: {exc}") from None


@dataclass(frozen=True)
class DevAccount:
    """A funded dev account: checksummed address and its 0x-hex private key."""

    address: str
    private_key: str

    def __repr__(self) -> str:  # keys are public test keys, but keep the habit of not printing keys
        return f"DevAccount({self.address})"


@cache
def dev_accounts(mnemonic: str = DEFAULT_MNEMONIC, count: int = 10) -> tuple[DevAccount, ...]:
    """The accounts Anvil funds for `mnemonic` (cached: HD derivation runs PBKDF2 per account)."""
    Account.enable_unaudited_hdwallet_features()
    accounts = []
    for index in range(count):
        acct = Account.from_mnemonic(mnemonic, account_path=f"m/44'/60'/0'/0/{index}")
        accounts.append(DevAccount(address=acct.address, private_key="0x" + acct.key.hex().removeprefix("0x")))
    return tuple(accounts)


def find_anvil() -> Path:
    """The anvil binary: $ANVIL_BIN, else `bin/anvil` in this checkout, else `anvil` on PATH."""
    override = os.environ.get("ANVIL_BIN")
    candidates = [Path(override)] if override else [REPO_ROOT / "bin" / "anvil"]
    on_path = shutil.which("anvil")
    if not override and on_path:
        candidates.append(Path(on_path))
    for path in candidates:
        if path.is_file() and os.access(path, os.X_OK):
            return path
    raise AnvilNotInstalled(
        f"anvil not found (looked at {', '.join(map(str, candidates))}): run `make install` or set ANVIL_BIN"
    )


class AnvilNode:
    """Start and stop one Anvil process on 127.0.0.1.

    The port is free and chosen at `start()` unless given. `chain_id` defaults to Anvil's 31337.
    `state_path` makes the chain persistent (`--state`: loaded at start if present, written at stop).
    `load_state_path` only loads the file at start, if present (`--load-state`); Anvil never writes
    it, the caller saves it (e.g. `dump_state()`), so no write of Anvil's can leave it half done.
    """

    def __init__(
        self,
        *,
        port: int | None = None,
        host: str = "127.0.0.1",
        chain_id: int | None = None,
        state_path: str | os.PathLike[str] | None = None,
        load_state_path: str | os.PathLike[str] | None = None,
        mnemonic: str = DEFAULT_MNEMONIC,
        account_count: int = 10,
        log_path: str | os.PathLike[str] | None = None,
        binary: str | os.PathLike[str] | None = None,
        extra_args: Sequence[str] = (),
        cwd: str | os.PathLike[str] | None = None,
    ) -> None:
        self.host = host
        self._requested_port = port
        self.port: int | None = port
        self.chain_id = chain_id if chain_id is not None else DEFAULT_CHAIN_ID
        if state_path is not None and load_state_path is not None:
            raise ValueError("give state_path (Anvil loads and writes) or load_state_path (Anvil only loads), not both")
        self.state_path = Path(state_path) if state_path is not None else None
        self.load_state_path = Path(load_state_path) if load_state_path is not None else None
        self.mnemonic = mnemonic
        self.account_count = account_count
        self.log_path = Path(log_path) if log_path is not None else None
        self._binary = Path(binary) if binary is not None else None
        self.extra_args = list(extra_args)
        self.cwd = cwd
        self._process: ManagedProcess | None = None
        self._rpc_id = 0

    # -- lifecycle -------------------------------------------------------------------------------

    @property
    def rpc_url(self) -> str:
        """HTTP JSON-RPC endpoint (valid once started)."""
        if self.port is None:
            raise RuntimeError("AnvilNode is not started")
        return f"http://{self.host}:{self.port}"

    @property
    def accounts(self) -> tuple[DevAccount, ...]:
        """The funded dev accounts, in Anvil's order (index 0 is Anvil's default sender)."""
        return dev_accounts(self.mnemonic, self.account_count)

    @property
    def pid(self) -> int | None:
        """The server's process id while it runs (benchmarks read its CPU time from /proc)."""
        return self._process.pid if self._process is not None else None

    def is_running(self) -> bool:
        return self._process is not None and self._process.is_running()

    def _command(self, port: int) -> list[str]:
        command = [
            str(self._binary or find_anvil()),
            "--host", self.host,
            "--port", str(port),
            "--chain-id", str(self.chain_id),
            "--mnemonic", self.mnemonic,
            "--accounts", str(self.account_count),
            "--silent",
        ]
        if self.state_path is not None:
            self.state_path.parent.mkdir(parents=True, exist_ok=True)
            command += ["--state", str(self.state_path)]
        if self.load_state_path is not None and self.load_state_path.exists():
            command += ["--load-state", str(self.load_state_path)]
        return command + self.extra_args

    def start(self) -> AnvilNode:
        """Launch Anvil and wait (polling `eth_chainId`) until it answers."""
        if self.is_running():
            raise RuntimeError("AnvilNode is already running")
        attempts = 1 if self._requested_port is not None else START_ATTEMPTS
        start_retrying_port_conflicts(self._launch, attempts, retry_on=ProcessExitedError)
        served = self.rpc_chain_id()
        if served != self.chain_id:
            self.stop()
            raise RuntimeError(f"anvil on port {self.port} serves chain {served}, expected {self.chain_id}")
        return self

    def _launch(self) -> None:
        """One try: a port (the requested one, else a free one), the process, the wait for its answer."""
        self.port = self._requested_port or free_port(self.host)
        process = ManagedProcess(self._command(self.port), name="anvil", log_path=self.log_path, cwd=self.cwd)
        process.start()
        self._process = process
        try:
            process.wait_ready(self._answers, timeout=START_TIMEOUT_SECONDS, description=f"anvil on port {self.port}")
        except BaseException:
            process.stop()
            self._process = None
            raise

    def stop(self) -> None:
        """SIGTERM Anvil (it writes `--state` then) and wait for it; idempotent."""
        if self._process is not None:
            self._process.stop(timeout=STOP_TIMEOUT_SECONDS)
            self._process = None

    def __enter__(self) -> AnvilNode:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.is_running() else "stopped"
        return f"<AnvilNode {self.host}:{self.port} chain={self.chain_id} {state}>"

    # -- JSON-RPC --------------------------------------------------------------------------------

    def _answers(self) -> bool:
        try:
            self.rpc("eth_chainId", timeout=1.0)
        except (OSError, urllib.error.URLError, AnvilRpcError):
            return False
        return True

    def rpc(self, method: str, params: Sequence[Any] = (), *, timeout: float = 10.0) -> Any:
        """One synchronous JSON-RPC call (see `rpc_call`)."""
        self._rpc_id += 1
        return rpc_call(self.rpc_url, method, params, timeout=timeout, request_id=self._rpc_id)

    def rpc_chain_id(self) -> int:
        """The chain id the node serves."""
        return int(self.rpc("eth_chainId"), 16)

    def block_number(self) -> int:
        return int(self.rpc("eth_blockNumber"), 16)

    def dump_state(self, timeout: float = 30.0) -> bytes:
        """The whole chain (accounts, blocks, transactions) as the JSON `--load-state` reads."""
        return decode_state_dump(self.rpc("anvil_dumpState", timeout=timeout))

    def latest_timestamp(self) -> int:
        """Timestamp of the latest block (what `block.timestamp` was for the last mined tx)."""
        return int(self.rpc("eth_getBlockByNumber", ["latest", False])["timestamp"], 16)

    # -- time travel and snapshots (tests) -------------------------------------------------------

    def increase_time(self, seconds: int) -> None:
        """Move the clock forward for the next block; call `mine()` to make reads see it."""
        self.rpc("evm_increaseTime", [int(seconds)])

    def set_next_block_timestamp(self, timestamp: int) -> None:
        self.rpc("evm_setNextBlockTimestamp", [int(timestamp)])

    def mine(self, blocks: int = 1) -> None:
        """Mine `blocks` empty blocks."""
        for _ in range(blocks):
            self.rpc("evm_mine")

    def advance(self, seconds: int) -> int:
        """`increase_time` + `mine`: returns the new latest block timestamp."""
        self.increase_time(seconds)
        self.mine()
        return self.latest_timestamp()

    def snapshot(self) -> str:
        """Snapshot the whole chain state; pass the id to `revert`."""
        return str(self.rpc("evm_snapshot"))

    def revert(self, snapshot_id: str) -> bool:
        """Return to a snapshot (which is consumed: take a new one to revert again)."""
        return bool(self.rpc("evm_revert", [snapshot_id]))

    def set_balance(self, address: str, wei: int) -> None:
        self.rpc("anvil_setBalance", [address, hex(wei)])
