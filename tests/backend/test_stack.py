"""`make run` (scripts/run_stack.py): start, reuse across restarts, clean stop, crash report, port check.

The orchestrator runs as a real subprocess with a temporary data dir (HEALTHLEDGER_DATA_DIR) and
free ports (PORT, ANVIL_PORT), exactly as `make run` runs it. Its children are found independently
of its own bookkeeping: every process whose environment carries our temporary HEALTHLEDGER_DATA_DIR
(they all inherit it), so "nothing left behind" is checked against /proc, not against what the
orchestrator claims.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from healthledger.devstack import chainstate, stack
from healthledger.devstack.anvil import AnvilNode, dev_accounts, rpc_call
from healthledger.devstack.chainstate import ChainFiles, ChainHead, ChainLoss
from healthledger.devstack.children import anvil_url_of
from healthledger.devstack.config import redact_url
from healthledger.devstack.ipfs import JsIpfsNode
from healthledger.devstack.mongo import SecantusServer
from tests.backend.support.records import upload
from tests.backend.support.wallet import Wallet
from healthledger.devstack.process import free_port, wait_until

ROOT = Path(__file__).resolve().parents[2]
RUN_STACK = ROOT / "scripts" / "run_stack.py"
READY_LINE = "Press Ctrl-C to stop."
START_TIMEOUT = 180.0  # cold start is ~5-10 s; generous for loaded CI machines
STOP_TIMEOUT = 60.0
ADDRESS = r"0x[0-9a-fA-F]{40}"
# Settings that would make the orchestrator use outside services; the tests use the embedded ones.
OUTSIDE_SETTINGS = (
    "ETH_RPC_URL", "FACTORY_ADDRESS", "BILL_PAYMENTS_ADDRESS", "BILL_TOKEN_ADDRESS", "IPFS_API_URL", "MONGODB_URI", "RELAYER_PRIVATE_KEY", "CHAIN_ID",
    "JWT_SECRET", "FRONTEND_DIST", "PUBLIC_URL", "SIWE_DOMAIN", "HOST",
)


def _app_import_error() -> str | None:
    try:
        importlib.import_module("healthledger.app")
    except Exception as exc:  # the API is still being written: skip only the test that needs it
        return f"{type(exc).__name__}: {exc}"
    return None


# ------------------------------------------------------------------------------------------ helpers


def processes_using(data_dir: Path) -> dict[int, str]:
    """pid -> command of every live (non-zombie) process whose environment names `data_dir`."""
    marker = f"HEALTHLEDGER_DATA_DIR={data_dir}".encode()
    found: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if marker not in (entry / "environ").read_bytes().split(b"\0"):
                continue
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except (OSError, IndexError):
            continue
        if state != "Z":
            found[int(entry.name)] = cmdline
    return found


class StackRun:
    """One `python scripts/run_stack.py` with its output collected line by line."""

    def __init__(
        self, data_dir: Path, port: int, anvil_port: int, *args: str, env: dict[str, str] | None = None
    ) -> None:
        run_env = {k: v for k, v in os.environ.items() if k not in OUTSIDE_SETTINGS}
        run_env.update(
            HEALTHLEDGER_DATA_DIR=str(data_dir),
            HEALTHLEDGER_ENV_FILE=os.devnull,  # a developer's .env must not change what the test runs
            PORT=str(port),
            ANVIL_PORT=str(anvil_port),
            **(env or {}),
        )
        self.port = port
        self.lines: list[str] = []
        self.proc = subprocess.Popen(
            [sys.executable, str(RUN_STACK), *args],
            cwd=ROOT,
            env=run_env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_ready(self, timeout: float = START_TIMEOUT) -> str:
        """Wait for the summary's last line; fail (with the output) if the orchestrator exits first."""

        def ready() -> bool:
            if READY_LINE in self.lines:
                return True
            if self.proc.poll() is not None:
                self._reader.join(5)
                pytest.fail(f"run_stack exited with {self.proc.returncode} before it was ready:\n{self.output}")
            return False

        wait_until(ready, timeout, 0.1, description="run_stack to print its summary")
        return self.output

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout: float = STOP_TIMEOUT) -> int:
        self.proc.send_signal(sig)
        return self.wait(timeout)

    def wait(self, timeout: float = STOP_TIMEOUT) -> int:
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"run_stack did not exit within {timeout} s:\n{self.output}")
        self._reader.join(5)
        return code

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def factory_in(output: str) -> tuple[str, str]:
    """(factory address, how it came: "deployed now" / "reused from ...") from the summary."""
    match = re.search(rf"Factory\s+({ADDRESS})\s+\(([^)]*)", output)
    assert match, output
    return match.group(1), match.group(2)


def bills_in(output: str) -> tuple[str, str]:
    """(BillPayments address, bill token address) from the summary."""
    payments = re.search(rf"BillPayments\s+({ADDRESS})", output)
    token = re.search(rf"Bill token\s+({ADDRESS})", output)
    assert payments and token, output
    return payments.group(1), token.group(1)


def token_balance(rpc_url: str, token: str, owner: str) -> int:
    """ERC-20 balanceOf, read straight from the chain."""
    from web3 import Web3

    from healthledger.chain.artifacts import test_usd

    w3 = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": 10}))
    return int(w3.eth.contract(address=token, abi=test_usd().abi).functions.balanceOf(owner).call())


def assert_nothing_left(data_dir: Path) -> None:
    """No process of this stack survives it (a short grace for ones being reaped right now)."""
    deadline = time.monotonic() + 5
    while (remaining := processes_using(data_dir)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not remaining, f"processes left behind: {remaining}"


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    """A fresh data dir; whatever still runs on it at the end (a failed test) is killed."""
    path = tmp_path / "data"
    yield path
    for pid in processes_using(path):
        try:
            os.killpg(os.getpgid(pid), signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def lock_children(data_dir: Path) -> dict[str, int]:
    return json.loads((data_dir / "stack.lock").read_text())["children"]


def kill_everything(run: StackRun, data_dir: Path) -> None:
    """A crash of the whole stack (power cut, OOM of the box): SIGKILL the orchestrator and every child at once."""
    victims = [run.proc.pid, *(pid for pid in processes_using(data_dir) if pid != run.proc.pid)]
    for pid in victims:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    run.wait(10)
    assert_nothing_left(data_dir)


def transfer(rpc_url: str) -> tuple[str, int, str]:
    """Send 1 wei between two dev accounts (Anvil signs for them): (tx hash, block number, block hash)."""
    from web3 import Web3

    w3 = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": 10}))
    accounts = dev_accounts()
    tx_hash = w3.eth.send_transaction({"from": accounts[3].address, "to": accounts[4].address, "value": 1})
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30, poll_latency=0.05)
    return tx_hash.to_0x_hex(), receipt["blockNumber"], receipt["blockHash"].to_0x_hex()


def on_chain(rpc_url: str, tx: tuple[str, int, str]) -> bool:
    """Whether the chain holds `tx` in the same block (same number and hash) as when it was mined."""
    receipt = rpc_call(rpc_url, "eth_getTransactionReceipt", [tx[0]])
    return receipt is not None and (int(receipt["blockNumber"], 16), receipt["blockHash"]) == tx[1:]


def saved_state(data_dir: Path) -> dict:
    """The chain state on disk (what the next start loads); {} before the first save."""
    try:
        return json.loads((data_dir / "anvil" / "state.json").read_bytes())
    except FileNotFoundError:
        return {}


def saved_transactions(data_dir: Path) -> set[str]:
    """The hashes of the transactions in the chain state on disk."""
    return {t["info"]["transaction_hash"] for t in saved_state(data_dir).get("transactions", [])}


# ------------------------------------------------------------------------------------------- tests


def test_services_alone_outside_services_and_crashes(tmp_path: Path, data_dir: Path) -> None:
    """--no-api starts chain + IPFS + MongoDB; a second stack given their settings starts only the
    API and leaves them alone. Then the launcher itself is SIGKILLed: the next run stops what it left
    and reuses the deployment. Then a child dies: it is reported, the rest stopped, the exit code is 1."""
    port, anvil_port = free_port(), free_port()
    services = StackRun(data_dir, port, anvil_port, "--no-api")
    api_dir = tmp_path / "api-only"
    try:
        output = services.wait_ready()
        factory, origin = factory_in(output)
        assert origin == "deployed now"
        assert re.search(r"local Anvil, chain id 31337, RPC http://127\.0\.0\.1:\d+", output), output
        assert "LOCAL ONLY" in output and "demo doctor (registered now)" in output
        children = lock_children(data_dir)
        assert set(children) == {"anvil", "ipfs", "mongodb"}
        running = processes_using(data_dir)
        assert set(children.values()) <= set(running), (children, running)
        assert (data_dir / "secrets.json").stat().st_mode & 0o777 == 0o600
        assert (data_dir / "api.env").stat().st_mode & 0o777 == 0o600
        settings = dict(
            shlex.split(line)[0].split("=", 1) for line in (data_dir / "api.env").read_text().splitlines()
        )
        assert settings["FACTORY_ADDRESS"] == factory and settings["CHAIN_ID"] == "31337"
        # Bills: BillPayments + TestUSD deployed with the factory, passed to the API, 10,000 TUSD for the patient.
        bill_payments, bill_token = bills_in(output)
        assert (settings["BILL_PAYMENTS_ADDRESS"], settings["BILL_TOKEN_ADDRESS"]) == (bill_payments, bill_token)
        assert "10,000 minted to the demo patient now" in output and f"Token contract    {bill_token}" in output
        patient = dev_accounts()[2].address
        assert token_balance(settings["ETH_RPC_URL"], bill_token, patient) == 10_000 * 10**6

        if _app_import_error() is None:
            outside = {
                k: settings[k]
                for k in (
                    "ETH_RPC_URL", "FACTORY_ADDRESS", "BILL_PAYMENTS_ADDRESS", "BILL_TOKEN_ADDRESS",
                    "RELAYER_PRIVATE_KEY", "IPFS_API_URL", "MONGODB_URI",
                )
            }
            port = free_port()
            api_only = StackRun(api_dir, port, free_port(), env=outside)
            try:
                output = api_only.wait_ready()
                assert set(lock_children(api_dir)) == {"api"}
                assert "(FACTORY_ADDRESS)" in output and "(IPFS_API_URL)" in output and "(MONGODB_URI)" in output
                assert bills_in(output) == (bill_payments, bill_token) and "(BILL_TOKEN_ADDRESS)" in output
                assert "Demo accounts" not in output  # dev keys are shown for the local chain only
                status = httpx.get(f"http://127.0.0.1:{port}/api/system/status", timeout=10, trust_env=False)
                assert status.json()["status"] == "ok", status.text
                assert api_only.stop() == 0, api_only.output
            finally:
                api_only.kill()
            assert_nothing_left(api_dir)
            assert services.proc.poll() is None  # the outside services were left alone
            assert lock_children(data_dir) == children

        # The launcher is killed outright: its children (own sessions) outlive it ...
        services.kill()
        assert set(children.values()) <= set(processes_using(data_dir))
    finally:
        services.kill()
        for pid in processes_using(api_dir):
            os.killpg(os.getpgid(pid), signal.SIGKILL)

    # ... and the next run stops them first, then starts afresh on the same data.
    again = StackRun(data_dir, port, anvil_port, "--no-api")
    try:
        output = again.wait_ready()
        assert "stopping what an earlier run left behind" in output, output
        assert "saved the chain of that anvil first" in output, output
        again_factory, origin = factory_in(output)
        assert again_factory == factory and origin.startswith("reused from"), output
        assert bills_in(output) == (bill_payments, bill_token) and "minted to the demo patient now" not in output
        assert token_balance(settings["ETH_RPC_URL"], bill_token, patient) == 10_000 * 10**6  # minted once
        assert not set(children.values()) & set(processes_using(data_dir))
        # A child dies: it is named with how it ended, the others are stopped, the exit code is 1.
        os.kill(lock_children(data_dir)["ipfs"], signal.SIGKILL)
        assert again.wait() == 1, again.output
    finally:
        again.kill()
    assert re.search(r"error: ipfs \(pid \d+\) was killed by SIGKILL unexpectedly", again.output), again.output
    assert "anvil: stopped" in again.output and "mongodb: stopped" in again.output
    assert_nothing_left(data_dir)


@pytest.mark.skipif(bool(_app_import_error()), reason=f"the API app cannot be imported yet: {_app_import_error()}")
def assert_page_loads_in_chromium(url: str) -> None:
    """The built web app, served by the API at `/`, renders in headless Chromium."""
    assert (ROOT / "frontend" / "dist" / "index.html").is_file(), "build the web app first (make test does)"
    with tempfile.TemporaryDirectory() as profile:
        dom = subprocess.run(
            [
                os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"),
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                f"--user-data-dir={profile}", "--virtual-time-budget=5000", "--dump-dom", url + "/",
            ],
            capture_output=True, text=True, timeout=60, check=True,
        ).stdout
    assert "HealthLedger" in dom
    assert 'id="root"' in dom and '<div id="root"></div>' not in dom, "the app did not render"


def test_full_stack_serves_and_restarts(data_dir: Path) -> None:
    anvil_port, port = free_port(), free_port()
    patient, content = Wallet.random(), os.urandom(4096)
    url = f"http://127.0.0.1:{port}"

    first = StackRun(data_dir, port, anvil_port)
    try:
        output = first.wait_ready()
        assert f"HealthLedger is running: {url}" in output
        factory, origin = factory_in(output)
        assert origin == "deployed now"
        status = httpx.get(f"{url}/api/system/status", timeout=10, trust_env=False)
        assert status.status_code == 200
        body = status.json()
        assert body["dependencies"]["chain"]["factory_address"] == factory
        assert body["dependencies"]["chain"]["chain_id"] == 31337
        wallet_config = httpx.get(f"{url}/api/system/config", timeout=10, trust_env=False).json()
        assert wallet_config.pop("max_upload_bytes") > 0 and wallet_config.pop("confirmations") >= 0
        assert wallet_config == {
            "chain_id": 31337,
            "chain_name": "HealthLedger local (Anvil)",
            "rpc_url": f"http://127.0.0.1:{anvil_port}",
        }
        assert set(lock_children(data_dir)) == {"anvil", "ipfs", "mongodb", "api"}
        assert len(processes_using(data_dir)) >= 4
        assert_page_loads_in_chromium(url)
        with httpx.Client(base_url=url, timeout=60, trust_env=False) as client:
            patient.login(client)
            uploaded = upload(client, patient, content)
            assert uploaded.status_code == 201, uploaded.text
        assert first.stop(signal.SIGINT) == 0, first.output  # Ctrl-C
    finally:
        first.kill()
    assert first.output.index("api: stopped") < first.output.index("anvil: stopped")  # reverse order
    assert_nothing_left(data_dir)

    second = StackRun(data_dir, port, anvil_port)
    try:
        output = second.wait_ready()
        again, origin = factory_in(output)
        assert (again, origin.startswith("reused from")) == (factory, True), output
        status = httpx.get(f"{url}/api/system/status", timeout=10, trust_env=False).json()
        assert status["dependencies"]["chain"]["factory_address"] == factory
        with httpx.Client(base_url=url, timeout=60, trust_env=False) as client:  # the record survived
            patient.login(client)
            records = client.get("/api/medical-records/patient-records", headers=patient.headers).json()["records"]
            assert [r["cid"] for r in records] == [uploaded.json()["cid"]]
            view = client.get(
                f"/api/medical-records/view/{records[0]['cid']}",
                headers={**patient.headers, "X-Wallet-Signature": patient.key_signature(client)},
            )
            assert view.status_code == 200 and view.content == content
        assert second.stop(signal.SIGTERM) == 0, second.output
    finally:
        second.kill()
    assert_nothing_left(data_dir)


def worker_processes(parent: int) -> dict[int, str]:
    """pid -> command of `parent`'s child processes that serve requests (uvicorn's spawned workers,
    not multiprocessing's resource tracker)."""
    found = {}
    for entry in Path("/proc").iterdir():
        try:
            if not entry.name.isdigit() or int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) != parent:
                continue
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, IndexError, ValueError):
            continue
        if "spawn_main" in cmdline and "resource_tracker" not in cmdline:
            found[int(entry.name)] = cmdline
    return found


def test_several_api_instances_share_one_port(data_dir: Path) -> None:
    """API_INSTANCES=3: three worker processes behind one port, each having run its own start-up;
    uploads through the port work; every scrape of /metrics counts all three uploads, whichever
    worker answers (the launcher's fresh PROMETHEUS_MULTIPROC_DIR); a stop leaves nothing behind."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    stale = data_dir / "metrics" / "counter_1.db"  # a previous run's file: wiped before the workers start
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"left by the last run")
    run = StackRun(data_dir, port, free_port(), env={"API_INSTANCES": "3"})
    try:
        output = run.wait_ready()
        assert not stale.exists()
        assert len(list((data_dir / "metrics").glob("histogram_*.db"))) == 3
        assert f"HealthLedger is running: {url}" in output
        assert re.search(r"API instances\s+3 ", output), output
        workers = worker_processes(lock_children(data_dir)["api"])
        assert len(workers) == 3, workers
        assert (data_dir / "logs" / "api.log").read_text().count(stack.STARTUP_LINE) == 3
        patients = [Wallet.random() for _ in range(3)]
        for patient in patients:
            with httpx.Client(base_url=url, timeout=60, trust_env=False) as client:
                patient.login(client)
                uploaded = upload(client, patient, os.urandom(2048))
                assert uploaded.status_code == 201, uploaded.text

        def created_in_a_scrape() -> float:
            answer = httpx.get(f"{url}/metrics", timeout=10, trust_env=False, headers={"Connection": "close"})
            assert answer.status_code == 200, answer.text
            line = next(line for line in answer.text.splitlines() if line.startswith('healthledger_uploads_total{outcome="created"}'))
            return float(line.rsplit(" ", 1)[1])

        wait_until(lambda: created_in_a_scrape() == 3, 15, description="a scrape counting the 3 uploads")
        assert [created_in_a_scrape() for _ in range(5)] == [3] * 5
        assert set(worker_processes(lock_children(data_dir)["api"])) == set(workers)
        assert run.stop(signal.SIGTERM) == 0, run.output
    finally:
        run.kill()
    assert_nothing_left(data_dir)


def test_chain_survives_a_kill_and_a_clean_stop_and_a_lost_block_is_reported(
    data_dir: Path, ipfs_node: JsIpfsNode, mongo_server: SecantusServer
) -> None:
    """Each block is on disk a moment after it is mined, so a SIGKILL of everything right then loses
    nothing; SIGTERM right after a transaction saves it too; and a state file older than the chain the
    last run saw (a crash between a block and its save) is named at start: which blocks were lost.

    Three starts, so the stack uses the session's IPFS node and MongoDB as outside services: it then
    starts only Anvil (about 2 s a start instead of 6-10 s), and the chain is all this test is about.
    """
    port, anvil_port = free_port(), free_port()
    rpc = f"http://127.0.0.1:{anvil_port}"
    state_file = data_dir / "anvil" / "state.json"
    outside = {"IPFS_API_URL": ipfs_node.api_url, "MONGODB_URI": mongo_server.uri}

    first = StackRun(data_dir, port, anvil_port, "--no-api", env=outside)
    try:
        first.wait_ready()
        # Recognisable as this stack's even without HEALTHLEDGER_DATA_DIR in its environment (`make run`
        # sets none) and before a state file names the data dir on its command line.
        assert Path(os.readlink(f"/proc/{lock_children(data_dir)['anvil']}/cwd")) == data_dir
        head = chainstate.chain_head(rpc)  # deployment and demo doctor: keep this state for the last part

        def head_saved() -> bytes | None:
            data = state_file.read_bytes() if state_file.exists() else b"{}"
            return data if json.loads(data).get("best_block_number") == head.number else None

        earlier_state = wait_until(head_saved, 10, description="the start-up blocks saved")
        tx1 = transfer(rpc)
        wait_until(lambda: tx1[0] in saved_transactions(data_dir), 10, description="the block of tx1 saved")
        kill_everything(first, data_dir)  # right after the save: nothing may be lost
    finally:
        first.kill()

    second = StackRun(data_dir, port, anvil_port, "--no-api", env=outside)
    try:
        output = second.wait_ready()
        assert "warning" not in output and "left behind" not in output, output
        assert factory_in(output)[1].startswith("reused from"), output
        assert on_chain(rpc, tx1), "the transaction saved before the SIGKILL is gone"
        tx2 = transfer(rpc)
        assert second.stop(signal.SIGTERM) == 0, second.output  # at once: the final save must keep tx2
    finally:
        second.kill()
    assert "anvil: stopped in" in second.output and f"(chain saved at block {tx2[1]})" in second.output
    assert_nothing_left(data_dir)
    # What the next start loads holds tx2 in the same block (checked on a bare Anvil: no third stack).
    with AnvilNode(load_state_path=state_file, log_path=data_dir / "logs" / "check-anvil.log") as check:
        assert on_chain(check.rpc_url, tx2) and chainstate.chain_head(check.rpc_url).number == tx2[1]

    # The state on disk is older than the chain the last run saw: blocks after `head` are lost.
    state_file.write_bytes(earlier_state)
    third = StackRun(data_dir, port, anvil_port, "--no-api", env=outside)
    try:
        output = third.wait_ready()
        lost = f"blocks {head.number + 1}-{tx2[1]}"
        assert f"warning: the local chain lost {lost} when it was last stopped (crash?)" in output, output
        assert "integrity-report" in output and f"the chain lost {lost} since the last run" in output, output
        assert output.index("lost blocks") < output.index("Factory")  # said before the summary too
        assert not on_chain(rpc, tx1) and not on_chain(rpc, tx2)
        assert third.stop(signal.SIGTERM) == 0, third.output
    finally:
        third.kill()
    assert_nothing_left(data_dir)


def test_port_in_use_is_reported_before_anything_starts(data_dir: Path) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        run = StackRun(data_dir, port, free_port())
        try:
            code = run.wait(60)
        finally:
            run.kill()
    assert code == 1
    assert f"port {port} is in use" in run.output and "set PORT" in run.output, run.output
    assert not data_dir.exists()  # failed before creating anything


# -------------------------------------------------------------------------------------- unit tests


def test_secrets_are_created_once_with_mode_0600(tmp_path: Path) -> None:
    path = tmp_path / "secrets.json"
    first = stack.load_or_create_secrets(path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert set(first) == {"JWT_SECRET"} and len(first["JWT_SECRET"]) >= 32  # nothing that decrypts records
    path.chmod(0o644)
    assert stack.load_or_create_secrets(path) == first
    assert path.stat().st_mode & 0o777 == 0o600


def test_a_retired_secret_is_removed_from_the_secrets_file(tmp_path: Path) -> None:
    """An older version kept its grant key here: no longer used, it must not linger on disk."""
    path = tmp_path / "secrets.json"
    retired = "GRANT" + "_KEY"
    path.write_text(json.dumps({"JWT_SECRET": "j" * 48, retired: "ab" * 32}))
    assert stack.load_or_create_secrets(path) == {"JWT_SECRET": "j" * 48}
    assert retired not in path.read_text() and "ab" * 32 not in path.read_text()


def test_config_outside_services_and_errors(tmp_path: Path) -> None:
    base = {"HEALTHLEDGER_DATA_DIR": str(tmp_path), "HEALTHLEDGER_ENV_FILE": os.devnull}
    config = stack.StackConfig.from_environ(ROOT, base)
    assert (config.port, config.anvil_port, config.data_dir) == (8000, 8545, tmp_path.resolve())
    assert not config.external_chain

    with pytest.raises(stack.StackError, match="FACTORY_ADDRESS is not"):
        stack.StackConfig.from_environ(ROOT, {**base, "ETH_RPC_URL": "http://127.0.0.1:1"})
    with pytest.raises(stack.StackError, match="RELAYER_PRIVATE_KEY"):
        stack.StackConfig.from_environ(
            ROOT, {**base, "ETH_RPC_URL": "http://127.0.0.1:1", "FACTORY_ADDRESS": "0x" + "11" * 20}
        )
    with pytest.raises(stack.StackError, match="not a port"):
        stack.StackConfig.from_environ(ROOT, {**base, "PORT": "eighty"})
    # The local factory's admin delay: 0 unless ADMIN_DELAY_SECONDS says otherwise (a uint48).
    assert config.admin_delay_seconds == 0
    assert stack.StackConfig.from_environ(ROOT, {**base, "ADMIN_DELAY_SECONDS": "172800"}).admin_delay_seconds == 172800
    for bad in ("-1", "two days", str(2**48)):
        with pytest.raises(stack.StackError, match="ADMIN_DELAY_SECONDS"):
            stack.StackConfig.from_environ(ROOT, {**base, "ADMIN_DELAY_SECONDS": bad})

    # API_INSTANCES: how many API processes share the port (1 unless set; a whole number 1-32).
    assert config.api_instances == 1
    assert stack.StackConfig.from_environ(ROOT, {**base, "API_INSTANCES": "3"}).api_instances == 3
    for bad in ("0", "three", "-2", "33"):
        with pytest.raises(stack.StackError, match="API_INSTANCES"):
            stack.StackConfig.from_environ(ROOT, {**base, "API_INSTANCES": bad})

    # `.env` counts, the process environment wins, and empty values (as in .env.example) are unset.
    env_file = tmp_path / ".env"
    env_file.write_text("MONGODB_URI=mongodb://db.example:27017\nPORT=9000\nFACTORY_ADDRESS=\n")
    config = stack.StackConfig.from_environ(ROOT, {**base, "HEALTHLEDGER_ENV_FILE": str(env_file), "PORT": "9100"})
    assert config.port == 9100
    assert config.setting("MONGODB_URI") == "mongodb://db.example:27017"
    assert config.setting("FACTORY_ADDRESS") is None


def test_redacted_urls_hide_credentials_and_keys() -> None:
    assert redact_url("https://eth-sepolia.g.alchemy.com/v2/SECRETKEY") == "https://eth-sepolia.g.alchemy.com/..."
    assert redact_url("mongodb://user:pw@db:27017/?tls=true") == "mongodb://db:27017/..."
    assert redact_url("http://127.0.0.1:5001") == "http://127.0.0.1:5001"


def test_write_atomic_leaves_a_whole_old_or_new_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "anvil" / "state.json"
    chainstate.write_atomic(path, b'{"block": 7}')
    chainstate.write_atomic(path, b'{"block": 8}')
    assert path.read_bytes() == b'{"block": 8}' and path.stat().st_mode & 0o777 == 0o644
    assert [p.name for p in path.parent.iterdir()] == ["state.json"]  # no temporary file left

    def interrupted(src: object, dst: object) -> None:  # a failure between writing and renaming
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(chainstate.os, "replace", interrupted)
    with pytest.raises(OSError):
        chainstate.write_atomic(path, b'{"block": 9, "acc')
    assert path.read_bytes() == b'{"block": 8}'
    assert [p.name for p in path.parent.iterdir()] == ["state.json"]


def test_damaged_state_file_is_moved_aside_and_interrupted_writes_removed(tmp_path: Path) -> None:
    files = ChainFiles.in_dir(tmp_path)
    files.state.write_text('{"block": 8, "accou')  # e.g. half of an in-place dump by an older version
    (tmp_path / ".state.json.x1y2.tmp").write_text('{"blo')  # a write a SIGKILL interrupted
    (tmp_path / ".head.json.a1b2.tmp").write_text("")
    messages: list[str] = []
    chainstate.prepare_state_dir(files, messages.append)
    assert not files.state.exists() and len(list(tmp_path.glob("state.json.damaged-*"))) == 1
    assert not list(tmp_path.glob(".*.tmp"))
    assert len(messages) == 1 and "damaged" in messages[0] and "new chain" in messages[0]
    files.state.write_text('{"block": 9}')
    chainstate.prepare_state_dir(files, messages.append)  # a good file is left alone
    assert files.state.read_text() == '{"block": 9}' and len(messages) == 1


def test_lost_blocks_from_the_recorded_head() -> None:
    recorded = ChainHead(14, "0xaa")
    hashes = {11: "0x11", 14: "0xAA"}
    assert chainstate.find_lost_blocks(None, 3, hashes.get) is None  # first run: nothing recorded
    assert chainstate.find_lost_blocks(recorded, 14, hashes.get) is None  # same head (hash case-insensitive)
    assert chainstate.find_lost_blocks(recorded, 16, hashes.get) is None  # saved beyond the marker: no loss
    loss = chainstate.find_lost_blocks(recorded, 11, hashes.get)
    assert loss == ChainLoss(first=12, last=14, now_at=11) and loss.count == 3
    message = chainstate.lost_blocks_warning(loss)
    assert message.startswith("warning: the local chain lost blocks 12-14 when it was last stopped (crash?)")
    assert "ends at block 11" in message and "integrity-report" in message and "unanchored" in message
    assert "lost block 14 " in chainstate.lost_blocks_warning(chainstate.find_lost_blocks(recorded, 13, hashes.get))
    replaced = chainstate.find_lost_blocks(recorded, 20, {14: "0xbb"}.get)  # same height, another block
    assert replaced is not None and replaced.replaced and (replaced.first, replaced.last) == (14, 14)
    assert "block 14 has another hash" in chainstate.lost_blocks_warning(replaced)


def test_saver_writes_each_new_block_and_the_file_loads(tmp_path: Path) -> None:
    """Real Anvil, no stack: a block is saved (marker first) within a few polls, stop saves once more,
    and the file reloads into Anvil with the same head. The orchestrator finds a leftover Anvil's URL."""
    files = ChainFiles.in_dir(tmp_path / "anvil")
    messages: list[str] = []
    with AnvilNode(load_state_path=files.state, log_path=tmp_path / "anvil.log") as node:
        assert "--load-state" not in node._process.args  # type: ignore[union-attr] - no file yet
        assert anvil_url_of(node._process.pid) == node.rpc_url  # type: ignore[union-attr]
        saver = chainstate.ChainSaver(node.rpc_url, files, messages.append, interval=0.05).start()
        try:
            tx = transfer(node.rpc_url)
            # The marker can trail the state by one save (a dump may already hold a block mined after
            # the head it recorded), never lead it for long: wait for both.
            wait_until(
                lambda: tx[0] in saved_transactions(tmp_path) and chainstate.read_head(files.head) == ChainHead(tx[1], tx[2]),
                10,
                description="the block saved and recorded",
            )
            node.set_balance(dev_accounts()[5].address, 123)  # state without a block: only the stop saves it
        finally:
            head = saver.stop()
        assert head == ChainHead(tx[1], tx[2]) and not messages
    with AnvilNode(load_state_path=files.state, log_path=tmp_path / "again.log") as again:
        assert chainstate.chain_head(again.rpc_url) == ChainHead(tx[1], tx[2])
        assert int(again.rpc("eth_getBalance", [dev_accounts()[5].address, "latest"]), 16) == 123


def test_saver_reports_a_failing_save_once(tmp_path: Path) -> None:
    """A node that does not answer (while it is said to run) is reported once, not at every poll."""
    messages: list[str] = []
    saver = chainstate.ChainSaver(f"http://127.0.0.1:{free_port()}", ChainFiles.in_dir(tmp_path), messages.append)
    assert not saver.save_if_new() and not saver.save_if_new()
    assert len(messages) == 1 and "could not save the local chain" in messages[0] and "retrying" in messages[0]
    assert saver.stop() is None and "could not save the local chain at stop" in messages[1]
    assert not list(tmp_path.iterdir())  # nothing half written
