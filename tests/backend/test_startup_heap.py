"""A running API keeps the collector's full passes off what it made at start-up (healthledger/heap.py):
without it, each full collection walked about 250,000 long-lived objects (150-250 ms holding the GIL)."""

from __future__ import annotations

import gc

import httpx

# The API's own start-up leaves about 250,000 tracked objects; the test process adds its own.
FROZEN_AT_LEAST = 100_000


def test_a_running_api_has_its_start_up_heap_frozen(client: httpx.Client) -> None:
    assert client.get("/api/system/status").status_code == 200
    assert gc.get_freeze_count() >= FROZEN_AT_LEAST


def test_another_app_stopping_leaves_the_running_one_frozen(client: httpx.Client, other_api_server) -> None:
    assert client.get("/api/system/status").status_code == 200
    with other_api_server() as server:
        assert httpx.get(f"{server.url}/api/system/status", timeout=30).status_code == 200
    assert gc.get_freeze_count() >= FROZEN_AT_LEAST  # the session's API still runs
    assert client.get("/api/system/status").status_code == 200
