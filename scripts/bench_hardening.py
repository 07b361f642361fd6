"""Hardening figures (`make bench`): hostile sign-ins, memory under garbage, recovery after a rollback.

Everything runs against a throw-away stack with the API in its own process (bench_support), rate
limits off (they would refuse most of the traffic measured here). Prints medians and ratios measured
in this run:

1. a 4,096-character garbage sign-in and a message crafted against siwe's regex parser: answer time;
2. `GET /api/system/config` while 8 clients send crafted sign-ins: its latency against an idle API;
3. 10,000 distinct garbage sign-ins: growth of the API's peak RSS;
4. our EIP-4361 reader against siwe's ABNF parser on the same 1,000-character garbage (in this process);
5. the chain rolled back past a confirmed record: time of the patient's next upload (201), and the
   lost record sent again.
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import secrets
import statistics
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_support import BenchStack, RssSampler, prepare_environment  # noqa: E402

prepare_environment()

import httpx  # noqa: E402

GARBAGE = "7" * 4096
CRAFTED = (
    "localhost:8000 wants you to sign in with your Ethereum account:\n0x" + "A" * 40
    + "\n\nx\n\nURI: http://x\nVersion: 1\nChain ID: 1\nNonce: abcdefgh\nIssued At: 2020-01-01T00:00:00Z\nResources:"
    + "\n- //" * 700 + " "
)
GARBAGE_LOGINS = 10_000


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def _login(client: httpx.Client, message: str) -> int:
    return client.post("/api/auth/login", json={"message": message, "signature": "0x" + "00" * 65}).status_code


def _timed(call) -> float:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def hostile_sign_ins(url: str) -> None:
    with httpx.Client(base_url=url, timeout=120) as client:
        for name, message in (("4,096 digits", GARBAGE), ("crafted Resources", CRAFTED)):
            times = [_timed(lambda: _login(client, message)) for _ in range(30)]
            print(f"  sign-in with {name}: median {_ms(statistics.median(times))} (max {_ms(max(times))})")


def latency_under_attack(url: str) -> None:
    with httpx.Client(base_url=url, timeout=60) as client:
        idle = [_timed(lambda: client.get("/api/system/config")) for _ in range(50)]
        stop = False

        def attack() -> int:
            sent = 0
            with httpx.Client(base_url=url, timeout=60) as own:
                while not stop:
                    _login(own, CRAFTED + secrets.token_hex(4))
                    sent += 1
            return sent

        with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
            attackers = [pool.submit(attack) for _ in range(8)]
            time.sleep(0.5)
            busy = [_timed(lambda: client.get("/api/system/config")) for _ in range(50)]
            stop = True
            sent = sum(f.result() for f in attackers)
    idle_median, busy_median = statistics.median(idle), statistics.median(busy)
    print(
        f"  GET /api/system/config: idle median {_ms(idle_median)}, during {sent} crafted sign-ins from 8 clients "
        f"median {_ms(busy_median)} (ratio {busy_median / idle_median:.1f})"
    )


def memory_under_garbage(url: str, pid: int) -> None:
    with httpx.Client(base_url=url, timeout=60) as client:
        for i in range(500):
            _login(client, f"{i}-" + GARBAGE[:4000])
        with RssSampler(pid) as sampler:
            before = sampler.peak_mib
            started = time.perf_counter()
            for i in range(GARBAGE_LOGINS):
                _login(client, f"{i}:{secrets.token_hex(16)}" + GARBAGE[:4000])
            elapsed = time.perf_counter() - started
        grown = sampler.peak_mib - before
    print(f"  {GARBAGE_LOGINS:,} distinct garbage sign-ins in {elapsed:.1f} s: API peak RSS +{grown:.1f} MiB")


def parser_ratio() -> None:
    from siwe import SiweMessage

    from healthledger.auth.siwe_message import MalformedSiweMessage, parse_siwe_message

    text = "7" * 1000
    started = time.perf_counter()
    try:
        SiweMessage.from_message(text)  # siwe's ABNF parser, as the API used before
    except Exception:
        pass
    abnf = time.perf_counter() - started
    ours = []
    for _ in range(200):
        started = time.perf_counter()
        try:
            parse_siwe_message(text)
        except MalformedSiweMessage:
            pass
        ours.append(time.perf_counter() - started)
    median = statistics.median(ours)
    print(f"  1,000-character garbage: siwe ABNF {abnf:.2f} s, ours median {median * 1e6:.0f} us (ratio {abnf / median:,.0f})")


def _rpc(url: str, method: str, params: list) -> object:  # type: ignore[type-arg]
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode()
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - local Anvil
        return json.loads(response.read())["result"]


def rollback_recovery(url: str, rpc_url: str) -> None:
    from tests.backend.support.records import upload
    from tests.backend.support.wallet import Wallet

    with httpx.Client(base_url=url, timeout=120) as client:
        patient = Wallet.random()
        patient.login(client)
        times, reanchored = [], 0
        for _ in range(5):
            snapshot = _rpc(rpc_url, "evm_snapshot", [])
            lost = upload(client, patient, os.urandom(1000))
            assert lost.status_code == 201, lost.text
            _rpc(rpc_url, "evm_revert", [snapshot])
            started = time.perf_counter()
            following = upload(client, patient, os.urandom(1000))
            times.append(time.perf_counter() - started)
            assert following.status_code == 201, following.text
            report = client.get("/api/system/integrity-report", headers=patient.headers).json()
            row = next(r for r in report["records"] if r["cid"] == lost.json()["cid"])
            reanchored += row["status"] == "verified" and row["reanchored"] >= 1
        fresh = []
        for _ in range(5):
            started = time.perf_counter()
            assert upload(client, patient, os.urandom(1000)).status_code == 201
            fresh.append(time.perf_counter() - started)
    print(
        f"  next upload after a rollback past a confirmed record: median {_ms(statistics.median(times))} "
        f"(an ordinary upload: {_ms(statistics.median(fresh))}); lost records sent again and verified: {reanchored}/5"
    )


def main() -> None:
    print("Hardening (medians of this run)")
    parser_ratio()
    with BenchStack(max_upload_bytes=2 * 1024 * 1024) as stack:
        hostile_sign_ins(stack.api_url)
        latency_under_attack(stack.api_url)
        memory_under_garbage(stack.api_url, stack.api_pid)
        rollback_recovery(stack.api_url, stack.rpc_url)


if __name__ == "__main__":
    main()
