"""Fixtures for testing `scripts/deploy.py` the way operators run it: `ape run deploy` in a subprocess.

Run with `python -m pytest -p no:ape_test tests/deploy` (the ape pytest plugin is not needed: the
script runs in its own `ape` process).

The network is the one real users pick for Sepolia, `ethereum:sepolia:node`, with the node's URI
pointed at a local Anvil that serves Sepolia's chain id (11155111) through ape's own environment
variable `APE_NODE_ETHEREUM`. The deployer is an ape keyfile account in a throwaway
`APE_DATA_FOLDER`, unlocked with ape's `APE_ACCOUNTS_<alias>_PASSPHRASE`, exactly as the script's
docstring tells users. One deviation from a real Sepolia run: Anvil mines one block per transaction
and nothing else, and ape waits for Sepolia's 2 confirmations with no time limit, so
`APE_ETHEREUM_SEPOLIA` sets `required_confirmations` to 0 (otherwise the first deploy hangs).

Every `ape` invocation is timed; the times are printed at the end of the session.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from eth_account import Account

from healthledger.devstack.anvil import AnvilNode, DevAccount, dev_accounts

REPO_ROOT = Path(__file__).resolve().parents[2]
SEPOLIA_CHAIN_ID = 11155111
NETWORK = "ethereum:sepolia:node"
DEPLOYER_ALIAS = "hl_test_deployer"
DEPLOYER_INDEX = 1  # not ape's test account #0, so the tests show the alias is what signs
REGISTRAR_INDEX = 2  # a registrar apart from the admin (the deployer), as on a real network
PASSPHRASE = "correct horse battery staple"
APE_TIMEOUT_SECONDS = 180
# Variables the script reads: never inherit them from the developer's shell.
SCRIPT_VARIABLES = (
    "DEPLOYER_ALIAS", "REGISTRAR_ADDRESS", "RELAYER_ADDRESS", "DEPLOYMENTS_DIR", "REDEPLOY", "ADMIN_DELAY",
    "BILL_TOKEN_ADDRESS",
    "APE_NODE_ETHEREUM", "APE_NODE_SEPOLIA", "APE_ETHEREUM_SEPOLIA", "APE_FOUNDRY_HOST",
)

TIMINGS: list[tuple[str, float]] = []


@dataclass(frozen=True)
class ApeRun:
    args: list[str]
    returncode: int
    output: str  # stdout and stderr, interleaved
    seconds: float


def _ape_executable() -> str:
    beside_python = Path(sys.executable).with_name("ape")
    if beside_python.is_file():
        return str(beside_python)
    found = shutil.which("ape")
    if not found:
        pytest.skip("ape is not installed (make install)")
    return found


@pytest.fixture(scope="session")
def ape_data_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A throwaway ape data folder holding the deployer's keyfile (what `ape accounts import` writes)."""
    folder = tmp_path_factory.mktemp("ape-data")
    accounts = folder / "accounts"
    accounts.mkdir()
    key = dev_accounts()[DEPLOYER_INDEX].private_key
    (accounts / f"{DEPLOYER_ALIAS}.json").write_text(json.dumps(Account.encrypt(key, PASSPHRASE)))
    return folder


@pytest.fixture
def sepolia_anvil(tmp_path: Path) -> Iterator[AnvilNode]:
    """A fresh Anvil per test, serving Sepolia's chain id on a free port."""
    node = AnvilNode(chain_id=SEPOLIA_CHAIN_ID, log_path=tmp_path / "anvil.log")
    node.start()
    try:
        yield node
    finally:
        node.stop()


@pytest.fixture
def deployer(sepolia_anvil: AnvilNode) -> DevAccount:
    return sepolia_anvil.accounts[DEPLOYER_INDEX]


@pytest.fixture
def registrar(sepolia_anvil: AnvilNode) -> DevAccount:
    return sepolia_anvil.accounts[REGISTRAR_INDEX]


@pytest.fixture
def deployments_dir(tmp_path: Path) -> Path:
    return tmp_path / "deployments"


@pytest.fixture
def ape_env(
    sepolia_anvil: AnvilNode, ape_data_folder: Path, deployments_dir: Path, registrar: DevAccount
) -> dict[str, str]:
    """The environment of an operator deploying to `ethereum:sepolia:node` (here: the local Anvil):
    the deployer's alias and the registrar (required on live networks); ADMIN_DELAY unset (2 days)."""
    env = {k: v for k, v in os.environ.items() if k not in SCRIPT_VARIABLES and not k.startswith("APE_ACCOUNTS_")}
    env.update(
        PATH=os.pathsep.join([str(REPO_ROOT / "bin"), str(Path(sys.executable).parent), env.get("PATH", "")]),
        APE_DATA_FOLDER=str(ape_data_folder),
        APE_NODE_ETHEREUM=json.dumps({"sepolia": {"uri": sepolia_anvil.rpc_url}}),
        APE_ETHEREUM_SEPOLIA=json.dumps({"required_confirmations": 0}),
        DEPLOYER_ALIAS=DEPLOYER_ALIAS,
        REGISTRAR_ADDRESS=registrar.address,
        DEPLOYMENTS_DIR=str(deployments_dir),
        **{f"APE_ACCOUNTS_{DEPLOYER_ALIAS}_PASSPHRASE": PASSPHRASE},
    )
    return env


@pytest.fixture
def run_deploy(ape_env: dict[str, str], request: pytest.FixtureRequest) -> Callable[..., ApeRun]:
    """`ape run deploy --network ethereum:sepolia:node [args]` in the project; timed; asserts exit 0
    unless `check=False`."""

    def run(*args: str, env: dict[str, str] | None = None, check: bool = True, network: str = NETWORK) -> ApeRun:
        command = [_ape_executable(), "run", "deploy", "--network", network, *args]
        started = time.monotonic()
        completed = subprocess.run(
            command,
            cwd=REPO_ROOT,
            env={**ape_env, **(env or {})},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=APE_TIMEOUT_SECONDS,
            check=False,
        )
        seconds = time.monotonic() - started
        shown = " ".join(["ape", *command[1:]])
        overrides = " ".join(f"{k}={v!r}" if not v or " " in v else f"{k}={v}" for k, v in (env or {}).items())
        TIMINGS.append((f"{request.node.name}: {overrides + ' ' if overrides else ''}{shown}", seconds))
        result = ApeRun(command, completed.returncode, completed.stdout, seconds)
        if check:
            assert completed.returncode == 0, f"{shown} exited {completed.returncode}:\n{completed.stdout}"
        return result

    return run


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not TIMINGS:
        return
    terminalreporter.section("ape run deploy timings")
    for label, seconds in TIMINGS:
        terminalreporter.write_line(f"{seconds:6.2f} s  {label}")
    total = sum(seconds for _, seconds in TIMINGS)
    terminalreporter.write_line(f"{total:6.2f} s  total, {len(TIMINGS)} invocations")
