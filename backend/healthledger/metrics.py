"""Prometheus metrics of the API (served at `/metrics`, see api/metrics.py).

Why one module of module-level metrics: every layer records into the same few series (the HTTP
edge its requests, the adapters their dependency calls, the relayer its transactions) without
passing a registry around. The registry is this module's own, not prometheus-client's global one,
so a test or a second app in one process reads exactly these series, and library default collectors
(process, GC, platform) are added to it explicitly.

Two modes, chosen by the environment when this module is imported (prometheus-client picks its
value class when it is first imported, before any metric exists, so a setting read later, e.g.
from `.env`, cannot switch it; app.py refuses to start when the two disagree):

- one process (PROMETHEUS_MULTIPROC_DIR unset): values live in this process; `render()` serves
  REGISTRY with the process/GC/platform collectors.
- several worker processes behind one port (`uvicorn --workers N`, `make run API_INSTANCES=N`):
  PROMETHEUS_MULTIPROC_DIR names an empty directory made before the workers start, wiped at each
  start, one per host. Every process writes its values to its own mmap files there, and `render()`
  merges all of them with prometheus-client's `MultiProcessCollector` (its documented multiprocess
  mode), whichever worker answers the scrape: counters and histograms are summed over workers
  (including workers that died, so totals never go back), and each gauge has its own
  `multiprocess_mode`. The per-process collectors (CPU, memory, GC) do not apply in this mode and
  are left out, as prometheus-client documents. `mark_process_dead()` runs at each worker's
  shutdown.

Labels are bounded by construction: routes are FastAPI route *templates* (never raw paths, which
carry CIDs and addresses), statuses are classes (`2xx`), outcomes and operations are fixed words.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

__all__ = [
    "CONTENT_TYPE_LATEST",
    "MULTIPROCESS_DIR",
    "REGISTRY",
    "dependency_seconds",
    "http_request_seconds",
    "mark_process_dead",
    "observe_dependency",
    "observe_dependency_seconds",
    "record_transaction",
    "record_upload",
    "relayer_balance_eth",
    "relayer_queue_depth",
    "relayer_queue_oldest_age_seconds",
    "render",
    "request_stage_seconds",
    "status_class",
    "transactions_total",
    "uploads_total",
]


def _multiprocess_dir() -> str:
    """PROMETHEUS_MULTIPROC_DIR, checked before the first metric below is made (prometheus-client
    would otherwise fail on a missing directory with a bare FileNotFoundError, or, when the variable
    is set but empty, write its files into the working directory)."""
    value = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if value is None:
        return ""
    if not value.strip() or not os.path.isdir(value):
        raise RuntimeError(
            f"PROMETHEUS_MULTIPROC_DIR={value!r} is not a directory: create it (empty) before starting the "
            "API workers, or unset it for a single process"
        )
    return value


MULTIPROCESS_DIR = _multiprocess_dir()  # "" in a single process

REGISTRY = CollectorRegistry(auto_describe=True)
for _collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
    REGISTRY.register(_collector)

# Requests take from a millisecond (status, config) to minutes (a 100 MB upload waiting for a block).
_HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
# Dependency calls: sub-millisecond MongoDB reads to a large IPFS add.
_DEPENDENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

http_request_seconds = Histogram(
    "healthledger_http_request_duration_seconds",
    "Time from a request's arrival to the end of its response, by route template.",
    ["method", "route", "status"],
    buckets=_HTTP_BUCKETS,
    registry=REGISTRY,
)

request_stage_seconds = Histogram(
    "healthledger_request_stage_duration_seconds",
    "Time a request spent in each of its stages (uploads: admit = the checks before the file is read; "
    "store = receive, hash, encrypt and add to IPFS; check = the signed hash and nonce; save = document "
    "and pin; anchor = relayed until mined), "
    "by route template; also in the response's Server-Timing header (stages.py).",
    ["route", "stage"],
    buckets=_HTTP_BUCKETS,
    registry=REGISTRY,
)

UploadOutcome = Literal["created", "accepted", "refused", "failed"]
uploads_total = Counter(
    "healthledger_uploads_total",
    "Record uploads by outcome: created (201), accepted (202, mined later), refused (4xx), failed (5xx).",
    ["outcome"],
    registry=REGISTRY,
)

TransactionOutcome = Literal["mined", "reverted", "replaced", "timeout"]
transactions_total = Counter(
    "healthledger_transactions_total",
    "Relayed transactions by outcome: mined, reverted (mined with status 0), replaced (a version "
    "superseded by a re-send or fee bump), timeout (no receipt before the deadline).",
    ["outcome"],
    registry=REGISTRY,
)

# The shared relayer queue, as MongoDB holds it: every instance's relay worker reads it every few
# seconds (services/relay_worker.py), so each instance reports the same queue (take max() across
# separately scraped instances). Workers behind one port report the newest reading of any live worker
# (`livemostrecent`: a reading is of the whole queue, so summing workers would count it N times; an
# exited worker's last reading is dropped by mark_process_dead, and a killed one's is older anyway).
relayer_queue_depth = Gauge(
    "healthledger_relayer_queue_depth",
    "Relayer jobs queued or sent and not yet mined or failed (the whole shared queue).",
    registry=REGISTRY,
    multiprocess_mode="livemostrecent",
)
relayer_queue_oldest_age_seconds = Gauge(
    "healthledger_relayer_queue_oldest_age_seconds",
    "Age of the oldest live job in the relayer queue (0 when empty).",
    registry=REGISTRY,
    multiprocess_mode="livemostrecent",
)

relayer_balance_eth = Gauge(
    "healthledger_relayer_balance_eth",
    "The relayer account's balance in ETH, which pays every relayed transaction's gas "
    "(read by each instance every 30 s; alert before it runs dry).",
    registry=REGISTRY,
    multiprocess_mode="livemostrecent",
)

Dependency = Literal["chain", "ipfs", "mongodb"]
dependency_seconds = Histogram(
    "healthledger_dependency_duration_seconds",
    "Latency of calls to MongoDB, IPFS and the chain's JSON-RPC node, by operation and result.",
    ["dependency", "operation", "result"],
    buckets=_DEPENDENCY_BUCKETS,
    registry=REGISTRY,
)


def status_class(status: int) -> str:
    """`404` -> `4xx`: one label value per class keeps the series count small."""
    return f"{status // 100}xx" if 100 <= status <= 599 else "other"


def record_upload(status: int) -> None:
    """Count one finished upload request by its HTTP status."""
    if status == 201:
        outcome: UploadOutcome = "created"
    elif status == 202:
        outcome = "accepted"
    elif 400 <= status < 500:
        outcome = "refused"
    else:
        outcome = "failed"
    uploads_total.labels(outcome).inc()


def record_transaction(outcome: TransactionOutcome) -> None:
    """Count one transaction outcome; the relayer (or the queue that replaces it) calls this."""
    transactions_total.labels(outcome).inc()


def set_relayer_backlog(depth: int, oldest_age_seconds: float) -> None:
    """The shared queue's size and its oldest live job's age, as last read by this instance."""
    relayer_queue_depth.set(depth)
    relayer_queue_oldest_age_seconds.set(max(0.0, oldest_age_seconds))


def set_relayer_balance(wei: int) -> None:
    """The relayer's balance as last read (in ETH: a float holds wei amounts no dashboard needs exactly)."""
    relayer_balance_eth.set(wei / 10**18)


def observe_dependency_seconds(dependency: Dependency, operation: str, seconds: float, ok: bool) -> None:
    """Record one finished dependency call (for call points that time themselves)."""
    dependency_seconds.labels(dependency, operation, "ok" if ok else "error").observe(seconds)


@contextmanager
def observe_dependency(dependency: Dependency, operation: str) -> Iterator[None]:
    """Time the block as one call to `dependency`; an exception is recorded as `result="error"`."""
    started = time.perf_counter()
    ok = False
    try:
        yield
        ok = True
    finally:
        observe_dependency_seconds(dependency, operation, time.perf_counter() - started, ok)


def render() -> bytes:
    """The metrics in the Prometheus text format: this process's, or every worker's merged.

    In multiprocess mode this reads the directory's files (a few small mmaps; callers on the event
    loop run it in a thread). A fresh registry per scrape, as prometheus-client documents, so the
    collector sees the files present now (workers started since the last scrape included).
    """
    if not MULTIPROCESS_DIR:
        return generate_latest(REGISTRY)
    merged = CollectorRegistry()
    multiprocess.MultiProcessCollector(merged, path=MULTIPROCESS_DIR)
    return generate_latest(merged)


def mark_process_dead(pid: int | None = None) -> None:
    """At a worker's shutdown: drop its live-gauge files so its last readings stop counting
    (counters and histograms stay, so totals never go back). Nothing to do in one process."""
    if MULTIPROCESS_DIR:
        multiprocess.mark_process_dead(os.getpid() if pid is None else pid, MULTIPROCESS_DIR)
