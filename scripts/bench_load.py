#!/usr/bin/env python3
"""Load benchmark (issue 15): concurrent uploads against 1 and 3 API instances, then the acceptance case.

One SecantusDB, one js-ipfs node and one Anvil that mines a block every second (interval mining, as on
a real network: transactions wait in the pool) are started on free 127.0.0.1 ports; each phase runs its
API processes (separate `uvicorn` processes, one MongoDB database per phase, the same relayer key) on
them and stops them afterwards.

1. `load-1` and `load-3`: 20 patients x 5 uploads of 1 MB. Each patient signs its five AddRecord
   actions with consecutive nonces n..n+4 before anything is sent; then all 100 uploads are fired
   together, upload k of patient i going to instance (i + k) mod N (so one patient's nonces arrive
   at different instances). Reported: uploads/s over the firing window, p50/p95 latency, statuses;
   then, once everything settled, MongoDB's confirmed records per patient == the chain's count.
2. `takeover` (the issue's acceptance case) on 3 instances: 30 patients x 3 uploads with consecutive
   nonces fired together; once a few transactions are sent, the relayer lease holder's process (its
   pid is in the `relayer_leases` document's holder, `host:pid:random`) is SIGKILLed; another instance
   must take the lease over, adopt the sent jobs and send the rest. Expected: 90 x 201/202, every
   record confirmed, MongoDB == chain per patient, no content twice.
   The 90 uploads go to the instances that do not hold the lease: a request in flight to a process
   that is SIGKILLed dies with it in any deployment; what is under test is that the relayer work the
   dead holder was doing for the others is not lost. A warm-up patient's five chained uploads keep
   the queue busy so the lease is held (and its holder known) before the 90 are fired.

The table is printed and the JSON written to `.cache/bench/load.json` (with the load average: on a
shared 2-core machine the point is correctness across instances, not speed-up). Exit status 1 when
an acceptance check fails.

Hand-written rather than locust: the uploads need per-patient EIP-712 signatures with chained nonces
prepared before firing, and the checks read MongoDB and the chain; a thread pool over httpx is enough.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import signal
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from bench_support import (
    RELAYER_INDEX,
    ROOT,
    prepare_environment,
    print_result,
    save_and_check,
)

OUT = ROOT / ".cache" / "bench" / "load.json"
UPLOAD_TIMEOUT_SECONDS = 180.0
SETTLE_TIMEOUT_SECONDS = 240.0
API_START_TIMEOUT_SECONDS = 120.0


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


@dataclass
class Services:
    """SecantusDB, js-ipfs and an interval-mining Anvil with the contracts deployed."""

    tmp: Path
    mongo_uri: str = ""
    ipfs_api_url: str = ""
    rpc_url: str = ""
    factory: str = ""
    relayer_key: str = ""
    jwt_secret: str = field(default_factory=lambda: secrets.token_urlsafe(36))
    stoppers: list[Callable[[], object]] = field(default_factory=list)

    def start(self, block_time: int) -> Services:
        from healthledger.chain.deployment import deploy
        from healthledger.devstack.anvil import AnvilNode
        from healthledger.devstack.ipfs import JsIpfsNode
        from healthledger.devstack.mongo import SecantusServer

        logs = self.tmp / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        mongo = SecantusServer(self.tmp / "mongo", log_path=logs / "secantus.log")
        self.stoppers.append(mongo.stop)
        mongo.start()
        ipfs = JsIpfsNode(self.tmp / "ipfs", log_path=logs / "ipfs.log")
        self.stoppers.append(ipfs.stop)
        ipfs.start()
        anvil = AnvilNode(log_path=logs / "anvil.log", extra_args=["--block-time", str(block_time)])
        self.stoppers.append(anvil.stop)
        anvil.start()
        self.mongo_uri, self.ipfs_api_url, self.rpc_url = mongo.uri, ipfs.api_url, anvil.rpc_url
        self.factory = deploy(anvil.rpc_url, anvil.accounts[0].private_key).factory
        self.relayer_key = anvil.accounts[RELAYER_INDEX].private_key
        return self

    def stop(self) -> None:
        while self.stoppers:
            try:
                self.stoppers.pop()()
            except Exception as exc:  # noqa: BLE001 - keep stopping the others
                say(f"  warning: stop failed: {type(exc).__name__}: {exc}")


@dataclass
class Instance:
    url: str
    process: Any  # ManagedProcess

    @property
    def pid(self) -> int:
        return int(self.process.pid)


class Cluster:
    """N API processes on `services`, all on one MongoDB database (fresh per phase)."""

    def __init__(self, services: Services, count: int, database: str) -> None:
        self.services, self.count, self.database = services, count, database
        self.instances: list[Instance] = []

    def start(self) -> Cluster:
        from healthledger.devstack.process import ManagedProcess, free_port
        from healthledger.serving import uvicorn_command

        s = self.services
        for _ in range(self.count):
            port = free_port()
            env = {
                **os.environ,
                "HOST": "127.0.0.1", "PORT": str(port),
                "MONGODB_URI": s.mongo_uri, "MONGODB_DATABASE": self.database,
                "IPFS_API_URL": s.ipfs_api_url, "ETH_RPC_URL": s.rpc_url, "FACTORY_ADDRESS": s.factory,
                "CHAIN_ID": "31337", "RELAYER_PRIVATE_KEY": s.relayer_key, "JWT_SECRET": s.jwt_secret,
                "TX_TIMEOUT_SECONDS": "90", "IPFS_TIMEOUT_SECONDS": "120",
                # A dead holder's lease expires within 3 s; a stuck transaction is looked at after 6 s.
                "RELAYER_LEASE_SECONDS": "3", "TX_RESEND_SECONDS": "6", "RECONCILE_INTERVAL_SECONDS": "5",
                # One client address sends everything: per-IP limits would refuse most of it, and the
                # rate-limit store's 1 s budget is about this shared machine's load, not the API.
                "RATE_LIMITS_ENABLED": "false", "RATE_LIMIT_TIMEOUT_SECONDS": "5",
                "FRONTEND_DIST": "",
            }
            command = uvicorn_command("127.0.0.1", port, log_level="warning")
            cwd = s.tmp / f"api-{port}"
            cwd.mkdir()
            process = ManagedProcess(command, name=f"api-{port}", env=env, cwd=cwd,
                                     log_path=s.tmp / "logs" / f"api-{port}.log")
            self.instances.append(Instance(f"http://127.0.0.1:{port}", process))
            process.start()
        for instance in self.instances:
            instance.process.wait_ready(
                lambda url=instance.url: _status_ok(url), API_START_TIMEOUT_SECONDS, interval=0.2,
                description=f"GET {instance.url}/api/system/status",
            )
        return self

    def stop(self) -> None:
        for instance in self.instances:
            try:
                instance.process.stop(timeout=15)
            except Exception as exc:  # noqa: BLE001
                say(f"  warning: {exc}")

    def db(self):  # type: ignore[no-untyped-def]
        from pymongo import MongoClient

        client = MongoClient(self.services.mongo_uri, serverSelectionTimeoutMS=5000, tz_aware=True)
        return client, client[self.database]


def _status_ok(url: str) -> bool:
    try:
        return httpx.get(f"{url}/api/system/status", timeout=5.0, trust_env=False).status_code == 200
    except httpx.TransportError:
        return False


# ------------------------------------------------------------------------------------------- uploads


@dataclass
class Prepared:
    patient: Any  # tests.backend.support.wallet.Wallet
    form: dict[str, str]
    content: bytes
    target: Instance


def prepare(patient: Any, url: str, count: int, size: int) -> list[tuple[dict[str, str], bytes]]:
    """`count` signed upload forms of `patient` with nonces n..n+count-1, signed before any is sent."""
    from tests.backend.support.records import consecutive_upload_forms

    with httpx.Client(base_url=url, timeout=60.0, trust_env=False) as client:
        patient.login(client)
        return consecutive_upload_forms(client, patient, [os.urandom(size) for _ in range(count)])


def post(item: Prepared) -> tuple[str, float]:
    """(status code as text, or the transport error's name; latency in seconds)."""
    began = time.perf_counter()
    try:
        with httpx.Client(base_url=item.target.url, timeout=UPLOAD_TIMEOUT_SECONDS, trust_env=False) as client:
            response = client.post(
                "/api/medical-records/upload", data=item.form,
                files={"file": ("f.pdf", item.content, "application/pdf")}, headers=item.patient.headers,
            )
        outcome = str(response.status_code)
        if response.status_code not in (201, 202):
            say(f"  {response.status_code}: {response.text[:200]}")
    except httpx.TransportError as exc:
        outcome = type(exc).__name__
    return outcome, time.perf_counter() - began


def prepare_all(patients: list[Any], targets: list[Instance], count: int, size: int,
                spread: bool) -> list[Prepared]:
    def one(i: int) -> list[Prepared]:
        forms = prepare(patients[i], targets[i % len(targets)].url, count, size)
        return [Prepared(patients[i], form, content, targets[(i + k) % len(targets)] if spread else targets[i % len(targets)])
                for k, (form, content) in enumerate(forms)]

    with ThreadPoolExecutor(max_workers=8) as pool:
        return [item for batch in pool.map(one, range(len(patients))) for item in batch]


def chain_counts(services: Services, patients: list[Any]) -> dict[str, int]:
    from healthledger.chain.client import ChainClient

    async def read() -> dict[str, int]:
        chain = ChainClient(services.rpc_url, services.factory, timeout_seconds=10.0)
        try:
            return {p.address.lower(): await chain.record_count(p.address) for p in patients}
        finally:
            await chain.aclose()

    return asyncio.run(read())


def wait_settled(cluster: Cluster, patients: list[Any]) -> dict[str, Any]:
    """Poll until every record of `patients` is settled and MongoDB's confirmed count equals the chain's."""
    client, db = cluster.db()
    began = time.perf_counter()
    addresses = [p.address.lower() for p in patients]
    try:
        while True:
            records = db["records"]
            confirmed = {a: records.count_documents({"patient": a, "state": "confirmed"}) for a in addresses}
            unsettled = records.count_documents({"patient": {"$in": addresses}, "state": {"$ne": "confirmed"}})
            on_chain = chain_counts(cluster.services, patients)
            done = confirmed == on_chain and unsettled == 0
            if done or time.perf_counter() - began > SETTLE_TIMEOUT_SECONDS:
                hashes = [r["content_hash"] for r in records.find({"patient": {"$in": addresses}, "state": "confirmed"})]
                return {
                    "settled": done, "settle_seconds": round(time.perf_counter() - began, 1),
                    "mongo_confirmed": sum(confirmed.values()), "chain_records": sum(on_chain.values()),
                    "unsettled": unsettled,
                    "patients_mongo_equals_chain": sum(confirmed[a] == on_chain[a] for a in addresses),
                    "duplicate_contents": len(hashes) - len(set(hashes)),
                    "per_patient_chain": sorted(Counter(on_chain.values()).items()),
                }
            time.sleep(0.5)
    finally:
        client.close()


def summarize(outcomes: list[tuple[str, float]], wall: float) -> dict[str, Any]:
    latencies = sorted(t for _, t in outcomes)
    ok = sum(o in ("201", "202") for o, _ in outcomes)
    q = statistics.quantiles(latencies, n=20) if len(latencies) > 1 else latencies * 19
    return {
        "uploads": len(outcomes), "ok": ok, "wall_seconds": round(wall, 2),
        "uploads_per_second": round(ok / wall, 2) if wall else 0.0,
        "p50_ms": round(statistics.median(latencies) * 1000), "p95_ms": round(q[18] * 1000),
        "statuses": dict(sorted(Counter(o for o, _ in outcomes).items())),
    }


def fire(items: list[Prepared]) -> tuple[list[tuple[str, float]], float, ThreadPoolExecutor, list]:
    pool = ThreadPoolExecutor(max_workers=len(items))
    began = time.perf_counter()
    futures = [pool.submit(post, item) for item in items]
    return [], began, pool, futures


# ------------------------------------------------------------------------------------------- phases


def load_phase(services: Services, instances: int, patients: int, each: int, size: int) -> dict[str, Any]:
    from tests.backend.support.wallet import Wallet

    cluster = Cluster(services, instances, f"healthledger_load_{instances}_{secrets.token_hex(3)}").start()
    try:
        wallets = [Wallet.random() for _ in range(patients)]
        items = prepare_all(wallets, cluster.instances, each, size, spread=True)
        say(f"  {len(items)} uploads prepared, firing at {instances} instance(s) ...")
        _, began, pool, futures = fire(items)
        outcomes = [f.result() for f in futures]
        wall = time.perf_counter() - began
        pool.shutdown()
        result = summarize(outcomes, wall)
        result.update(wait_settled(cluster, wallets))
        result["instances"] = instances
        return result
    finally:
        cluster.stop()


def takeover_phase(services: Services, patients: int, each: int, size: int) -> dict[str, Any]:
    from tests.backend.support.wallet import Wallet

    cluster = Cluster(services, 3, f"healthledger_takeover_{secrets.token_hex(3)}").start()
    client, db = cluster.db()
    try:
        wallets = [Wallet.random() for _ in range(patients)]
        warm = Wallet.random()
        warm_items = prepare_all([warm], cluster.instances[:1], 5, 4096, spread=False)
        items_by_patient = {w.address: prepare(w, cluster.instances[0].url, each, size) for w in wallets}
        _, _, warm_pool, warm_futures = fire(warm_items)
        deadline = time.monotonic() + 60
        while (lease := db["relayer_leases"].find_one({})) is None and time.monotonic() < deadline:
            time.sleep(0.05)
        if lease is None:
            raise RuntimeError("no instance took the relayer lease")
        holder_pid = int(lease["holder"].split(":")[1])
        holder = next(i for i in cluster.instances if i.pid == holder_pid)
        front = [i for i in cluster.instances if i is not holder]
        items = [Prepared(w, form, content, front[(n + k) % len(front)])
                 for n, w in enumerate(wallets) for k, (form, content) in enumerate(items_by_patient[w.address])]
        say(f"  lease held by pid {holder_pid}; firing {len(items)} uploads at the other two ...")
        _, began, pool, futures = fire(items)
        # Mid-run: once a few of these uploads' transactions are out, the holder dies.
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            out = db["relay_jobs"].find({"state": {"$in": ["sent", "mined"]}}, {"signer_key": 1})
            if sum(warm.address.lower() not in str(job.get("signer_key", "")).lower() for job in out) >= 3:
                break
            time.sleep(0.05)
        lease = db["relayer_leases"].find_one({})
        victim_pid = int(lease["holder"].split(":")[1]) if lease else holder_pid
        killed_token = int(lease["token"]) if lease else 0
        sent_before = db["relay_jobs"].count_documents({"state": "sent"})
        os.kill(victim_pid, signal.SIGKILL)
        killed_at = time.perf_counter() - began
        say(f"  SIGKILLed the lease holder (pid {victim_pid}, token {killed_token}) at {killed_at:.1f} s, "
            f"{sent_before} job(s) sent")
        outcomes = [f.result() for f in futures]
        wall = time.perf_counter() - began
        pool.shutdown()
        warm_pool.shutdown()
        result = summarize(outcomes, wall)
        result.update(wait_settled(cluster, wallets))
        lease = db["relayer_leases"].find_one({})
        result.update({
            "killed_pid": victim_pid, "killed_was_serving_uploads": victim_pid != holder_pid,
            "killed_at_seconds": round(killed_at, 1), "jobs_sent_at_kill_with_warm_up": sent_before,
            "lease_token_at_kill": killed_token, "lease_token_after": int(lease["token"]) if lease else None,
            # The warm-up went to the instance that became the holder: it dies with it (not part of the run).
            "warm_up_statuses": dict(Counter(f.result()[0] for f in warm_futures)),
        })
        expected = patients * each
        result["checks"] = {
            "all_201_202": result["ok"] == expected,
            "all_confirmed": result["settled"] and result["mongo_confirmed"] == expected
            and result["chain_records"] == expected,
            "mongo_equals_chain_per_patient": result["patients_mongo_equals_chain"] == patients,
            "no_duplicates": result["duplicate_contents"] == 0,
            "lease_taken_over": result["lease_token_after"] is None or result["lease_token_after"] > killed_token,
        }
        return result
    finally:
        client.close()
        cluster.stop()


def print_table(result: dict[str, Any]) -> None:
    print(f"load benchmark ({result['size_bytes'] / 2**20:g} MiB uploads, Anvil --block-time {result['block_time']}; "
          f"load average before {result['loadavg_before']}, after {result['loadavg_after']})")
    print(f"{'phase':<10} {'inst':>4} {'uploads':>7} {'ok':>4} {'up/s':>6} {'p50 ms':>7} {'p95 ms':>7} "
          f"{'settle s':>8} {'mongo=chain':>11}  statuses")
    for name in ("load-1", "load-3", "takeover"):
        r = result["phases"].get(name)
        if r is None:
            continue
        print(f"{name:<10} {r['instances']:>4} {r['uploads']:>7} {r['ok']:>4} {r['uploads_per_second']:>6} "
              f"{r['p50_ms']:>7} {r['p95_ms']:>7} {r['settle_seconds']:>8} "
              f"{str(r['patients_mongo_equals_chain']) + '/' + str(r['patients']):>11}  {r['statuses']}")
    if "ratio_3_to_1" in result:
        print(f"uploads/s with 3 instances / with 1: {result['ratio_3_to_1']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--patients", type=int, default=20)
    parser.add_argument("--uploads", type=int, default=5)
    parser.add_argument("--size", type=int, default=1024 * 1024)
    parser.add_argument("--takeover-patients", type=int, default=30)
    parser.add_argument("--takeover-uploads", type=int, default=3)
    parser.add_argument("--block-time", type=int, default=1)
    parser.add_argument("--skip-load", action="store_true", help="only the takeover case")
    args = parser.parse_args(argv)
    prepare_environment()

    import tempfile

    services = Services(Path(tempfile.mkdtemp(prefix="healthledger-bench-load-")))
    result: dict[str, Any] = {"block_time": args.block_time, "size_bytes": args.size,
                              "loadavg_before": [round(x, 2) for x in os.getloadavg()], "phases": {}}
    try:
        say("load benchmark: starting SecantusDB, js-ipfs and Anvil ...")
        services.start(args.block_time)
        if not args.skip_load:
            for n in (1, 3):
                say(f"phase load-{n}: {args.patients} patients x {args.uploads} uploads")
                phase = load_phase(services, n, args.patients, args.uploads, args.size)
                phase["patients"] = args.patients
                result["phases"][f"load-{n}"] = phase
            one, three = result["phases"]["load-1"], result["phases"]["load-3"]
            if one["uploads_per_second"]:
                result["ratio_3_to_1"] = round(three["uploads_per_second"] / one["uploads_per_second"], 2)
        say(f"phase takeover: {args.takeover_patients} patients x {args.takeover_uploads} uploads, 3 instances")
        phase = takeover_phase(services, args.takeover_patients, args.takeover_uploads, args.size)
        phase["patients"], phase["instances"] = args.takeover_patients, 3
        result["phases"]["takeover"] = phase
    finally:
        result["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
        services.stop()
    targets: dict[str, dict[str, Any]] = {}
    for name, phase in result["phases"].items():
        expected = phase["patients"] * (args.takeover_uploads if name == "takeover" else args.uploads)
        targets[f"{name}_all_confirmed_mongo_equals_chain"] = {
            "ok": bool(phase["settled"] and phase["mongo_confirmed"] == phase["chain_records"] == expected
                       and phase["patients_mongo_equals_chain"] == phase["patients"]),
        }
    for check, ok in result["phases"]["takeover"]["checks"].items():
        targets[f"takeover_{check}"] = {"ok": bool(ok)}
    result["targets"] = targets
    print_table(result)
    text = print_result(result)
    return save_and_check(text, OUT, result, "load benchmark checks failed")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    raise SystemExit(main())
