"""Faults: IPFS, MongoDB and Anvil stopped before, during and after the steps of an upload.

The module runs its own SecantusDB, js-ipfs node and Anvil (HealthLedger deployed on it) and the API
as a real subprocess on them, with short timeouts so each fault answers within seconds, and its log
file readable. The session's shared services are never touched. The services restart on the same
port and data, so the retry runs against the same state.

What must hold for every fault:
- the answer is the outage's code in the error shape (MongoDB 503 `database_unavailable`, IPFS 502
  `ipfs_unavailable`, the chain 502 `chain_unavailable`, a transaction that could not be handed to
  the node 502 `relayer_unavailable`), never a 500, within the configured timeout plus a margin;
- nothing is left behind: no record document that looks valid, no pinned ciphertext nobody can find
  once the reconciler ran, no transaction for an upload refused before sending;
- once the service is back, the same upload (the same signature: its nonce did not move) succeeds;
- the log names no patient address, quotes no exception message and no URL credentials.

"During an upload" is made deterministic by proxies in front of IPFS and Anvil
(support/gate_proxy.py): the upload is held at a chosen request (IPFS `add`, `eth_sendRawTransaction`)
while the test stops a process, then goes on. A stopped service closes its proxy's port too, so the
API sees what it would see without the proxy: connection refused. "Killed" is SIGKILL (a crash),
"stopped" SIGTERM, "hung" SIGSTOP (the process holds its port but never answers).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import signal
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from eth_abi import decode, encode
from eth_utils import function_signature_to_4byte_selector
from pydantic import SecretStr
from pymongo import MongoClient, WriteConcern

from healthledger.chain.deployment import Deployment, deploy
from healthledger.container import build_services
from healthledger.devstack.anvil import AnvilNode
from healthledger.devstack.ipfs import JsIpfsNode, api_answers
from healthledger.devstack.mongo import SecantusServer
from healthledger.devstack.process import ManagedProcess, free_port, wait_until
from healthledger.logging_setup import ALLOWED_FIELDS
from healthledger.services.reconcile import reconcile_pending
from healthledger.settings import Settings
from healthledger.storage.ipfs import to_base32_v1

from .fixtures.api import settings_for_tests
from .fixtures.api_process import ApiProcess, ApiProcessLauncher
from .support.gate_proxy import GateProxy
from .support.records import content_hash as commitment, multipart_parts, upload_form
from .support.wallet import Wallet

MONGODB_TIMEOUT_SECONDS = 2.0
IPFS_TIMEOUT_SECONDS = 3.0
RPC_TIMEOUT_SECONDS = 3.0
RATE_LIMIT_TIMEOUT_SECONDS = 1.0
STATUS_PROBE_TIMEOUT_SECONDS = 1.0
# Scheduling on a busy 2-core machine, web3's back-off between attempts to reach a node that
# refuses connections (about 1.9 s in all) and the answer's round trip.
MARGIN_SECONDS = 3.0
DEPLOYER_INDEX, RELAYER_INDEX = 0, 9
# Credentials in the service URLs: they must never reach the log (the nodes ignore them).
URL_SECRET = "fault-url-secret-" + secrets.token_hex(6)
IPFS_ADD = b"POST /api/v0/add"
IPFS_PIN = b"POST /api/v0/pin/add"
IPFS_UNPIN = b"POST /api/v0/pin/rm"
SEND_RAW_TRANSACTION = b'"eth_sendRawTransaction"'

# What each service's outage answers: the status, the error code, and the time it may take.
OUTAGE = {
    "ipfs": (502, "ipfs_unavailable", IPFS_TIMEOUT_SECONDS),
    "mongo": (503, "database_unavailable", MONGODB_TIMEOUT_SECONDS),
    "anvil": (502, "chain_unavailable", RPC_TIMEOUT_SECONDS),
}

# What the log check at the end looks for, and the answers measured (printed with `pytest -s`).
PATIENTS: list[str] = []
MEASURED: list[tuple[str, int, str, float]] = []


# ----------------------------------------------------------------------------- the stack


def _kill(process: ManagedProcess | None, sig: signal.Signals = signal.SIGKILL) -> None:
    """SIGKILL a process group, as a crash would, wait until it is gone, and forget it."""
    assert process is not None and process.pid is not None
    os.killpg(process.pid, sig)
    wait_until(lambda: not process.is_running(), 10.0, description=f"{process.name} to die")
    process.stop()  # dead already: this only takes it off the list of processes to stop at exit


@dataclass
class FaultStack:
    """The module's own services, the proxies in front of IPFS and Anvil, and the API."""

    mongo: SecantusServer
    ipfs: JsIpfsNode
    ipfs_gate: GateProxy
    anvil: AnvilNode
    anvil_gate: GateProxy
    deployment: Deployment
    settings: Settings
    api: ApiProcess
    mongo_client: MongoClient = field(repr=False)

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.api.url, timeout=60.0, trust_env=False)

    # -- stopping and starting -----------------------------------------------------------------

    def stop_mongo(self) -> None:
        self.mongo.stop()

    def kill_mongo(self) -> None:
        process, self.mongo._process = self.mongo._process, None
        _kill(process)

    def stop_ipfs(self) -> None:
        self.ipfs_gate.refuse()
        self.ipfs.stop()

    def kill_ipfs(self) -> None:
        self.ipfs_gate.refuse()
        # The pid file stays, as after any crash: the next start clears the lock the node left.
        process, self.ipfs._process = self.ipfs._process, None
        _kill(process)

    def stop_anvil(self) -> None:
        self.anvil_gate.refuse()
        # Anvil's state file (written on SIGTERM) can miss the block mined just before: the restarted
        # node then has that block's state changes but neither the block nor its receipts, which no
        # real node does. An empty block on top keeps the history whole; it is mined only when the
        # pool is empty, since a test may want the pool lost (`_no_automine` mines one for it first).
        if int(self.anvil.rpc("txpool_status")["pending"], 16) == 0:
            self.anvil.mine()
        self.anvil.stop()  # SIGTERM: Anvil writes its state file (blocks and receipts, not its pool)

    def start(self, service: str) -> None:
        """Start `service` again if it is not running: same port, same data."""
        if service == "mongo" and self.mongo._process is None:
            self.mongo.start()
        elif service == "ipfs" and not self.ipfs.is_running():
            self.ipfs.start()
            self.ipfs_gate.accept()
        elif service == "anvil" and not self.anvil.is_running():
            self.anvil.start()
            self.anvil_gate.accept()

    @contextmanager
    def down(self, service: str) -> Iterator[None]:
        """`service` stopped (SIGTERM) inside the block, started again after it whatever happens."""
        {"mongo": self.stop_mongo, "ipfs": self.stop_ipfs, "anvil": self.stop_anvil}[service]()
        try:
            yield
        finally:
            self.start(service)

    @contextmanager
    def restarting(self, *services: str) -> Iterator[None]:
        """Whatever the block stops is started again after it."""
        try:
            yield
        finally:
            for service in services:
                self.start(service)

    @contextmanager
    def hung(self, service: str) -> Iterator[None]:
        """`service` frozen (SIGSTOP) inside the block: it holds its port and never answers."""
        process = {"mongo": self.mongo._process, "ipfs": self.ipfs._process, "anvil": self.anvil._process}[service]
        assert process is not None and process.pid is not None
        os.killpg(process.pid, signal.SIGSTOP)
        try:
            yield
        finally:
            os.killpg(process.pid, signal.SIGCONT)

    # -- what is stored where -------------------------------------------------------------------

    def make_durable(self) -> None:
        """Make every write acknowledged so far survive a crash (a journaled write syncs the journal
        up to it), so that a test that kills MongoDB sees only what it did to the upload in flight."""
        self.mongo_client["fault_tests"]["marks"].with_options(write_concern=WriteConcern(j=True)).insert_one({})

    def records_of(self, wallet: Wallet) -> list[dict[str, Any]]:
        records = self.mongo_client[self.settings.mongodb_database]["records"]
        return list(records.find({"patient": wallet.address.lower()}, {"_id": 0}).sort("created_at", 1))

    def pins(self) -> set[str]:
        answer = httpx.post(f"{self.ipfs.api_url}/api/v0/pin/ls", params={"type": "recursive"}, timeout=30.0)
        answer.raise_for_status()
        return {to_base32_v1(cid) for cid in answer.json().get("Keys", {})}

    def pins_to_release(self) -> set[str]:
        """CIDs of removed uploads whose unpin waits for a reconcile pass (db/pin_releases.py)."""
        return {doc["_id"] for doc in self.mongo_client[self.settings.mongodb_database]["pins_to_release"].find()}

    def relayer_nonce(self) -> int:
        relayer = self.anvil.accounts[RELAYER_INDEX].address
        return int(self.anvil.rpc("eth_getTransactionCount", [relayer, "pending"]), 16)

    def patient_nonce(self, wallet: Wallet) -> int:
        """The patient's EIP-712 nonce in their vault (`nonces(address)`)."""
        clone = self.records_of(wallet)[0]["vault_address"]
        data = function_signature_to_4byte_selector("nonces(address)") + encode(["address"], [wallet.address])
        answer = self.anvil.rpc("eth_call", [{"to": clone, "data": "0x" + data.hex()}, "latest"])
        return int(decode(["uint256"], bytes.fromhex(answer[2:]))[0])

    def reconcile(self) -> dict[str, int]:
        """One reconciler pass with no grace period and no wait before a "not pinned" answer is
        checked again (no upload is in flight when tests call it)."""

        async def run() -> dict[str, int]:
            services = await build_services(self.settings)
            try:
                return (await reconcile_pending(services, grace_seconds=0, pin_recheck_seconds=0)).as_dict()
            finally:
                await services.close()

        return asyncio.run(run())


@pytest.fixture(scope="module")
def faults(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultStack]:
    work = tmp_path_factory.mktemp("faults")
    cleanup: list[Callable[[], object]] = []
    try:
        mongo = SecantusServer(work / "mongo", log_path=work / "secantus.log").start()
        cleanup.append(mongo.stop)
        ipfs = JsIpfsNode(
            work / "ipfs", api_port=free_port(), gateway_port=free_port(), rpc_port=free_port(),
            log_path=work / "jsipfs.log",
        ).start()
        cleanup.append(ipfs.stop)
        ipfs_gate = GateProxy(ipfs.api_port)
        cleanup.append(ipfs_gate.close)
        anvil = AnvilNode(port=free_port(), state_path=work / "anvil-state.json", log_path=work / "anvil.log").start()
        cleanup.append(anvil.stop)
        anvil_gate = GateProxy(anvil.port)  # type: ignore[arg-type]
        cleanup.append(anvil_gate.close)
        deployment = deploy(anvil.rpc_url, anvil.accounts[DEPLOYER_INDEX].private_key)
        base = settings_for_tests(
            mongodb_uri=mongo.uri,
            mongodb_database="healthledger_faults",
            mongodb_timeout_seconds=MONGODB_TIMEOUT_SECONDS,
            ipfs_api_url=f"http://healthledger:{URL_SECRET}@127.0.0.1:{ipfs_gate.port}",
            ipfs_timeout_seconds=IPFS_TIMEOUT_SECONDS,
            eth_rpc_url=f"http://healthledger:{URL_SECRET}@127.0.0.1:{anvil_gate.port}",
            rpc_timeout_seconds=RPC_TIMEOUT_SECONDS,
            factory_address=deployment.factory,
            relayer_private_key=SecretStr(anvil.accounts[RELAYER_INDEX].private_key),
            max_upload_bytes=4 * 1024 * 1024,
            tx_timeout_seconds=20.0,
            tx_resend_seconds=15.0,
            rate_limit_timeout_seconds=RATE_LIMIT_TIMEOUT_SECONDS,
            status_probe_timeout_seconds=STATUS_PROBE_TIMEOUT_SECONDS,
        )
        launcher = ApiProcessLauncher(base, work)
        cleanup.append(launcher.stop_all)
        api = launcher.start(mongodb_database="healthledger_faults")
        mongo_client: MongoClient = MongoClient(mongo.uri, serverSelectionTimeoutMS=10_000, tz_aware=True)
        cleanup.append(mongo_client.close)
        yield FaultStack(mongo, ipfs, ipfs_gate, anvil, anvil_gate, deployment, api.settings, api, mongo_client)
    finally:
        for step in reversed(cleanup):
            step()
        if MEASURED:
            print("\nfault answers (case, status, code, seconds):")
            for case, status, code, seconds in MEASURED:
                print(f"  {case:<58} {status} {code:<22} {seconds:5.2f}")


# ----------------------------------------------------------------------------- helpers


@dataclass
class Prepared:
    """An upload signed while every service was up, to be sent when one is not."""

    content: bytes
    form: dict[str, str]

    @property
    def content_hash(self) -> str:
        return commitment(self.content)


def _prepare(client: httpx.Client, wallet: Wallet, size: int = 4096) -> Prepared:
    content = os.urandom(size)
    return Prepared(content, upload_form(client, wallet, content))


def _ready_to_upload(
    faults: FaultStack, client: httpx.Client, size: int = 4096
) -> tuple[Wallet, Prepared, Snapshot]:
    """A patient with one record, an upload of `size` bytes signed for them, and what is stored before it."""
    wallet, _ = _patient(client)
    prepared = _prepare(client, wallet, size)
    return wallet, prepared, _snapshot(faults, wallet)


def _send(client: httpx.Client, wallet: Wallet, prepared: Prepared) -> httpx.Response:
    return client.post(
        "/api/medical-records/upload",
        data=prepared.form,
        files={"file": ("scan.pdf", prepared.content, "application/pdf")},
        headers=wallet.headers,
    )


def _timed(call: Callable[[], httpx.Response]) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


def _expect_error(case: str, answer: tuple[httpx.Response, float], status: int, code: str, budget: float) -> None:
    """The outage's status and code in the error shape, within `budget` seconds plus the margin."""
    response, elapsed = answer
    try:
        got = response.json().get("error", {}).get("code", "-")
    except ValueError:
        got = "-"
    MEASURED.append((case, response.status_code, got, elapsed))
    assert response.status_code == status, f"{case}: {response.status_code} {response.text}"
    body = response.json()
    assert set(body) == {"error"} and {"code", "message"} <= set(body["error"]), body
    assert body["error"]["code"] == code, body
    assert elapsed < budget + MARGIN_SECONDS, f"{case} took {elapsed:.2f} s (budget {budget} s + margin)"


def _patient(client: httpx.Client) -> tuple[Wallet, dict[str, Any]]:
    """A signed-in patient with one confirmed record (so their contract exists)."""
    wallet = Wallet.random()
    wallet.login(client)
    PATIENTS.append(wallet.address)
    response = _send(client, wallet, _prepare(client, wallet))
    assert response.status_code == 201, response.text
    return wallet, response.json()


@dataclass
class Snapshot:
    records: list[dict[str, Any]]
    pins: set[str]
    relayer_nonce: int  # pending count: any transaction the relayer sends moves it


def _snapshot(faults: FaultStack, wallet: Wallet) -> Snapshot:
    """What is stored now, before the upload under test (made durable: see `make_durable`)."""
    faults.make_durable()
    return Snapshot(faults.records_of(wallet), faults.pins(), faults.relayer_nonce())


def _new_records(faults: FaultStack, wallet: Wallet, before: Snapshot) -> list[dict[str, Any]]:
    known = {r["cid"] for r in before.records}
    return [r for r in faults.records_of(wallet) if r["cid"] not in known]


def _assert_nothing_left(faults: FaultStack, wallet: Wallet, before: Snapshot, *, sent: bool = False) -> None:
    """Back to `before`: no new document, no new pin, and (unless something was `sent`) no transaction."""
    assert faults.records_of(wallet) == before.records
    assert faults.pins() == before.pins
    if not sent:
        assert faults.relayer_nonce() == before.relayer_nonce


def _assert_none_looks_valid(faults: FaultStack, wallet: Wallet, before: Snapshot) -> None:
    """During an outage: a document the upload left is `pending`, never anchored or confirmed."""
    for record in _new_records(faults, wallet, before):
        assert record["state"] == "pending" and record.get("record_id") is None, record


def _integrity(client: httpx.Client, wallet: Wallet) -> dict[str, str]:
    report = client.get("/api/system/integrity-report", headers=wallet.headers)
    assert report.status_code == 200, report.text
    return {row["cid"]: row["status"] for row in report.json()["records"]}


def _retry_succeeds(
    client: httpx.Client, wallet: Wallet, prepared: Prepared, *, status: int = 201
) -> dict[str, Any]:
    """The same upload, signature and all, is stored and verified; every record of the patient verifies.

    `status` 200: the first attempt already made the record, and the retry answers with it.
    """
    response = _send(client, wallet, prepared)
    assert response.status_code == status, response.text
    record = response.json()
    assert record["state"] == "confirmed" and record["content_hash"] == prepared.content_hash
    statuses = _integrity(client, wallet)
    assert statuses[record["cid"]] == "verified"
    assert set(statuses.values()) == {"verified"}, statuses
    return record


@contextmanager
def _upload_in_background(client: httpx.Client, wallet: Wallet, prepared: Prepared) -> Iterator[Future]:
    with ThreadPoolExecutor(1) as pool:
        yield pool.submit(_send, client, wallet, prepared)


@contextmanager
def _upload_held(
    faults: FaultStack, wallet: Wallet, prepared: Prepared, at: str, *, restart: str, answer: bool = False
) -> Iterator[tuple[GateProxy, Future]]:
    """The upload sent in the background and held `at` IPFS "add" or "pin", or at "send" of its
    transaction.

    Inside the block the request has reached its proxy (and is held there until the test releases
    it); `restart` is started again after the block, whatever the test stopped.
    """
    gate, marker = {
        "add": (faults.ipfs_gate, IPFS_ADD),
        "pin": (faults.ipfs_gate, IPFS_PIN),
        "send": (faults.anvil_gate, SEND_RAW_TRANSACTION),
    }[at]
    with faults.client() as uploader, faults.restarting(restart), gate.hold(marker, answer=answer) as held, \
            _upload_in_background(uploader, wallet, prepared) as future:
        held.wait_reached(30.0)
        yield held, future


def _release_after(gate: GateProxy, fault: Callable[[], None]) -> float:
    """Do `fault` while the upload is held, then let the upload go on; the time it went on."""
    fault()
    since = time.monotonic()
    gate.release()
    return since


def _answer_lost_after(
    gate: GateProxy, fault: Callable[[], None], done: Callable[[], bool] | None = None
) -> float:
    """Let the held request through and wait until the node answered it (and, with `done`, until
    the work behind the answer is finished), then do `fault` and lose that answer (the node did the
    work and stopped before its answer got out); the time it was lost."""
    gate.release()
    gate.wait_answered(30.0)
    if done is not None:
        wait_until(done, 30.0, 0.02, description="the node to finish what it answered")
    fault()
    since = time.monotonic()
    gate.lose_answer()
    return since


def _assert_unchanged(faults: FaultStack, wallet: Wallet, before: Snapshot, *parts: str) -> None:
    """`parts` of what is stored ("records", "pins", "relayer_nonce") are as they were `before`."""
    now: dict[str, Callable[[], object]] = {
        "records": lambda: faults.records_of(wallet), "pins": faults.pins, "relayer_nonce": faults.relayer_nonce,
    }
    for part in parts:
        assert now[part]() == getattr(before, part), part


def _lost_during_an_upload(
    faults: FaultStack, case: str, fault: Callable[[], None], service: str, unchanged: tuple[str, ...]
) -> None:
    """`fault` stops `service` while a 512 KiB upload is held at IPFS `add` (every check passed, the
    ciphertext on its way): the upload answers the outage's error, `unchanged` stays as it was while
    the service is down, nothing is left once it is back, and the same upload then succeeds."""
    with faults.client() as client:
        wallet, prepared, before = _ready_to_upload(faults, client, size=512 * 1024)
        with _upload_held(faults, wallet, prepared, "add", restart=service) as (gate, future):
            since = _release_after(gate, fault)
            _expect_error(case, _answer(future, since), *OUTAGE[service])
            _assert_unchanged(faults, wallet, before, *unchanged)
        _assert_nothing_left(faults, wallet, before)
        _retry_succeeds(client, wallet, prepared)


def _assert_confirmed_by_reconciler(
    faults: FaultStack, client: httpx.Client, wallet: Wallet, prepared: Prepared, before: Snapshot
) -> dict[str, Any]:
    """One reconciler pass confirms the upload's pending document; every record of the patient verifies."""
    assert faults.reconcile()["confirmed"] == 1
    (record,) = _new_records(faults, wallet, before)
    assert (record["state"], record["content_hash"]) == ("confirmed", prepared.content_hash)
    statuses = _integrity(client, wallet)
    assert statuses[record["cid"]] == "verified" and set(statuses.values()) == {"verified"}
    return record


def _assert_resent_by_reconciler(
    faults: FaultStack, client: httpx.Client, wallet: Wallet, prepared: Prepared, before: Snapshot
) -> None:
    """One reconciler pass sends the upload again (the patient's signature is still valid) and it is
    confirmed; the client's retry answers with that record."""
    assert faults.reconcile()["resubmitted"] == 1
    (record,) = _new_records(faults, wallet, before)
    assert record["state"] == "confirmed"
    assert _retry_succeeds(client, wallet, prepared, status=200)["cid"] == record["cid"]


def _assert_resent_by_relayer_queue(
    faults: FaultStack, client: httpx.Client, wallet: Wallet, prepared: Prepared, before: Snapshot
) -> None:
    """The job left `sent` is broadcast again by the queue's lease holder (not by the reconciler, which
    leaves a record with a live job alone); reconciler passes then confirm it, and the retry answers it."""
    wait_until(lambda: faults.patient_nonce(wallet) == int(prepared.form["nonce"]) + 1, 30.0, 0.2,
               description="the relayer queue to send the forgotten transaction again")
    report = faults.reconcile()
    assert report["resubmitted"] == 0 and report["removed"] == 0, report
    (record,) = _new_records(faults, wallet, before)
    assert record["state"] == "confirmed"
    assert _retry_succeeds(client, wallet, prepared, status=200)["cid"] == record["cid"]


def _assert_on_chain_still_named(
    faults: FaultStack, wallet: Wallet, prepared: Prepared, before: Snapshot, lost: str
) -> dict[str, Any]:
    """The upload is on chain (the patient's nonce moved) and its one document is still there (else `lost`)."""
    assert faults.patient_nonce(wallet) == int(prepared.form["nonce"]) + 1
    left = _new_records(faults, wallet, before)
    assert len(left) == 1, lost
    return left[0]


def _answer(future: Future, since: float) -> tuple[httpx.Response, float]:
    response = future.result(timeout=120)
    return response, time.monotonic() - since


@contextmanager
def _no_automine(faults: FaultStack) -> Iterator[None]:
    """Transactions wait in the node's pool until the test mines them."""
    faults.anvil.mine()  # the block the node's state file may miss on a stop (see `stop_anvil`)
    faults.anvil.rpc("evm_setAutomine", [False])
    try:
        yield
    finally:
        if faults.anvil.is_running():
            faults.anvil.rpc("evm_setAutomine", [True])


def _wait_until_sent(faults: FaultStack, wallet: Wallet, before: Snapshot) -> str:
    """The upload's transaction hash, once its document names it and the node holds it."""

    def sent() -> str | None:
        new = _new_records(faults, wallet, before)
        if len(new) == 1 and new[0].get("tx_hashes"):
            tx_hash = new[0]["tx_hashes"][-1]
            if faults.anvil.rpc("eth_getTransactionByHash", [tx_hash]) is not None:
                return tx_hash
        return None

    return wait_until(sent, 30.0, 0.02, description="the upload's transaction in the node's pool")


# ----------------------------------------------------------------------------- IPFS


def test_ipfs_stopped_before_an_upload_and_reads(faults: FaultStack) -> None:
    with faults.client() as client:
        wallet, prepared, before = _ready_to_upload(faults, client)
        first, view = before.records[0], {**wallet.headers, "X-Wallet-Signature": wallet.key_signature(client)}
        with faults.down("ipfs"):
            _expect_error("ipfs stopped: upload", _timed(lambda: _send(client, wallet, prepared)), *OUTAGE["ipfs"])
            _expect_error("ipfs stopped: integrity report",
                          _timed(lambda: client.get("/api/system/integrity-report", headers=wallet.headers)),
                          *OUTAGE["ipfs"])
            _expect_error("ipfs stopped: view",
                          _timed(lambda: client.get(f"/api/medical-records/view/{first['cid']}", headers=view)),
                          *OUTAGE["ipfs"])
            assert faults.records_of(wallet) == before.records
        _assert_nothing_left(faults, wallet, before)
        _retry_succeeds(client, wallet, prepared)


def test_ipfs_killed_during_an_upload(faults: FaultStack) -> None:
    _lost_during_an_upload(faults, "ipfs killed during upload (add)", faults.kill_ipfs, "ipfs", ("records",))


def test_ipfs_stopped_after_pinning_before_answering_leaves_no_pinned_orphan(faults: FaultStack) -> None:
    with faults.client() as client:
        wallet, prepared, before = _ready_to_upload(faults, client)
        with _upload_held(faults, wallet, prepared, "add", restart="ipfs", answer=True) as (gate, future):
            since = _answer_lost_after(gate, faults.stop_ipfs)  # the node stored and pinned the ciphertext
            _expect_error("ipfs stopped after pinning, answer lost", _answer(future, since), *OUTAGE["ipfs"])
        assert faults.records_of(wallet) == before.records
        faults.reconcile()
        orphans = faults.pins() - before.pins
        _retry_succeeds(client, wallet, prepared)
        assert not orphans, f"pinned ciphertext no document names: {orphans}"


def test_ipfs_stopped_after_the_pin_before_answering_leaves_no_pinned_orphan(faults: FaultStack) -> None:
    # The pending document exists and the node pinned the ciphertext, but the API never hears so: it
    # abandons the upload, and cannot unpin either (the node is down). The pin must stay named
    # (`pins_to_release`) until a reconcile pass removes it; deleting the document first lost it.
    with faults.client() as client:
        wallet, prepared, before = _ready_to_upload(faults, client)
        with _upload_held(faults, wallet, prepared, "pin", restart="ipfs", answer=True) as (gate, future):
            since = _answer_lost_after(gate, faults.stop_ipfs)
            _expect_error("ipfs stopped after the pin, answer lost", _answer(future, since), *OUTAGE["ipfs"])
        assert faults.records_of(wallet) == before.records
        left = faults.pins() - before.pins
        assert len(left) == 1, f"the node should hold the lost answer's pin, not {left}"
        assert faults.reconcile()["pins_released"] == 1
        orphans = faults.pins() - before.pins
        _retry_succeeds(client, wallet, prepared)
        assert not orphans, f"pinned ciphertext no document names: {orphans}"
        assert faults.reconcile()["pins_released"] == 0  # released once, then forgotten


def test_ipfs_hung_at_the_pin_answers_after_one_timeout_and_leaves_the_unpin_to_reconcile(
    faults: FaultStack,
) -> None:
    # The node stops answering while the pending document names the ciphertext (the pin is held at
    # the proxy, then dropped: it never arrives). The API used to ask the same hung node to unpin
    # before removing the upload, and answered only after that second timeout; now it answers after
    # the pin's own timeout, and `pins_to_release` names the CID until a reconcile pass unpins it.
    with faults.client() as client:
        wallet, prepared, before = _ready_to_upload(faults, client)
        waiting_before = faults.pins_to_release()
        faults.ipfs_gate.count(IPFS_UNPIN)
        with _upload_held(faults, wallet, prepared, "pin", restart="ipfs") as (gate, future), faults.hung("ipfs"):
            answer = _answer(future, time.monotonic())
            unpins_asked = faults.ipfs_gate.seen(IPFS_UNPIN)
            gate.drop_connections()  # the held pin is never sent on
        assert unpins_asked == 0, "the hung node was asked to unpin before the answer"
        # The pin's client-side limit is twice the IPFS timeout (the node is given one to find content).
        _expect_error("ipfs hung at the pin", answer, *OUTAGE["ipfs"][:2], 2 * IPFS_TIMEOUT_SECONDS)
        wait_until(lambda: api_answers(faults.ipfs.api_url), 30.0, description="IPFS to answer again")
        assert faults.records_of(wallet) == before.records
        (waiting,) = faults.pins_to_release() - waiting_before
        assert faults.pins() == before.pins
        # The node answers "not pinned". A pin it held while hung could still come, so the CID is
        # kept until the node says so a second time (services/pin_release.py); no pin was removed.
        assert faults.reconcile()["pins_released"] == 0
        assert waiting in faults.pins_to_release()
        assert faults.reconcile()["pins_released"] == 0
        assert waiting not in faults.pins_to_release()
        _retry_succeeds(client, wallet, prepared)


# ----------------------------------------------------------------------------- streamed uploads


def _streamed(client: httpx.Client, wallet: Wallet, prepared: Prepared, after_half: Callable[[], None]) -> httpx.Response:
    """Upload `prepared`, fields first, the file in two halves with `after_half()` between them."""
    fields, head, end, content_type = multipart_parts(prepared.form, prepared.content)
    half = len(prepared.content) // 2

    def body() -> Iterator[bytes]:
        yield b"".join(fields) + head + prepared.content[:half]
        after_half()
        yield prepared.content[half:] + b"\r\n" + end

    return client.post(
        "/api/medical-records/upload", content=body(), headers={**wallet.headers, "Content-Type": content_type}
    )


def test_the_file_reaches_ipfs_while_the_client_is_still_sending_it(faults: FaultStack) -> None:
    # The API used to read the whole body (into a temporary file) before the upload began: the
    # add could not start until the client's last byte, so sending and storing took turns.
    with faults.client() as client:
        wallet, prepared, before = _ready_to_upload(faults, client, size=2 * 1024 * 1024)
        with faults.ipfs_gate.hold(IPFS_ADD) as held:

            def add_has_begun() -> None:
                held.wait_reached(30.0)  # TimeoutError (and the upload fails) if the add waits for the rest
                held.release()

            response = _streamed(client, wallet, prepared, add_has_begun)
        assert response.status_code == 201, response.text
        assert response.json()["content_hash"] == prepared.content_hash
        assert _integrity(client, wallet)[response.json()["cid"]] == "verified"


def test_a_client_that_leaves_mid_file_leaves_nothing(faults: FaultStack) -> None:
    class ClientLeft(Exception):
        pass

    def leave() -> None:
        raise ClientLeft

    with faults.client() as client:
        wallet, prepared, before = _ready_to_upload(faults, client, size=2 * 1024 * 1024)
        with faults.client() as leaving, pytest.raises(ClientLeft):
            _streamed(leaving, wallet, prepared, leave)  # half the file went to IPFS, unpinned
        _assert_nothing_left(faults, wallet, before)
        record = _retry_succeeds(client, wallet, prepared)  # its nonce was not used up either
        assert faults.pins() - before.pins == {record["cid"]}


# ----------------------------------------------------------------------------- MongoDB


def test_mongodb_stopped_before_an_upload_and_reads(faults: FaultStack) -> None:
    with faults.client() as client:
        wallet, prepared, before = _ready_to_upload(faults, client)
        first, view = before.records[0], {**wallet.headers, "X-Wallet-Signature": wallet.key_signature(client)}
        with faults.down("mongo"):
            # An upload is refused first by its rate limit, which fails closed when MongoDB cannot
            # count (README, "Rate limits"): 503 `database_unavailable`, with Retry-After.
            answer = _timed(lambda: _send(client, wallet, prepared))
            _expect_error("mongodb stopped: upload", answer, 503, "database_unavailable", RATE_LIMIT_TIMEOUT_SECONDS)
            assert answer[0].headers["retry-after"] == "30"
            _expect_error("mongodb stopped: patient records",
                          _timed(lambda: client.get("/api/medical-records/patient-records", headers=wallet.headers)),
                          *OUTAGE["mongo"])
            _expect_error("mongodb stopped: view",
                          _timed(lambda: client.get(f"/api/medical-records/view/{first['cid']}", headers=view)),
                          *OUTAGE["mongo"])
            assert faults.pins() == before.pins and faults.relayer_nonce() == before.relayer_nonce
        _assert_nothing_left(faults, wallet, before)
        _retry_succeeds(client, wallet, prepared)


def test_mongodb_killed_during_an_upload(faults: FaultStack) -> None:
    # Rate limits counted, signature checked, IPFS next. Pinned, then the document could not be
    # stored: the ciphertext is unpinned at once.
    _lost_during_an_upload(
        faults, "mongodb killed during upload (add)", faults.kill_mongo, "mongo", ("pins", "relayer_nonce")
    )


def _mongodb_killed_after_the_transaction_was_sent(
    faults: FaultStack, client: httpx.Client
) -> tuple[Wallet, Prepared, Snapshot]:
    """The upload's transaction sits in the pool; MongoDB dies; then the transaction is mined."""
    wallet, prepared, before = _ready_to_upload(faults, client)
    with faults.client() as uploader, faults.restarting("mongo"), _no_automine(faults), \
            _upload_in_background(uploader, wallet, prepared) as future:
        _wait_until_sent(faults, wallet, before)
        faults.kill_mongo()
        since = time.monotonic()
        faults.anvil.mine()
        _expect_error("mongodb killed after the transaction was sent", _answer(future, since), *OUTAGE["mongo"])
    return wallet, prepared, before


def test_mongodb_killed_after_the_transaction_was_sent(faults: FaultStack) -> None:
    with faults.client() as client:
        wallet, prepared, before = _mongodb_killed_after_the_transaction_was_sent(faults, client)
        # The record is on chain: the pending document and the hash saved before the broadcast
        # must have survived the crash, or nothing names the record and its pinned ciphertext.
        left = _assert_on_chain_still_named(
            faults, wallet, prepared, before, "the pending document and its transaction hash were lost in the crash"
        )
        assert left["state"] == "pending" and left["tx_hashes"] and left["cid"] in faults.pins()
        record = _assert_confirmed_by_reconciler(faults, client, wallet, prepared, before)
        assert faults.pins() - before.pins == {record["cid"]}  # the one record, no orphan


def test_retrying_an_upload_whose_answer_was_lost_returns_its_record(faults: FaultStack) -> None:
    with faults.client() as client:
        wallet, prepared, before = _mongodb_killed_after_the_transaction_was_sent(faults, client)
        response = _send(client, wallet, prepared)  # the client did what the 503 said: try again
        assert response.status_code in (200, 201), response.text
        assert response.json()["content_hash"] == prepared.content_hash


# ----------------------------------------------------------------------------- Anvil


def test_anvil_stopped_before_an_upload_and_reads(faults: FaultStack) -> None:
    with faults.client() as client:
        wallet, prepared, before = _ready_to_upload(faults, client)
        with faults.down("anvil"):
            _expect_error("anvil stopped: upload", _timed(lambda: _send(client, wallet, prepared)), *OUTAGE["anvil"])
            _expect_error("anvil stopped: integrity report",
                          _timed(lambda: client.get("/api/system/integrity-report", headers=wallet.headers)),
                          *OUTAGE["anvil"])
            assert faults.records_of(wallet) == before.records and faults.pins() == before.pins
        _assert_nothing_left(faults, wallet, before)
        _retry_succeeds(client, wallet, prepared)


def test_anvil_stopped_during_an_upload(faults: FaultStack) -> None:
    # Released: pinned and stored as pending; then the chain is needed, and gone.
    _lost_during_an_upload(faults, "anvil stopped during upload (add)", faults.stop_anvil, "anvil", ("records", "pins"))


def test_anvil_stopped_while_the_transaction_is_sent(faults: FaultStack) -> None:
    with faults.client() as client:
        wallet, prepared, before = _ready_to_upload(faults, client)
        # Held once the hash is saved: the raw transaction is on its way.
        with _upload_held(faults, wallet, prepared, "send", restart="anvil") as (gate, future):
            since = _release_after(gate, faults.stop_anvil)
            _expect_error("anvil stopped while sending", _answer(future, since),
                          502, "relayer_unavailable", RPC_TIMEOUT_SECONDS)
            _assert_none_looks_valid(faults, wallet, before)
        # The node never got it, but the client was told it may still land: the reconciler sends it
        # again with the patient's signature (still valid), and the client's retry gets that record.
        _assert_resent_by_reconciler(faults, client, wallet, prepared, before)


def test_anvil_stopped_before_acknowledging_the_transaction(faults: FaultStack) -> None:
    with faults.client() as client:
        wallet, prepared, before = _ready_to_upload(faults, client)
        with _upload_held(faults, wallet, prepared, "send", restart="anvil", answer=True) as (gate, future):
            # Anvil answers with the hash before its automine task has mined the block: wait for the
            # block, so the node stops having done the work (else the pool, and the transaction, is lost).
            mined = lambda: int(faults.anvil.rpc("txpool_status")["pending"], 16) == 0  # noqa: E731
            since = _answer_lost_after(gate, faults.stop_anvil, done=mined)
            _expect_error("anvil stopped before acknowledging the transaction", _answer(future, since),
                          502, "relayer_unavailable", RPC_TIMEOUT_SECONDS)
            _assert_none_looks_valid(faults, wallet, before)
        # The record is on chain: its document must still be there for the reconciler to confirm.
        _assert_on_chain_still_named(
            faults, wallet, prepared, before,
            "the upload was abandoned (document deleted, ciphertext unpinned) though it is on chain",
        )
        _assert_confirmed_by_reconciler(faults, client, wallet, prepared, before)


def test_anvil_stopped_before_the_transaction_was_mined(faults: FaultStack) -> None:
    with faults.client() as client, faults.client() as uploader:
        wallet, prepared, before = _ready_to_upload(faults, client)
        with faults.restarting("anvil"), _no_automine(faults), \
                _upload_in_background(uploader, wallet, prepared) as future:
            _wait_until_sent(faults, wallet, before)
            faults.stop_anvil()  # the node's pool is not kept: the transaction is lost with it
            since = time.monotonic()
            response, elapsed = _answer(future, since)
            # Sent, hash saved, outcome unknown: accepted and pending, not an error to retry.
            assert response.status_code == 202, response.text
            assert response.json()["state"] == "pending"
            assert elapsed < RPC_TIMEOUT_SECONDS + MARGIN_SECONDS
            _assert_none_looks_valid(faults, wallet, before)
        # The node lost it with its pool; the patient's signature can still land: the relayer queue's
        # lease holder still watches the job and broadcasts it again (the node forgot it), and the
        # reconciler confirms the record from the hash saved before that broadcast.
        _assert_resent_by_relayer_queue(faults, client, wallet, prepared, before)


# ----------------------------------------------------------------------------- hung services


@pytest.mark.parametrize(
    ("service", "status", "code", "budget"),
    [
        ("mongo", 503, "database_unavailable", RATE_LIMIT_TIMEOUT_SECONDS),  # see the MongoDB test above
        ("anvil", 502, "chain_unavailable", RPC_TIMEOUT_SECONDS),
        # Last: the thawed node may still be storing the late `add` (see below) when the next test starts.
        ("ipfs", 502, "ipfs_unavailable", IPFS_TIMEOUT_SECONDS),
    ],
)
def test_hung_service_answers_within_its_timeout(
    faults: FaultStack, service: str, status: int, code: str, budget: float
) -> None:
    with faults.client() as client:
        wallet, prepared, before = _ready_to_upload(faults, client)
        with faults.hung(service):
            answer = _timed(lambda: _send(client, wallet, prepared))
            _expect_error(f"{service} hung: upload", answer, status, code, budget)
        wait_until(lambda: api_answers(faults.ipfs.api_url), 30.0, description="IPFS to answer again")
        assert faults.records_of(wallet) == before.records
        assert faults.relayer_nonce() == before.relayer_nonce
        # A frozen IPFS node may still store the `add` its socket buffer holds once it runs again,
        # after the API answered 502; the add asks for no pin, so that leaves no pin either.
        assert faults.pins() == before.pins
        _retry_succeeds(client, wallet, prepared)


@pytest.mark.parametrize("service, dependency", [("mongo", "mongodb"), ("anvil", "chain"), ("ipfs", "ipfs")])
def test_health_checks_answer_within_the_probe_timeout_while_a_service_hangs(
    faults: FaultStack, service: str, dependency: str
) -> None:
    """A load balancer's health check needs an answer within its own timeout: the hung dependency is
    reported down once STATUS_PROBE_TIMEOUT_SECONDS passes, not after its adapter's timeout."""
    budget = STATUS_PROBE_TIMEOUT_SECONDS + 1.5  # the probe's bound, the answer's round trip, scheduling
    with faults.client() as client, faults.hung(service):
        response, elapsed = _timed(lambda: client.get("/api/system/status"))
        MEASURED.append((f"{service} hung: status", response.status_code, "-", elapsed))
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["status"] == "degraded"
        assert body["dependencies"][dependency] == {
            "state": "down", "latency_ms": body["dependencies"][dependency]["latency_ms"], "error": "timeout"
        }
        # The relayer's balance is read from the chain too.
        hung = {dependency, "relayer"} if dependency == "chain" else {dependency}
        assert {name for name, probe in body["dependencies"].items() if probe["state"] == "down"} == hung
        assert elapsed < budget, f"status took {elapsed:.2f} s"

        answer = _timed(lambda: client.get("/api/system/ready"))
        _expect_error(f"{service} hung: ready", answer, 503, "not_ready", STATUS_PROBE_TIMEOUT_SECONDS)
        assert answer[0].json()["error"]["down"] == [dependency]
        assert answer[1] < budget, f"ready took {answer[1]:.2f} s"

        live = client.get("/api/system/live")
        assert live.status_code == 200 and live.json() == {"status": "live"}


# ----------------------------------------------------------------------------- the log


# `request_id`: set by the app from its request context (a validated X-Request-ID or a fresh hex id), never from `extra`.
LOG_KEYS = {"time", "level", "logger", "event", "frames", "request_id"} | ALLOWED_FIELDS
# What uvicorn prints before the app's lifespan installs the allow-list formatter.
UVICORN_PREAMBLE = re.compile(r"^INFO: +(Started server process \[\d+\]|Waiting for application startup\.)$")
# Fragments of exception messages (socket errors, pymongo, httpx, aiohttp, our own adapters).
EXCEPTION_TEXT = re.compile(
    r"errno|refused|reset by peer|timed out|traceback|server selection|unreachable|disconnected|"
    r"127\.0\.0\.1:\d+|\w://\w",  # a URL (uvicorn's "%s://%s:%d" template is fine)
    re.IGNORECASE,
)


def test_the_log_tells_no_patient_no_exception_text_no_credentials(faults: FaultStack) -> None:
    """Runs last: the API's whole log over every fault above."""
    log_path = faults.api.process.log_path
    assert log_path is not None
    text = log_path.read_text(errors="replace")
    assert URL_SECRET not in text and "healthledger:" not in text
    for address in PATIENTS:
        assert address[2:].lower() not in text.lower(), "a patient address is in the log"
    statuses = set()
    for line in text.splitlines():
        if UVICORN_PREAMBLE.match(line):
            continue
        entry = json.loads(line)  # every other line is one JSON object
        assert set(entry) <= LOG_KEYS, f"fields outside the allow-list: {set(entry) - LOG_KEYS}"
        assert not EXCEPTION_TEXT.search(line), f"exception text in the log: {line}"
        assert entry["event"] != "unhandled exception", line
        if entry["event"] == "request":
            statuses.add(entry["status"])
    assert 500 not in statuses
    assert {status for _, status, _, _ in MEASURED} <= statuses  # the faults above are in it
