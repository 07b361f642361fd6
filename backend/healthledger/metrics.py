"""Prometheus metrics of one API process (served at `/metrics`, see api/metrics.py).

Why one module of module-level metrics: every layer records into the same few series (the HTTP
edge its requests, the adapters their dependency calls, the relayer its transactions) without
passing a registry around. The registry is this module's own, not prometheus-client's global one,
so a test or a second app in one process reads exactly these series, and library default collectors
(process, GC, platform) are added to it explicitly.

Each API instance is its own process with its own registry: Prometheus scrapes every instance (one
target each, e.g. by service discovery behind the load balancer) and sums with PromQL. No
multiprocess mode is needed because instances never share a process.

Labels are bounded by construction: routes are FastAPI route *templates* (never raw paths, which
carry CIDs and addresses), statuses are classes (`2xx`), outcomes and operations are fixed words.
"""

from __future__ import annotations

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
)

__all__ = [
    "CONTENT_TYPE_LATEST",
    "REGISTRY",
    "dependency_seconds",
    "http_request_seconds",
    "observe_dependency",
    "observe_dependency_seconds",
    "record_transaction",
    "record_upload",
    "relayer_queue_depth",
    "relayer_queue_oldest_age_seconds",
    "render",
    "status_class",
    "transactions_total",
    "uploads_total",
]

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
# seconds (services/relay_worker.py), so each instance reports the same queue (take max() across them).
relayer_queue_depth = Gauge(
    "healthledger_relayer_queue_depth",
    "Relayer jobs queued or sent and not yet mined or failed (the whole shared queue).",
    registry=REGISTRY,
)
relayer_queue_oldest_age_seconds = Gauge(
    "healthledger_relayer_queue_oldest_age_seconds",
    "Age of the oldest live job in the relayer queue (0 when empty).",
    registry=REGISTRY,
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
    """This process's metrics in the Prometheus text format."""
    return generate_latest(REGISTRY)
