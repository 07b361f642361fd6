"""Fixtures shared by the unit tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from healthledger.process_workers import ProcessWorkers


@pytest.fixture
def workers() -> Iterator[ProcessWorkers]:
    """One real worker process (process_workers.py), stopped after the test."""
    pool = ProcessWorkers(1)
    yield pool
    pool.close()
