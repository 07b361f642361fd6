"""Service benchmark of FHIR imports at the upload limit (POST /api/fhir/import/prepare), part of `make bench`.

Run with the project venv: `python scripts/bench_fhir_import.py`. The stack is bench_support's
(its own SecantusDB, js-ipfs, Anvil and one uvicorn API process on free 127.0.0.1 ports).

What it shows: a Bundle near the upload limit is held several times over while it is prepared, so
the API bounds how many it works on at once (FHIR_BUNDLE_CONCURRENCY, services/fhir_import.py).
For each count in `--concurrency` (default 1,4,8), that many patients' clients send the same Bundle
of `--files` DocumentReferences with `--file-mb` MiB inline each (default 6 × 6 MiB: a 48 MiB body)
at once, after one untimed import. Measured per round:
  - the API process's RSS peak (sampled every 20 ms) and its growth over the RSS before the round;
  - the wall time until every answer is read (each checked: 200, every file prepared);
  - the latency of GET /api/system/config, asked every 20 ms during the round by another client in
    a process of its own (`Probe`): whether the imports hold the event loop for everyone else
    (median, p95, max).

Prints a table and the JSON, writes `.cache/bench/fhir_import.json`; exits 2 when it cannot run.
No targets: the figures are for the issue's note and for comparing commits.
"""

from __future__ import annotations

import argparse
import base64
import functools
import json
import multiprocessing
import os
import statistics
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_records import say  # noqa: E402
from bench_support import (  # noqa: E402
    ROOT,
    BenchStack,
    RssSampler,
    measure_on,
    prepare_environment,
    print_result,
    result_envelope,
    rss_mib,
    save,
)

OUT = ROOT / ".cache" / "bench" / "fhir_import.json"
MB = 1024 * 1024
PREPARE = "/api/fhir/import/prepare"
PROBE = "/api/system/config"
PROBE_INTERVAL_SECONDS = 0.02
HTTP_TIMEOUT_SECONDS = 300.0


def bundle(files: int, file_bytes: int) -> bytes:
    """A collection Bundle of `files` DocumentReferences, each with random bytes inline."""
    entries = [
        {
            "fullUrl": f"urn:uuid:bench-{i}",
            "resource": {
                "resourceType": "DocumentReference",
                "status": "current",
                "type": {"text": "report"},
                "content": [
                    {
                        "attachment": {
                            "contentType": "application/pdf",
                            "title": f"scan-{i}.pdf",
                            "data": base64.b64encode(os.urandom(file_bytes)).decode("ascii"),
                        }
                    }
                ],
            },
        }
        for i in range(files)
    ]
    return json.dumps({"resourceType": "Bundle", "type": "collection", "entry": entries}).encode()


class Probe:
    """Asks a cheap route every PROBE_INTERVAL_SECONDS from a process of its own; `latencies` in seconds.

    Why a process: as a thread of this script it shared the GIL with the clients it measures, and
    theirs hold it for long stretches (parsing each 48 MiB answer, copying each body as httpcore
    sends it), so it timed this script's stalls along with the API's.
    """

    def __init__(self, api_url: str) -> None:
        self.api_url = api_url
        self.latencies: list[float] = []
        context = multiprocessing.get_context("spawn")
        self._stop = context.Event()
        self._ready = context.Event()
        self._results, sender = context.Pipe(duplex=False)
        self._process = context.Process(
            target=_probe_loop, args=(api_url, self._stop, self._ready, sender), name="probe", daemon=True
        )

    def __enter__(self) -> Probe:
        self._process.start()
        if not self._ready.wait(60):
            raise RuntimeError("the probe process did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._results.poll(HTTP_TIMEOUT_SECONDS):
            self.latencies = self._results.recv()
        self._process.join(10)

    def summary(self) -> dict[str, float]:
        ordered = sorted(self.latencies)
        if not ordered:
            return {}
        return {
            "probes": len(ordered),
            "median_ms": round(1000 * statistics.median(ordered), 1),
            "p95_ms": round(1000 * ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], 1),
            "max_ms": round(1000 * ordered[-1], 1),
        }


def probed_round(api_url: str, calls: list[Callable[[], None]]) -> tuple[float, dict[str, float]]:
    """Run `calls` at once, one thread each, while a Probe asks PROBE from its own process; returns
    the seconds from the first start to the last end (the probe is already asking when the clock
    starts: its process's start-up is not counted) and the probe's summary."""
    threads = [threading.Thread(target=call) for call in calls]
    with Probe(api_url) as probe:
        began = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - began
    return elapsed, probe.summary()


def _probe_loop(api_url: str, stop: Any, ready: Any, results: Any) -> None:
    """The probe process: GET PROBE every PROBE_INTERVAL_SECONDS until `stop`, then send the latencies."""
    import httpx

    latencies: list[float] = []
    with httpx.Client(base_url=api_url, timeout=HTTP_TIMEOUT_SECONDS, trust_env=False) as client:
        client.get(PROBE).raise_for_status()  # connected before the round starts
        ready.set()
        while not stop.is_set():
            began = time.perf_counter()
            client.get(PROBE).raise_for_status()
            latencies.append(time.perf_counter() - began)
            stop.wait(PROBE_INTERVAL_SECONDS)
    results.send(latencies)


def measure(stack: BenchStack, counts: list[int], files: int, file_bytes: int) -> dict[str, Any]:
    import httpx
    from tests.backend.support.wallet import Wallet

    body = bundle(files, file_bytes)
    timeout = httpx.Timeout(HTTP_TIMEOUT_SECONDS, connect=10.0)
    wallets = []
    with httpx.Client(base_url=stack.api_url, timeout=timeout, trust_env=False) as client:
        for _ in range(max(counts)):
            wallet = Wallet.random()
            wallet.login(client)
            wallets.append(wallet)

    def prepare(wallet: Any, failures: list[str]) -> None:
        with httpx.Client(base_url=stack.api_url, timeout=timeout, trust_env=False) as client:
            answer = client.post(PREPARE, content=body, headers={**wallet.headers, "Content-Type": "application/fhir+json"})
        if answer.status_code != 200:
            failures.append(f"HTTP {answer.status_code}: {answer.text[:300]}")
        elif len(answer.json()["records"]) != files:
            failures.append(f"{len(answer.json()['records'])} of {files} files prepared")

    failures: list[str] = []
    prepare(wallets[0], failures)  # untimed: the first import pays one-time costs
    rounds = []
    for count in counts:
        before = rss_mib(stack.api_pid)
        with RssSampler(stack.api_pid) as sampler:
            elapsed, probed = probed_round(
                stack.api_url, [functools.partial(prepare, wallet, failures) for wallet in wallets[:count]]
            )
        if failures:
            raise RuntimeError(f"{len(failures)} imports failed; first: {failures[0]}")
        row = {
            "concurrent_imports": count,
            "seconds": round(elapsed, 3),
            "api_rss_before_mb": round(before, 1),
            "api_rss_peak_mb": round(sampler.peak_mib, 1),
            "api_rss_growth_mb": round(sampler.peak_mib - before, 1),
            "probe": probed,
        }
        say(f"  {count} at once: {row['seconds']} s, API RSS peak {row['api_rss_peak_mb']} MB "
            f"(+{row['api_rss_growth_mb']}), probe {row['probe']}")
        rounds.append(row)
    return {"bundle_bytes": len(body), "files": files, "file_bytes": file_bytes, "rounds": rounds}


def print_table(result: dict[str, Any]) -> None:
    print(f"FHIR import prepare: Bundle of {result['bundle_bytes'] / MB:.1f} MiB ({result['files']} files)")
    print(f"{'at once':>8} {'seconds':>8} {'RSS peak MB':>12} {'growth MB':>10} {'probe p50':>10} {'p95':>7} {'max':>7}")
    for row in result["rounds"]:
        probe = row["probe"]
        print(f"{row['concurrent_imports']:>8} {row['seconds']:>8.2f} {row['api_rss_peak_mb']:>12.0f} "
              f"{row['api_rss_growth_mb']:>10.0f} {probe.get('median_ms', 0):>10.1f} {probe.get('p95_ms', 0):>7.1f} "
              f"{probe.get('max_ms', 0):>7.1f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--concurrency", default="1,4,8", help="imports sent at once, one round each")
    parser.add_argument("--files", type=int, default=6, help="files in the Bundle")
    parser.add_argument("--file-mb", type=int, default=6, help="MiB of each file")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory and logs")
    args = parser.parse_args(argv)
    counts = [int(part) for part in args.concurrency.split(",")]
    if min(counts) < 1 or args.files < 1 or args.file_mb < 1:
        parser.error("--concurrency, --files and --file-mb must be at least 1")
    prepare_environment()
    stack = BenchStack(keep_dir=args.keep, say=say)
    measured = measure_on(
        stack, "FHIR import", lambda started: measure(started, counts, args.files, args.file_mb * MB), say
    )
    if measured is None:
        return 2
    result = result_envelope("fhir_import", "MB = 2**20 bytes; wall time until every answer is read", measured)
    print_table(result)
    text = print_result(result)
    save(text, OUT)
    return 0


if __name__ == "__main__":
    sys.exit(main())
