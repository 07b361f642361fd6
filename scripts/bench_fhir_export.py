"""Service benchmark of the FHIR export (GET /api/fhir/bundle), on the real stack (part of `make bench`).

Run with the project venv: `python scripts/bench_fhir_export.py`. Like the other service benchmarks
it starts its own SecantusDB, js-ipfs, Anvil (fresh deployment) and the API (one uvicorn process) on
free 127.0.0.1 ports (`bench_support.BenchStack`) and stops them all at the end.

Untimed set-up: a fresh patient signs in, registers their encryption key and uploads `--records`
records (default 100): every other one a structured record (a FHIR MedicationRequest, about 1.3 KB,
`application/fhir+json`), the rest `--file-kb` KiB files (default 8), all mined and confirmed.

Timed, in each of `--runs` rounds (default 3), in the same process and round so the two compare:
  export     one GET /api/fhir/bundle of all of them (each record verified against MongoDB, IPFS and
             the chain as /view does, logged as a view; the Bundle built and validated), body read;
  views      the same records opened one by one with GET /view/{cid} (what a client exporting by
             hand would do), bodies read.
Reported: the medians, the ratio export / views, the Bundle's size, and its size per record. The
Bundle is checked after the clock (it validates with fhir.resources, it holds every record).

Then large exports, which hold the event loop if anything does: a second patient uploads
`--large-files` files of `--large-file-mb` MiB (default 6 × 8 MiB, near the 64 MiB export cap),
and for each count in `--large-concurrency` (default 1,2,1,2) that many exports of that vault run
at once while another client, in a process of its own (bench_fhir_import.Probe), asks
GET /api/system/config every 20 ms: the wall time and how long that cheap request waited
(median, p95, max).

Prints a table and the JSON, writes the JSON to `.cache/bench/fhir_export.json`; exits 2 when the
benchmark cannot run. No targets: the figures are for the issue's note and for comparing commits.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_support import ROOT, BenchStack, measure_on, prepare_environment, print_result, result_envelope, save  # noqa: E402

OUT = ROOT / ".cache" / "bench" / "fhir_export.json"
HTTP_TIMEOUT_SECONDS = 300.0
FHIR_JSON = "application/fhir+json"


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


class BenchFailed(RuntimeError):
    """An answer other than the one expected: no figures."""


def set_up(client: Any, records: int, file_size: int) -> tuple[Any, str, list[str]]:
    """A patient with `records` confirmed records; (wallet, key signature, CIDs)."""
    from tests.backend.support.fhir import encoded, medication_request
    from tests.backend.support.keys import register_key
    from tests.backend.support.records import upload
    from tests.backend.support.wallet import Wallet

    patient = Wallet.random()
    if patient.login(client)["role"] != "patient":
        raise BenchFailed("the fresh wallet did not sign in as a patient")
    register_key(client, patient)
    cids = []
    for index in range(records):
        if index % 2 == 0:
            resource = medication_request(patient.address, patient.address)
            resource["note"] = [{"text": f"prescription {index}"}]
            response = upload(client, patient, encoded(resource), "prescription", f"rx {index}.json", content_type=FHIR_JSON)
        else:
            response = upload(client, patient, os.urandom(file_size), "report", f"scan {index}.bin",
                              content_type="application/octet-stream")
        if response.status_code != 201 or response.json().get("state") != "confirmed":
            raise BenchFailed(f"upload {index}: HTTP {response.status_code}: {response.text[:300]}")
        cids.append(response.json()["cid"])
        if (index + 1) % 25 == 0:
            say(f"  {index + 1}/{records} records uploaded")
    return patient, patient.key_signature(client), cids


def measure(stack: BenchStack, runs: int, records: int, file_size: int) -> dict[str, Any]:
    import httpx
    from fhir.resources.R4B.bundle import Bundle

    timeout = httpx.Timeout(HTTP_TIMEOUT_SECONDS, connect=10.0)
    with httpx.Client(base_url=stack.api_url, timeout=timeout, trust_env=False) as client:
        patient, key_signature, cids = set_up(client, records, file_size)
        headers = {**patient.headers, "X-Wallet-Signature": key_signature}
        export_s: list[float] = []
        views_s: list[float] = []
        bundle_bytes = 0
        for run in range(runs):
            began = time.perf_counter()
            response = client.get("/api/fhir/bundle", headers=headers)
            export_s.append(time.perf_counter() - began)
            if response.status_code != 200:
                raise BenchFailed(f"export: HTTP {response.status_code}: {response.text[:300]}")
            bundle_bytes = len(response.content)
            bundle = Bundle.model_validate_json(response.content)
            if len(bundle.entry or []) != records:
                raise BenchFailed(f"export: {len(bundle.entry or [])} entries, not {records}")

            began = time.perf_counter()
            for cid in cids:
                viewed = client.get(f"/api/medical-records/view/{cid}", headers=headers)
                if viewed.status_code != 200:
                    raise BenchFailed(f"view {cid}: HTTP {viewed.status_code}: {viewed.text[:300]}")
            views_s.append(time.perf_counter() - began)
            say(f"  run {run + 1}/{runs}: export {export_s[-1] * 1000:.0f} ms, {records} views {views_s[-1] * 1000:.0f} ms")
    export_ms = statistics.median(export_s) * 1000
    views_ms = statistics.median(views_s) * 1000
    structured = (records + 1) // 2
    return {
        "runs": runs,
        "records": records,
        "structured_records": structured,
        "file_records": records - structured,
        "file_bytes": file_size,
        "export_median_ms": round(export_ms, 1),
        "export_runs_ms": [round(s * 1000, 1) for s in export_s],
        "views_median_ms": round(views_ms, 1),
        "views_runs_ms": [round(s * 1000, 1) for s in views_s],
        "export_per_views_ratio": round(export_ms / views_ms, 3),
        "bundle_bytes": bundle_bytes,
        "bundle_bytes_per_record": round(bundle_bytes / records),
    }


def measure_large(stack: BenchStack, files: int, file_size: int, counts: list[int]) -> list[dict[str, Any]]:
    """Rounds of `count` concurrent exports of a vault of `files` large files, probed from another process."""
    import httpx
    from bench_fhir_import import probed_round

    timeout = httpx.Timeout(HTTP_TIMEOUT_SECONDS, connect=10.0)
    with httpx.Client(base_url=stack.api_url, timeout=timeout, trust_env=False) as client:
        patient, key_signature, _ = set_up(client, files * 2, file_size)  # every other record a file
    headers = {**patient.headers, "X-Wallet-Signature": key_signature}
    failures: list[str] = []

    def export() -> None:
        with httpx.Client(base_url=stack.api_url, timeout=timeout, trust_env=False) as client:
            response = client.get("/api/fhir/bundle", headers=headers)
        if response.status_code != 200:
            failures.append(f"HTTP {response.status_code}: {response.text[:300]}")

    export()  # untimed: the first export pays one-time costs (a worker process starting)
    rounds = []
    for count in counts:
        elapsed, probed = probed_round(stack.api_url, [export] * count)
        if failures:
            raise BenchFailed(f"{len(failures)} large exports failed; first: {failures[0]}")
        rounds.append({"concurrent_exports": count, "seconds": round(elapsed, 3), "probe": probed})
        say(f"  {count} large export(s) at once: {elapsed:.2f} s, probe {rounds[-1]['probe']}")
    return rounds


def print_table(result: dict[str, Any]) -> None:
    print(f"FHIR export: {result['records']} records ({result['structured_records']} MedicationRequest, "
          f"{result['file_records']} files of {result['file_bytes'] // 1024} KiB), {result['runs']} runs")
    print(f"{'step':<28} {'median ms':>10}")
    print(f"{'GET /api/fhir/bundle':<28} {result['export_median_ms']:>10.1f}")
    print(f"{'the same, one /view each':<28} {result['views_median_ms']:>10.1f}")
    print(f"export / views ratio: {result['export_per_views_ratio']:.3f}")
    print(f"bundle: {result['bundle_bytes']} bytes ({result['bundle_bytes_per_record']} per record)")
    large = result.get("large")
    if large:
        print(f"\nlarge exports: {large['files']} files of {large['file_bytes'] // (1024 * 1024)} MiB "
              "(+ as many MedicationRequests); another request's wait meanwhile")
        print(f"{'at once':>8} {'seconds':>8} {'probe p50':>10} {'p95':>7} {'max':>7}")
        for row in large["rounds"]:
            probe = row["probe"]
            print(f"{row['concurrent_exports']:>8} {row['seconds']:>8.2f} {probe.get('median_ms', 0):>10.1f} "
                  f"{probe.get('p95_ms', 0):>7.1f} {probe.get('max_ms', 0):>7.1f}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="rounds of export + views (default 3)")
    parser.add_argument("--records", type=int, default=100, help="records in the vault (default 100)")
    parser.add_argument("--file-kb", type=int, default=8, help="size of each file record in KiB (default 8)")
    parser.add_argument("--large-files", type=int, default=6, help="files in the large vault (default 6; 0: skip)")
    parser.add_argument("--large-file-mb", type=int, default=8, help="MiB of each large file (default 8)")
    parser.add_argument("--large-concurrency", default="1,2,1,2", help="exports at once, one round each")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory and logs")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.records < 1 or args.file_kb < 1 or args.large_files < 0 or args.large_file_mb < 1:
        parser.error("--runs, --records, --file-kb and --large-file-mb must be at least 1, --large-files at least 0")
    args.large_counts = [int(part) for part in args.large_concurrency.split(",")]
    if min(args.large_counts) < 1:
        parser.error("--large-concurrency counts must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    prepare_environment()
    stack = BenchStack(keep_dir=args.keep, say=say)

    def run(started: BenchStack) -> dict[str, Any]:
        measured = measure(started, args.runs, args.records, args.file_kb * 1024)
        if args.large_files:
            file_bytes = args.large_file_mb * 1024 * 1024
            measured["large"] = {
                "files": args.large_files,
                "file_bytes": file_bytes,
                "rounds": measure_large(started, args.large_files, file_bytes, args.large_counts),
            }
        return measured

    measured = measure_on(stack, "FHIR export", run, say)
    if args.keep:
        say(f"  kept {stack.tmp}")
    if measured is None:
        return 2
    result = result_envelope(
        "fhir_export",
        "client-side wall time of each HTTP call, body read; medians of the runs, ratio in the same run",
        measured,
    )
    print_table(result)
    text = print_result(result)
    save(text, OUT)
    json.loads(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
