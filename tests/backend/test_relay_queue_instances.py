"""Several API processes share one relayer key through the durable queue (issue 15).

Three real API processes (uvicorn subprocesses, one MongoDB database, one js-ipfs node) on an Anvil
of this module's own that mines a block every second (interval mining: transactions wait in the pool
as on a real network). Patients upload three files each, signed with consecutive nonces n, n+1, n+2
and sent all at once: before the queue, two processes sharing the key lost uploads (nonce too low,
replacement underpriced) and a patient's second and third signature got 409 `stale_nonce`.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from pymongo import MongoClient

from healthledger.chain.client import ChainClient
from healthledger.chain.deployment import Deployment, deploy
from healthledger.devstack.anvil import AnvilNode
from healthledger.settings import Settings

from .fixtures.api_process import ApiProcess, ApiProcessLauncher
from .support.records import consecutive_upload_forms
from .support.wallet import Wallet

INSTANCES = 3
UPLOADS_EACH = 3
SETTLE_TIMEOUT_SECONDS = 120.0


@dataclass
class Cluster:
    anvil: AnvilNode
    deployment: Deployment
    settings: Settings
    instances: list[ApiProcess]
    mongo: MongoClient

    @property
    def db(self):
        return self.mongo[self.settings.mongodb_database]


@pytest.fixture(scope="module")
def cluster(api_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    work = tmp_path_factory.mktemp("relay-cluster")
    anvil = AnvilNode(log_path=work / "anvil.log", extra_args=["--block-time", "1"])
    anvil.start()
    launcher = ApiProcessLauncher(api_settings, Path(work))
    mongo = MongoClient(api_settings.mongodb_uri, serverSelectionTimeoutMS=5000, tz_aware=True)
    try:
        deployment = deploy(anvil.rpc_url, anvil.accounts[0].private_key)
        shared = {
            "eth_rpc_url": anvil.rpc_url,
            "factory_address": deployment.factory,
            "mongodb_database": f"healthledger_cluster_{os.getpid()}_{int(time.time())}",
            "relayer_lease_seconds": 3.0,
            "tx_resend_seconds": 6.0,
            "tx_timeout_seconds": 30.0,
            "reconcile_interval_seconds": 2.0,
            # Three API processes, Anvil and SecantusDB share the test machine's cores: the rate-limit
            # store's 1 s budget (a fail-closed 503 for new vaults) is about load here, not the relayer.
            "rate_limit_timeout_seconds": 5.0,
        }
        instances = [launcher.start(**shared) for _ in range(INSTANCES)]
        yield Cluster(anvil, deployment, instances[0].settings, instances, mongo)
    finally:
        launcher.stop_all()
        mongo.close()
        anvil.stop()


def _prepared_uploads(api: ApiProcess, patient: Wallet) -> list[tuple[dict[str, str], bytes]]:
    """Three signed upload forms of `patient`, with nonces n, n+1, n+2 (signed before any is sent)."""
    with httpx.Client(base_url=api.url, timeout=60.0) as client:
        patient.login(client)
        return consecutive_upload_forms(client, patient, [os.urandom(2048) for _ in range(UPLOADS_EACH)])


def _post(api: ApiProcess, patient: Wallet, form: dict[str, str], content: bytes) -> int | None:
    """The upload's status, or None when the instance died under it."""
    try:
        with httpx.Client(base_url=api.url, timeout=120.0) as client:
            response = client.post(
                "/api/medical-records/upload", data=form, files={"file": ("f.pdf", content, "application/pdf")},
                headers=patient.headers,
            )
    except httpx.TransportError:
        return None
    assert response.status_code in (201, 202), response.text
    return response.status_code


def _chain_counts(cluster: Cluster, patients: list[Wallet]) -> dict[str, int]:
    async def read() -> dict[str, int]:
        chain = ChainClient(cluster.anvil.rpc_url, cluster.deployment.factory, timeout_seconds=10.0)
        try:
            return {p.address.lower(): await chain.record_count(p.address) for p in patients}
        finally:
            await chain.aclose()

    return asyncio.run(read())


def _settled(cluster: Cluster, patients: list[Wallet]) -> tuple[dict[str, int], dict[str, int], int]:
    """Per patient: confirmed records in MongoDB and on chain; records not yet settled."""
    records = cluster.db["records"]
    addresses = [p.address.lower() for p in patients]
    confirmed = {a: records.count_documents({"patient": a, "state": "confirmed"}) for a in addresses}
    unsettled = records.count_documents({"patient": {"$in": addresses}, "state": {"$ne": "confirmed"}})
    return confirmed, _chain_counts(cluster, patients), unsettled


def _wait_settled(cluster: Cluster, patients: list[Wallet]) -> tuple[dict[str, int], dict[str, int]]:
    deadline = time.monotonic() + SETTLE_TIMEOUT_SECONDS
    while True:
        confirmed, on_chain, unsettled = _settled(cluster, patients)
        if (confirmed == on_chain and unsettled == 0) or time.monotonic() > deadline:
            return confirmed, on_chain
        time.sleep(0.5)


def _run(cluster: Cluster, patients: list[Wallet], targets: list[ApiProcess], kill_holder: bool) -> list[int | None]:
    prepared = [(patients[i], targets[i % len(targets)], _prepared_uploads(targets[i % len(targets)], p))
                for i, p in enumerate(patients)]
    jobs = cluster.db["relay_jobs"]
    with ThreadPoolExecutor(max_workers=len(patients) * UPLOADS_EACH) as pool:
        futures = [pool.submit(_post, api, patient, form, content)
                   for patient, api, forms in prepared for form, content in forms]
        if kill_holder:
            deadline = time.monotonic() + 60
            while jobs.count_documents({"state": "sent"}) < 3 and time.monotonic() < deadline:
                time.sleep(0.05)
            lease = cluster.db["relayer_leases"].find_one({})
            assert lease is not None, "no instance took the relayer lease"
            holder_pid = int(lease["holder"].split(":")[1])
            victim = next(api for api in cluster.instances if api.pid == holder_pid)
            os.kill(victim.pid, signal.SIGKILL)
            cluster.instances.remove(victim)
            kill_token = int(lease["token"])
        statuses = [f.result() for f in futures]
    if kill_holder:
        lease = cluster.db["relayer_leases"].find_one({})
        deadline = time.monotonic() + 30
        while (lease is None or int(lease["token"]) <= kill_token) and time.monotonic() < deadline:
            time.sleep(0.2)  # the queue was empty after the kill: the next upload's waiter takes it
            lease = cluster.db["relayer_leases"].find_one({})
    return statuses


def test_three_instances_share_the_relayer_and_accept_consecutive_nonces(cluster: Cluster) -> None:
    patients = [Wallet.random() for _ in range(9)]
    statuses = _run(cluster, patients, cluster.instances, kill_holder=False)
    assert statuses.count(None) == 0 and len(statuses) == len(patients) * UPLOADS_EACH
    confirmed, on_chain = _wait_settled(cluster, patients)
    assert confirmed == on_chain
    assert set(on_chain.values()) == {UPLOADS_EACH}


def test_killing_the_lease_holder_mid_run_loses_nothing_and_sends_nothing_twice(cluster: Cluster) -> None:
    patients = [Wallet.random() for _ in range(9)]
    targets = list(cluster.instances)
    statuses = _run(cluster, patients, targets, kill_holder=True)
    assert len(cluster.instances) == INSTANCES - 1
    confirmed, on_chain = _wait_settled(cluster, patients)
    # Every upload an instance answered is on chain, in MongoDB as confirmed, exactly once.
    assert confirmed == on_chain
    for i, patient in enumerate(patients):
        mine = statuses[i * UPLOADS_EACH:(i + 1) * UPLOADS_EACH]
        answered = [s for s in mine if s is not None]
        assert all(s in (201, 202) for s in answered)
        assert on_chain[patient.address.lower()] <= UPLOADS_EACH  # no transaction took effect twice
        if len(answered) == UPLOADS_EACH:
            assert on_chain[patient.address.lower()] == UPLOADS_EACH
    hashes = [r["content_hash"] for r in cluster.db["records"].find({"state": "confirmed"})]
    assert len(hashes) == len(set(hashes))
    # The uploads sent to the surviving instances all answered (the killed one's requests died with it).
    assert sum(s is not None for s in statuses) >= len(patients) * UPLOADS_EACH * (INSTANCES - 1) // INSTANCES


def test_a_signature_ahead_waits_for_its_turn_then_gets_a_clear_409(start_api_process) -> None:
    """Nonce n+1 without n: the job waits in the queue for RELAY_NONCE_WAIT_SECONDS, then 409
    `nonce_wait_expired`, leaving no record; one beyond RELAY_MAX_NONCES_AHEAD is refused at once."""
    api = start_api_process(relay_nonce_wait_seconds=2.0, relay_max_nonces_ahead=4)
    patient = Wallet.random()
    with httpx.Client(base_url=api.url, timeout=60.0) as client:
        patient.login(client)
        first, second = _prepared_uploads(api, patient)[:2]
        started = time.monotonic()
        response = client.post(
            "/api/medical-records/upload", data=second[0], files={"file": ("f.pdf", second[1], "application/pdf")},
            headers=patient.headers,
        )
        assert response.status_code == 409 and response.json()["error"]["code"] == "nonce_wait_expired", response.text
        assert time.monotonic() - started >= 2.0
        far = dict(first[0], nonce=str(int(first[0]["nonce"]) + 5))
        response = client.post(
            "/api/medical-records/upload", data=far, files={"file": ("f.pdf", first[1], "application/pdf")},
            headers=patient.headers,
        )
        assert response.status_code == 409 and response.json()["error"]["code"] == "nonce_too_far_ahead"
        # The signer's own nonce still works, and the skipped one left nothing behind.
        response = client.post(
            "/api/medical-records/upload", data=first[0], files={"file": ("f.pdf", first[1], "application/pdf")},
            headers=patient.headers,
        )
        assert response.status_code in (201, 202), response.text
    mongo = MongoClient(api.settings.mongodb_uri, serverSelectionTimeoutMS=5000)
    try:
        records = mongo[api.settings.mongodb_database]["records"]
        assert records.count_documents({"patient": patient.address.lower()}) == 1
    finally:
        mongo.close()
