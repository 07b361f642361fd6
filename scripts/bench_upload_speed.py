"""Uploads at the IPFS limit (issue 15, part of `make bench`): the API's upload of 1 MB and 100 MB
against a bare IPFS `add` of the same bytes, in the same run, on the same js-ipfs node.

Run with the project venv: `python scripts/bench_upload_speed.py`. The stack and the measurement
are bench_records.py's (its own SecantusDB, js-ipfs, Anvil and one uvicorn API process on free
127.0.0.1 ports): for each size and run, fresh random bytes are signed (not timed), POSTed to
/api/medical-records/upload until the 201 answer with the record confirmed, viewed back (checked),
then sent straight to the node's /api/v0/add with the same CID options (cid-version=1,
raw-leaves=true, pinned). Rates are medians of the runs; the ratio is upload rate / bare-add rate.

Each size starts with one untimed round (`--warmups`): the API's first 100 MB upload after start
ran 0.5-0.7 s slower than the next ones (one-time costs such as the allocator growing its heap), and
the bare add gets the same warm-up. The timed runs are the steady state.

CPU: each stack process's CPU per upload and per bare add (bench_records.py's `cpu_means`), with
the least wall time that CPU allows on this machine's cores.

Memory: the API process's VmRSS before the first 100 MB upload (the warm-up included), and its peak
sampled every 20 ms during each 100 MB upload; growth = peak - before (RSS after the runs is reported too).

Targets (issue 15): 100 MB >= 0.9 of the bare add rate, 1 MB >= 0.5, API RSS growth <= 64 MB.
Writes `.cache/bench/upload_speed.json`; exits 1 when a target is missed, 2 when it cannot run.
Options: `--runs 9,5` (runs for 1 MB and 100 MB), `--warmups 1`, `--keep`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_records import measure, print_table, say
from bench_support import (
    ROOT,
    BenchStack,
    measure_on,
    prepare_environment,
    print_result,
    result_envelope,
    save_and_check,
)

OUT = ROOT / ".cache" / "bench" / "upload_speed.json"
MB = 1024 * 1024
SIZES = (1, 100)
TARGET_RATIO = {1: 0.5, 100: 0.9}
TARGET_MAX_RSS_GROWTH_MB = 64.0


def report(measured: dict) -> dict:
    targets: dict[str, dict] = {}
    for size_mb, target in TARGET_RATIO.items():
        row = measured["sizes"].get(f"{size_mb}MB")
        if row is None:
            continue
        ratio = row["upload_vs_ipfs_add"]
        targets[f"upload_vs_ipfs_add_{size_mb}MB"] = {"value": ratio, "target": f">= {target}", "ok": ratio >= target}
    memory = measured["api_memory"]
    if "upload_growth_mb" in memory:
        growth = memory["upload_growth_mb"]
        targets["api_rss_growth_upload_100MB_mb"] = {
            "value": growth,
            "target": f"<= {TARGET_MAX_RSS_GROWTH_MB:g}",
            "ok": growth <= TARGET_MAX_RSS_GROWTH_MB,
        }
    return result_envelope(
        "upload_speed", "MB = 2**20 bytes; rates are medians of the runs; ratios measured in the same run",
        measured, targets,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", default="9,5", help="runs for 1 MB and for 100 MB")
    parser.add_argument("--warmups", type=int, default=1, help="untimed rounds of each size first")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory and logs")
    args = parser.parse_args(argv)
    counts = [int(s) for s in args.runs.split(",")]
    if len(counts) != len(SIZES):
        parser.error("--runs needs two counts: 1 MB, 100 MB")
    runs = dict(zip(SIZES, counts))
    prepare_environment()
    stack = BenchStack(max_upload_bytes=200 * MB, keep_dir=args.keep, say=say)
    measured = measure_on(
        stack, "upload speed", lambda started: measure(started, list(SIZES), runs, warmups=args.warmups), say
    )
    if measured is None:
        return 2
    result = report(measured)
    print_table(result)
    return save_and_check(print_result(result), OUT, result, "upload speed targets missed")


if __name__ == "__main__":
    sys.exit(main())
