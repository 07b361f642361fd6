"""/metrics with several API worker processes behind one port (`uvicorn --workers 2`, as
`make run API_INSTANCES=2` runs them), on the session's real MongoDB, js-ipfs and Anvil.

Before multiprocess mode each worker had its own registry and a scrape showed whichever worker took
the connection: a request counter read a share of the requests, a different share per scrape. Now
every scrape answers for all workers (metrics.py, PROMETHEUS_MULTIPROC_DIR).
"""

from __future__ import annotations

import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from .fixtures.api_process import StartApiProcess

REQUESTS = 40
SCRAPES = 6
ROUTE = "/api/system/config"
COUNT = "healthledger_http_request_duration_seconds_count"
SETTLE_SECONDS = 15.0


def _sample(text: str, name: str, **labels: str) -> float:
    """The value of the sample `name{labels...}` in a Prometheus exposition (0 if absent)."""
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{key}="{value}"' in line for key, value in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def _route_count(text: str) -> float:
    return _sample(text, COUNT, method="GET", route=ROUTE, status="2xx")


def _scrape(url: str) -> str:
    """One scrape on a new connection (so any worker may answer it, as for a real scraper's)."""
    answer = httpx.get(f"{url}/metrics", timeout=10, trust_env=False, headers={"Connection": "close"})
    assert answer.status_code == 200, answer.text
    return answer.text


def _per_worker_counts(multiproc_dir: Path, work: Path) -> dict[int, float]:
    """pid -> requests to ROUTE that worker served, read from its own files only (what a scrape of
    that one worker showed before multiprocess mode)."""
    counts: dict[int, float] = {}
    pids = {int(path.stem.rsplit("_", 1)[1]) for path in multiproc_dir.glob("histogram_*.db")}
    for pid in pids:
        alone = work / f"worker-{pid}"
        alone.mkdir()
        shutil.copy(multiproc_dir / f"histogram_{pid}.db", alone)
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=str(alone))
        counts[pid] = _route_count(generate_latest(registry).decode())
    return counts


def test_every_scrape_counts_the_requests_of_all_workers(start_api_process: StartApiProcess, tmp_path: Path) -> None:
    multiproc_dir = tmp_path / "prometheus"
    multiproc_dir.mkdir()
    api = start_api_process(workers=2, prometheus_multiproc_dir=str(multiproc_dir))

    def one_request(_: int) -> int:
        # A new connection each: the kernel hands each to one of the workers sharing the socket.
        return httpx.get(f"{api.url}{ROUTE}", timeout=30, trust_env=False, headers={"Connection": "close"}).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert list(pool.map(one_request, range(REQUESTS))) == [200] * REQUESTS

    # A request is counted as its response ends, which may be just after the client has it: wait
    # (bounded) for the total, which a single worker's registry never reaches.
    deadline = time.monotonic() + SETTLE_SECONDS
    seen: list[float] = []
    while not seen or seen[-1] != REQUESTS:
        assert time.monotonic() < deadline, f"{len(seen)} scrapes counted {sorted(set(seen))}, never {REQUESTS}"
        if seen:
            time.sleep(0.05)  # poll interval, not a wait for a race: the loop ends on the condition
        seen.append(_route_count(_scrape(api.url)))
        assert seen[-1] <= REQUESTS, seen
    scrapes = [_scrape(api.url) for _ in range(SCRAPES)]
    assert [_route_count(text) for text in scrapes] == [REQUESTS] * SCRAPES

    # Both workers served some of the requests: a scrape answered by one worker alone (the old
    # per-process registry) would have shown only its share.
    shares = _per_worker_counts(multiproc_dir, tmp_path)
    assert len(shares) == 2 and sum(shares.values()) == REQUESTS, shares
    assert all(0 < share < REQUESTS for share in shares.values()), shares

    # The relayer queue gauges are readings of one shared queue: one series (the newest reading of a
    # live worker), not one per worker and not their sum. No per-process collectors in this mode.
    last = scrapes[-1]
    depth_lines = [line for line in last.splitlines() if line.startswith("healthledger_relayer_queue_depth")]
    assert depth_lines == ["healthledger_relayer_queue_depth 0.0"], depth_lines
    assert "pid=" not in last and "process_resident_memory_bytes" not in last

    # A worker's clean exit drops its live gauges (mark_process_dead); its counters stay.
    assert any(multiproc_dir.glob("gauge_livemostrecent_*.db"))
    assert api.stop() == 0, api.log_tail()
    assert not list(multiproc_dir.glob("gauge_live*.db"))
    assert len(list(multiproc_dir.glob("histogram_*.db"))) == 2
