"""Service benchmark of the doctor-authored record flow (keys v2), on the real stack (part of `make bench`).

Run with the project venv: `python scripts/bench_doctor_flow.py`. Like `bench_records.py` it starts
its own SecantusDB, js-ipfs, Anvil (fresh deployment) and the API (one uvicorn process) on free
127.0.0.1 ports (`bench_support.BenchStack`) and stops them all at the end.

Each run uses a fresh patient and two fresh doctors, A and B, registered on chain by the registrar
(the deployer). Untimed set-up: all three sign in; the doctors register their encryption keys
(POST/PUT /api/keys, as the app does at first sign-in); the patient makes a small upload, so the
vault exists and its one-time creation is not in any step. Then the timed steps, in order:

  patient_key_setup  the patient's POST /api/keys + PUT /api/keys (derive, then register the binding)
  write_grant        patient -> B: approveWrite relayed (POST /api/access-requests/patient/write-grant,
                     durationDays=30)
  doctor_upload      B uploads a 100 KB file for the patient (POST /api/medical-records/doctor/upload):
                     sealed to both verified keys, pinned, AddRecordAsDoctor mined, confirmed
  patient_view       the patient opens it (GET /view/{cid} with X-Wallet-Signature), every byte
  author_view        B opens it as its author (own key signature, canWrite on chain)
  request_access     A asks for access (POST /api/access-requests/doctor/request, relayed)
  approve            the patient approves that record for A (respond approve: the patient's copy
                     opened with the key signature, the data key sealed to A's verified key, relayed)
  doctor_view        A opens it with A's own key signature (canRead on chain, grant copy)
  revoke             the patient revokes A (POST /api/access-requests/patient/revoke)

Server time only: every typed-data payload is fetched and signed, and every key signature made,
before the clock starts; a step's time is its one HTTP call until the last byte of the answer. Each
answer is checked (status, and the bytes of every view) after the clock stops, and after the revoke
A's view must be refused (403). Figures are medians over the runs (`--runs`, default 5); `total`
is the sum of the step medians.

Prints a table and the JSON, writes the JSON to `.cache/bench/doctor_flow.json`; exits 2 when the
benchmark cannot run. No targets: the figures are for the issue's note and for comparing commits.
Options: `--runs N`, `--size-kb N` (the doctor's file, default 100), `--keep` (keep the temporary
directory and its logs).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_support import ROOT, BenchStack, measure_on, prepare_environment, print_result, result_envelope, save  # noqa: E402

OUT = ROOT / ".cache" / "bench" / "doctor_flow.json"
STEPS = (
    "patient_key_setup",
    "write_grant",
    "doctor_upload",
    "patient_view",
    "author_view",
    "request_access",
    "approve",
    "doctor_view",
    "revoke",
)
GRANT_DAYS = 30
HTTP_TIMEOUT_SECONDS = 120.0


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


class StepFailed(RuntimeError):
    """A step answered something other than what the flow expects: no figures from this run."""


def timed(call: Callable[[], Any], step: str, status: int = 200) -> tuple[float, Any]:
    """Time `call` (one HTTP request, body read); the response after checking its status."""
    began = time.perf_counter()
    response = call()
    elapsed = time.perf_counter() - began
    if response.status_code != status:
        raise StepFailed(f"{step}: HTTP {response.status_code} (expected {status}): {response.text[:500]}")
    return elapsed, response


def check_bytes(step: str, received: bytes, content: bytes) -> None:
    if hashlib.sha256(received).digest() != hashlib.sha256(content).digest():
        raise StepFailed(f"{step}: {len(received)} bytes that differ from the {len(content)} uploaded")


# ------------------------------------------------------------------------------------------ set-up


async def register_doctors(stack: BenchStack, addresses: list[str]) -> None:
    """Register `addresses` as doctors on chain with the registrar's key (the deployer's)."""
    from healthledger.chain.client import ChainClient
    from healthledger.chain.relayer import Relayer

    chain = ChainClient(stack.rpc_url, stack.factory, timeout_seconds=30.0)
    try:
        registrar = Relayer(chain, stack.deployer_key)
        for address in addresses:
            await registrar.register_doctor(address)
    finally:
        await chain.aclose()


def one_run(stack: BenchStack, client, size: int) -> dict[str, float]:
    """One pass of the flow with fresh accounts; seconds per step."""
    from tests.backend.support import access
    from tests.backend.support.doctor_records import DOCTOR_UPLOAD, doctor_upload_form
    from tests.backend.support.keys import register_key
    from tests.backend.support.records import upload
    from tests.backend.support.wallet import Wallet

    patient, doctor_a, doctor_b = Wallet.random(), Wallet.random(), Wallet.random()
    asyncio.run(register_doctors(stack, [doctor_a.address, doctor_b.address]))
    for wallet, role in ((patient, "patient"), (doctor_a, "doctor"), (doctor_b, "doctor")):
        if wallet.login(client)["role"] != role:
            raise StepFailed(f"{wallet.address} signed in as {wallet.role}, not {role}")
    register_key(client, doctor_a)
    register_key(client, doctor_b)
    patient_sig, a_sig, b_sig = (w.key_signature(client) for w in (patient, doctor_a, doctor_b))
    own = upload(client, patient, os.urandom(1024), "report", "own.bin", content_type="application/octet-stream")
    if own.status_code != 201:  # creates the vault, outside every step
        raise StepFailed(f"set-up upload: HTTP {own.status_code}: {own.text[:500]}")
    seconds: dict[str, float] = {}

    # The patient's key set-up: derive (POST), sign the binding, register (PUT).
    t_post, prepared = timed(lambda: client.post("/api/keys", json={"walletSignature": patient_sig},
                                                 headers=patient.headers), "patient_key_setup POST")
    body = prepared.json()
    binding = {"publicKey": body["publicKey"], "signature": patient.sign_typed_data(body["typedData"])}
    t_put, _ = timed(lambda: client.put("/api/keys", json=binding, headers=patient.headers), "patient_key_setup PUT")
    seconds["patient_key_setup"] = t_post + t_put

    # Patient -> B: write grant, in days (the field).
    payload = patient.typed_data(client, "approveWrite", {"doctor": doctor_b.address, "duration": GRANT_DAYS * 86400})
    grant = {"doctorAddress": doctor_b.address, "durationDays": GRANT_DAYS, **access.signed(patient, payload)}
    seconds["write_grant"], _ = timed(
        lambda: client.post("/api/access-requests/patient/write-grant", json=grant, headers=patient.headers),
        "write_grant",
    )

    # B uploads a file for the patient: one AddRecordAsDoctor signature, no key signature.
    content = os.urandom(size)
    form = doctor_upload_form(client, doctor_b, patient.address, content, "prescription", "rx.bin")
    seconds["doctor_upload"], response = timed(
        lambda: client.post(DOCTOR_UPLOAD, data=form, files={"file": ("rx.bin", content, "application/octet-stream")},
                            headers=doctor_b.headers),
        "doctor_upload", 201,
    )
    record = response.json()
    if record.get("state") != "confirmed" or record.get("author") != doctor_b.address.lower():
        raise StepFailed(f"doctor_upload: not a confirmed record authored by B: {record}")
    view_url = f"/api/medical-records/view/{record['cid']}"

    for step, wallet, sig in (("patient_view", patient, patient_sig), ("author_view", doctor_b, b_sig)):
        headers = {**wallet.headers, "X-Wallet-Signature": sig}
        seconds[step], response = timed(lambda h=headers: client.get(view_url, headers=h), step)
        check_bytes(step, response.content, content)

    # A asks, the patient approves that record (sealing its data key to A), A reads.
    payload = doctor_a.typed_data(client, "requestAccess", {"patientAddress": patient.address})
    ask = {"patientAddress": patient.address, "requestReason": "second opinion", **access.signed(doctor_a, payload)}
    seconds["request_access"], response = timed(
        lambda: client.post("/api/access-requests/doctor/request", json=ask, headers=doctor_a.headers),
        "request_access", 201,
    )
    request_id = response.json()["id"]
    duration = GRANT_DAYS * 86400
    record_ids = [record["record_id"]]
    payload = patient.typed_data(
        client, "approveRecords", {"doctor": doctor_a.address, "recordIds": record_ids, "duration": duration}
    )
    answer = {
        "requestId": request_id, "action": "approve", "selectedRecords": record_ids, "durationSeconds": duration,
        "walletSignature": patient_sig, **access.signed(patient, payload, "approvalSignature"),
    }
    seconds["approve"], _ = timed(
        lambda: client.post("/api/access-requests/patient/respond", json=answer, headers=patient.headers), "approve"
    )
    a_headers = {**doctor_a.headers, "X-Wallet-Signature": a_sig}
    seconds["doctor_view"], response = timed(lambda: client.get(view_url, headers=a_headers), "doctor_view")
    check_bytes("doctor_view", response.content, content)

    # The patient revokes A; A is refused from then on.
    payload = patient.typed_data(client, "revokeAccess", {"doctor": doctor_a.address})
    revoke = {"doctorAddress": doctor_a.address, **access.signed(patient, payload)}
    seconds["revoke"], _ = timed(
        lambda: client.post("/api/access-requests/patient/revoke", json=revoke, headers=patient.headers), "revoke"
    )
    after = client.get(view_url, headers=a_headers)
    if after.status_code != 403:
        raise StepFailed(f"after revoke, A's view answered HTTP {after.status_code}, not 403: {after.text[:300]}")
    return seconds


def measure(stack: BenchStack, runs: int, size: int) -> dict[str, Any]:
    import httpx

    per_step: dict[str, list[float]] = {step: [] for step in STEPS}
    timeout = httpx.Timeout(HTTP_TIMEOUT_SECONDS, connect=10.0)
    with httpx.Client(base_url=stack.api_url, timeout=timeout, trust_env=False) as client:
        for i in range(runs):
            seconds = one_run(stack, client, size)
            for step in STEPS:
                per_step[step].append(seconds[step])
            say(f"  run {i + 1}/{runs}: " + ", ".join(f"{step} {seconds[step] * 1000:.0f} ms" for step in STEPS))
    steps = {
        step: {"median_ms": round(statistics.median(values) * 1000, 1), "runs_ms": [round(v * 1000, 1) for v in values]}
        for step, values in per_step.items()
    }
    return {"runs": runs, "file_bytes": size, "steps": steps,
            "total_median_ms": round(sum(s["median_ms"] for s in steps.values()), 1)}


def print_table(result: dict[str, Any]) -> None:
    print(f"doctor-authored flow: {result['runs']} runs, {result['file_bytes'] // 1024} KB file, server time per step")
    print(f"{'step':<18} {'median ms':>10} {'min ms':>8} {'max ms':>8}")
    for step, row in result["steps"].items():
        print(f"{step:<18} {row['median_ms']:>10.1f} {min(row['runs_ms']):>8.1f} {max(row['runs_ms']):>8.1f}")
    print(f"{'total (medians)':<18} {result['total_median_ms']:>10.1f}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="runs of the whole flow (default 5)")
    parser.add_argument("--size-kb", type=int, default=100, help="the doctor's file in KiB (default 100)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory and logs")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.size_kb < 1:
        parser.error("--runs and --size-kb must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    prepare_environment()
    stack = BenchStack(keep_dir=args.keep, say=say)
    measured = measure_on(stack, "doctor flow", lambda started: measure(started, args.runs, args.size_kb * 1024), say)
    if args.keep:
        say(f"  kept {stack.tmp}")
    if measured is None:
        return 2
    result = result_envelope(
        "doctor_flow",
        "server time of each step's HTTP call (signatures made before the clock); medians of the runs",
        measured,
    )
    print_table(result)
    text = print_result(result)
    save(text, OUT)
    return 0


if __name__ == "__main__":
    sys.exit(main())
