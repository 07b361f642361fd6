"""Service benchmark of record upload and view, on the real stack (part of `make bench`).

Run with the project venv: `python scripts/bench_records.py`. It starts its own SecantusDB, js-ipfs,
Anvil (with a fresh deployment) and the API (uvicorn, a separate single process) on free 127.0.0.1
ports in a temporary directory, and stops them all at the end.

For each size (1, 10 and 100 MB of random bytes, fresh bytes every run) and run:
- upload: the web app's flow (`tests/backend/support/records.py`): SHA-256 of the file, typed data
  for addRecord and its EIP-712 signature (before the clock starts), then the timed
  POST /api/medical-records/upload (multipart) until the answer (the record is pinned, the
  transaction mined and the record confirmed): the server's pipeline, not the client's signing;
- view: GET /api/medical-records/view/{cid} with X-Wallet-Signature, until the last byte (checked);
- bare IPFS add: the same plaintext bytes straight to the node's /api/v0/add (cid-version=1,
  raw-leaves=true, pin=true), what the upload would cost with no service in between.
Both send the file as a stream (`file_part`), as a browser sends a File. Bytes given whole go to
httpcore's socket write, which copies what is left after every partial send (encode/httpcore#1029):
a 100 MB body cost this client 0.55 s of CPU towards the API and 0.33 s towards the bare add
(medians of 6 runs; mostly page faults of those copies), more the slower the receiver reads, on
the cores the servers share. Streamed, 0.03 s either way.
Rates are medians over the runs; the target ratio is median upload rate / median bare-add rate
(`upload_vs_ipfs_add_paired_median`, the median of per-run ratios, is reported alongside). The
patient logs in (SIWE) once and makes a small warm-up upload first, so the one-time
record-contract creation is not counted in any run.

CPU: each process of the stack (api, ipfs, mongodb, chain, and client: this script) is read from
/proc around every timed upload and bare add; the means per operation, their total and that total
divided by the cores (`floor_ms`, the least wall time that much CPU allows here) are reported. On
a 2-core machine they show which ratios the hardware allows at all.

Memory: VmRSS of the API process is read before the first 100 MB upload, then sampled every 20 ms
in a background thread during each 100 MB upload and view; growth = peak - that baseline. VmHWM
(the process's lifetime peak) is reported too.

MB means MiB (2**20 bytes) throughout. Prints a table and the JSON, writes the JSON to
`.cache/bench/records.json`, and exits 1 when a target is missed (2 when the benchmark cannot run).

Options: `--sizes 1,10` (MB; targets are checked only when 100 is included), `--runs 5,3,3` (one
count per size), `--keep` (keep the temporary directory and its logs), `--profile-api FILE` (run
the API under cProfile and write its stats to FILE when it stops: only the event-loop thread is
profiled, and the figures are inflated, so they are printed but neither saved nor checked).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_support import (  # noqa: E402
    ROOT,
    BenchStack,
    CpuMeter,
    RssSampler,
    hwm_mib,
    measure_on,
    prepare_environment,
    print_result,
    result_envelope,
    rss_mib,
    save_and_check,
)

OUT = ROOT / ".cache" / "bench" / "records.json"
MB = 1024 * 1024
DEFAULT_RUNS = {1: 5, 10: 3, 100: 3}
TARGET_SIZE_MB = 100
TARGET_MIN_UPLOAD_VS_ADD = 0.5
TARGET_MAX_RSS_GROWTH_MB = 64.0
IPFS_ADD_PARAMS = {"cid-version": "1", "raw-leaves": "true", "pin": "true", "progress": "false"}
HTTP_TIMEOUT_SECONDS = 600.0


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------------------ client


def file_part(name: str, content: bytes) -> tuple[str, io.BytesIO, str]:
    """A multipart file part that httpx reads in 64 KiB pieces (Content-Length still known), the
    way a browser streams a File: no copy of the whole body, whatever the receiver's pace (see the
    module docstring for what sending `bytes` whole costs)."""
    return name, io.BytesIO(content), "application/octet-stream"


def timed_upload(
    client, wallet, content: bytes, meter: CpuMeter | None = None
) -> tuple[float, dict, dict, dict[str, float]]:
    """The web app's upload (tests' `upload_form`): the typed data is fetched and signed first, then
    only the POST is timed, until the answer; returns (seconds, record, CPU seconds per process
    during the POST when `meter` is given, the API's stage milliseconds from `Server-Timing`)."""
    from tests.backend.support.records import upload_form

    form = upload_form(client, wallet, content, "report", "bench.bin")
    before = meter.read() if meter else {}
    began = time.perf_counter()
    response = client.post(
        "/api/medical-records/upload",
        data=form,
        files={"file": file_part("bench.bin", content)},
        headers=wallet.headers,
    )
    elapsed = time.perf_counter() - began
    spent = meter.spent_since(before) if meter else {}
    if response.status_code != 201:
        raise RuntimeError(f"upload of {len(content)} bytes: HTTP {response.status_code}: {response.text[:500]}")
    record = response.json()
    if record.get("state") != "confirmed":
        raise RuntimeError(f"upload of {len(content)} bytes not confirmed: {record}")
    return elapsed, record, spent, server_timing(response.headers.get("server-timing", ""))


def server_timing(header: str) -> dict[str, float]:
    """`store;dur=31.2, total;dur=90.0` -> {"store": 31.2, "total": 90.0} (milliseconds)."""
    stages: dict[str, float] = {}
    for entry in filter(None, (part.strip() for part in header.split(","))):
        name, _, params = entry.partition(";")
        if params.startswith("dur="):
            stages[name] = float(params[4:])
    return stages


def stage_medians(readings: list[dict[str, float]]) -> dict[str, float]:
    """Median milliseconds of each upload stage over the runs (stages.py names them)."""
    names = list(dict.fromkeys(name for reading in readings for name in reading))
    return {name: round(statistics.median(r.get(name, 0.0) for r in readings), 1) for name in names}


def timed_view(client, wallet, cid: str, content: bytes) -> float:
    """GET /view/{cid} until the last byte; the bytes are checked after the clock stops."""
    headers = {**wallet.headers, "X-Wallet-Signature": wallet.key_signature(client)}
    received = bytearray()
    began = time.perf_counter()
    with client.stream("GET", f"/api/medical-records/view/{cid}", headers=headers) as response:
        if response.status_code != 200:
            response.read()
            raise RuntimeError(f"view {cid}: HTTP {response.status_code}: {response.text[:500]}")
        for chunk in response.iter_bytes():
            received += chunk
    elapsed = time.perf_counter() - began
    if len(received) != len(content) or hashlib.sha256(received).digest() != hashlib.sha256(content).digest():
        raise RuntimeError(f"view {cid} returned {len(received)} bytes that differ from the {len(content)} uploaded")
    return elapsed


def timed_ipfs_add(ipfs, content: bytes, meter: CpuMeter | None = None) -> tuple[float, dict]:
    """The same bytes straight to the node's /api/v0/add (multipart, as the API sends them); returns
    (seconds, CPU seconds per process when `meter` is given)."""
    before = meter.read() if meter else {}
    began = time.perf_counter()
    response = ipfs.post(
        "/api/v0/add", params=IPFS_ADD_PARAMS, files={"file": file_part("blob", content)}
    )
    elapsed = time.perf_counter() - began
    spent = meter.spent_since(before) if meter else {}
    if response.status_code != 200 or "Hash" not in response.text:
        raise RuntimeError(f"IPFS add of {len(content)} bytes: HTTP {response.status_code}: {response.text[:300]}")
    return elapsed, spent


# ------------------------------------------------------------------------------------------ measure


def cpu_means(readings: list[dict]) -> dict:
    """Mean CPU milliseconds per operation for each process, their total, and `floor_ms`: the total
    divided by this machine's cores, the least wall time the operation can take here."""
    if not readings:
        return {}
    names = list(readings[0])
    means = {name: round(1000 * statistics.fmean(r[name] for r in readings), 1) for name in names}
    total = sum(means.values())
    return {**means, "total": round(total, 1), "floor_ms": round(total / (os.cpu_count() or 1), 1)}


def cpu_ceiling(add_ms: float, upload_cpu: dict) -> float | None:
    """Bare-add wall milliseconds / the upload's CPU floor (`cpu_means`'s `floor_ms`): the ratio the
    upload could reach if the stack's processes overlapped perfectly on this machine's cores."""
    floor = upload_cpu.get("floor_ms")
    return round(add_ms / floor, 3) if floor else None


def measure(stack: BenchStack, sizes: list[int], runs: dict[int, int], warmups: int = 0) -> dict:
    """Upload, view and bare-add each size `runs[size]` times; first `warmups` untimed rounds of each
    size (the API's first large upload after start pays one-time costs, e.g. the allocator growing
    its heap: its memory is still sampled for the 100 MB size, whose baseline is taken before)."""
    import httpx
    from tests.backend.support.wallet import Wallet

    pid = stack.api_pid
    timeout = httpx.Timeout(HTTP_TIMEOUT_SECONDS, connect=10.0)
    results: dict[str, dict] = {}
    memory: dict = {}
    with (
        httpx.Client(base_url=stack.api_url, timeout=timeout, trust_env=False) as client,
        httpx.Client(base_url=stack.ipfs_api_url, timeout=timeout, trust_env=False) as ipfs,
    ):
        wallet = Wallet.random()
        wallet.login(client)
        timed_upload(client, wallet, os.urandom(1024))  # creates the patient's vault
        meter = CpuMeter(stack.service_pids)
        memory["rss_after_warmup_mb"] = round(rss_mib(pid), 1)

        def sampled(tracked: bool, key: str, call: Callable[..., Any], *args: Any) -> Any:
            """`call(*args)`, with the API's RSS peak during it kept under `key` when `tracked` (100 MB)."""
            if not tracked:
                return call(*args)
            with RssSampler(pid) as sampler:
                result = call(*args)
            memory[key].append(round(sampler.peak_mib, 1))
            memory["samples"] += sampler.samples
            return result

        for size_mb in sizes:
            n = runs[size_mb]
            size = size_mb * MB
            uploads: list[float] = []
            views: list[float] = []
            adds: list[float] = []
            tracked = size_mb == TARGET_SIZE_MB
            if tracked:
                baseline = rss_mib(pid)
                memory.update(
                    baseline_mb=round(baseline, 1),
                    vmhwm_before_mb=round(hwm_mib(pid), 1),
                    upload_peaks_mb=[],
                    view_peaks_mb=[],
                    samples=0,
                )
            upload_cpu: list[dict] = []
            add_cpu: list[dict] = []
            upload_stages: list[dict[str, float]] = []
            for _ in range(warmups):
                content = os.urandom(size)
                _, record, _, _ = sampled(tracked, "upload_peaks_mb", timed_upload, client, wallet, content)
                timed_view(client, wallet, record["cid"], content)
                timed_ipfs_add(ipfs, content)
                say(f"  {size_mb:>4} MB warm-up (untimed)")
                del content
            for i in range(n):
                content = os.urandom(size)
                upload_s, record, spent, stages = sampled(
                    tracked, "upload_peaks_mb", timed_upload, client, wallet, content, meter
                )
                upload_stages.append(stages)
                view_s = sampled(tracked, "view_peaks_mb", timed_view, client, wallet, record["cid"], content)
                add_s, add_spent = timed_ipfs_add(ipfs, content, meter)
                upload_cpu.append(spent)
                add_cpu.append(add_spent)
                uploads.append(upload_s)
                views.append(view_s)
                adds.append(add_s)
                say(
                    f"  {size_mb:>4} MB run {i + 1}/{n}: upload {upload_s:7.3f} s, view {view_s:7.3f} s, "
                    f"bare IPFS add {add_s:7.3f} s"
                )
                del content
            stage_ms = stage_medians(upload_stages)
            add_ms = 1000 * statistics.median(adds)
            if "store" in stage_ms:
                say(
                    f"  {size_mb:>4} MB upload stages (median ms, Server-Timing): "
                    + ", ".join(f"{name} {ms:g}" for name, ms in stage_ms.items())
                    + f"; bare IPFS add {add_ms:.1f}"
                )
            upload_cpu_means = cpu_means(upload_cpu)
            upload_rate = size_mb / statistics.median(uploads)
            view_rate = size_mb / statistics.median(views)
            add_rate = size_mb / statistics.median(adds)
            results[f"{size_mb}MB"] = {
                "bytes": size,
                "runs": n,
                "upload_s": [round(t, 4) for t in uploads],
                "view_s": [round(t, 4) for t in views],
                "ipfs_add_s": [round(t, 4) for t in adds],
                "upload_mb_s": round(upload_rate, 2),
                "view_mb_s": round(view_rate, 2),
                "ipfs_add_mb_s": round(add_rate, 2),
                "upload_vs_ipfs_add": round(upload_rate / add_rate, 3),
                # Each run's upload against the bare add of the same bytes right after it: less
                # sensitive to load that drifts between runs (informative; the target uses the above).
                "upload_vs_ipfs_add_paired_median": round(statistics.median(a / u for a, u in zip(adds, uploads)), 3),
                # Where the time goes: each process's CPU per operation (means: /proc counts 10 ms ticks),
                # and the least wall time that much CPU needs on this machine's cores.
                "cpu_ms_per_upload": upload_cpu_means,
                "cpu_ms_per_ipfs_add": cpu_means(add_cpu),
                # The highest upload/add ratio that CPU allows here: the bare add's median wall time
                # over the least wall time the upload's CPU needs on these cores (each process of the
                # stack, the client included, shares them). A target above it is out of reach on
                # this machine however the work is overlapped.
                "upload_vs_ipfs_add_cpu_ceiling": cpu_ceiling(add_ms, upload_cpu_means),
                # The API's own account of each upload (Server-Timing, medians): `store` is the part a
                # bare add also does (receive the bytes, add them), plus hashing and encrypting on the
                # way; the rest is what a bare add does not do (checks, document, pin, chain).
                "upload_stage_ms": stage_ms,
                "store_stage_vs_ipfs_add": round(add_ms / stage_ms["store"], 3) if stage_ms.get("store") else None,
            }
        if "baseline_mb" in memory:
            base = memory["baseline_mb"]
            memory["upload_peak_mb"] = max(memory["upload_peaks_mb"])
            memory["view_peak_mb"] = max(memory["view_peaks_mb"])
            memory["upload_growth_mb"] = round(memory["upload_peak_mb"] - base, 1)
            memory["view_growth_mb"] = round(memory["view_peak_mb"] - base, 1)
            memory["vmhwm_after_mb"] = round(hwm_mib(pid), 1)
            memory["rss_end_mb"] = round(rss_mib(pid), 1)
    return {"sizes": results, "api_memory": memory}


def report(measured: dict, sizes: list[int]) -> dict:
    targets: dict[str, dict] = {}
    key = f"{TARGET_SIZE_MB}MB"
    if key in measured["sizes"]:
        ratio = measured["sizes"][key]["upload_vs_ipfs_add"]
        targets[f"upload_vs_ipfs_add_{key}"] = {
            "value": ratio,
            "target": f">= {TARGET_MIN_UPLOAD_VS_ADD}",
            "ok": ratio >= TARGET_MIN_UPLOAD_VS_ADD,
        }
        growth = measured["api_memory"]["upload_growth_mb"]
        targets[f"api_rss_growth_upload_{key}_mb"] = {
            "value": growth,
            "target": f"<= {TARGET_MAX_RSS_GROWTH_MB:g}",
            "ok": growth <= TARGET_MAX_RSS_GROWTH_MB,
        }
    return result_envelope("records", "MB = 2**20 bytes; rates are medians of the runs", measured, targets)


def print_table(result: dict) -> None:
    print(f"{'size':>7} {'runs':>4} {'upload MB/s':>12} {'view MB/s':>10} {'IPFS add MB/s':>14} {'upload/add':>11}")
    for name, row in result["sizes"].items():
        print(
            f"{name:>7} {row['runs']:>4} {row['upload_mb_s']:>12.2f} {row['view_mb_s']:>10.2f} "
            f"{row['ipfs_add_mb_s']:>14.2f} {row['upload_vs_ipfs_add']:>11.3f}"
        )
    for name, row in result["sizes"].items():
        for label, key in (("upload", "cpu_ms_per_upload"), ("bare add", "cpu_ms_per_ipfs_add")):
            cpu = row.get(key) or {}
            if cpu:
                parts = ", ".join(f"{k} {v:g}" for k, v in cpu.items() if k not in ("total", "floor_ms"))
                print(f"{name:>7} CPU per {label} (ms, mean): {parts}; total {cpu['total']:g}, "
                      f"so at least {cpu['floor_ms']:g} ms on {os.cpu_count()} cores")
        if row.get("upload_vs_ipfs_add_cpu_ceiling") is not None:
            print(f"{name:>7} upload/add allowed by that CPU at most: {row['upload_vs_ipfs_add_cpu_ceiling']:.3f} "
                  f"(measured {row['upload_vs_ipfs_add']:.3f})")
    mem = result["api_memory"]
    if "baseline_mb" in mem:
        print(
            f"\nAPI RSS ({TARGET_SIZE_MB} MB): baseline {mem['baseline_mb']:.1f} MB, "
            f"peak during upload {mem['upload_peak_mb']:.1f} MB (+{mem['upload_growth_mb']:.1f}), "
            f"during view {mem['view_peak_mb']:.1f} MB (+{mem['view_growth_mb']:.1f}), "
            f"VmHWM {mem['vmhwm_after_mb']:.1f} MB"
        )
    if result["targets"]:
        print()
        for name, t in result["targets"].items():
            print(f"{name:<36} {t['value']:>9} (target {t['target']}) {'ok' if t['ok'] else 'MISSED'}")


# ------------------------------------------------------------------------------------------ main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1,10,100", help="file sizes in MB, comma-separated")
    parser.add_argument("--runs", default="", help="runs per size, comma-separated (default 5,3,3 / 3)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory and logs")
    parser.add_argument("--profile-api", metavar="FILE", help="cProfile the API process into FILE")
    args = parser.parse_args(argv)
    args.sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    if args.runs:
        counts = [int(s) for s in args.runs.split(",") if s.strip()]
        if len(counts) != len(args.sizes):
            parser.error("--runs needs one count per size")
        args.runs = dict(zip(args.sizes, counts))
    else:
        args.runs = {size: DEFAULT_RUNS.get(size, 3) for size in args.sizes}
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    prepare_environment()
    profile_args = []
    if args.profile_api:  # bench_support.py runs `-m uvicorn ...` under cProfile (see _profile_module)
        profile_args = [str(Path(__file__).resolve().parent / "bench_support.py"), str(Path(args.profile_api).resolve())]
    stack = BenchStack(
        max_upload_bytes=max(200, 2 * max(args.sizes)) * MB, keep_dir=args.keep, api_python_args=profile_args, say=say
    )
    measured = measure_on(stack, "records", lambda started: measure(started, args.sizes, args.runs), say)
    if args.keep:
        say(f"  kept {stack.tmp}")
    if measured is None:
        return 2

    result = report(measured, args.sizes)
    print_table(result)
    text = print_result(result)
    if args.profile_api:
        say(f"profiled run: figures not saved nor checked; API profile in {args.profile_api}")
        return 0
    return save_and_check(text, OUT, result, "records targets missed")


if __name__ == "__main__":
    sys.exit(main())
