"""Health checks (services/status.py): the probes run at once, each bounded by
STATUS_PROBE_TIMEOUT_SECONDS, and readiness names what is down. Fakes stand in for the dependencies
here; tests/backend/test_faults.py hangs the real services."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest
from healthledger.domain_errors import ServiceUnavailable
from healthledger.services.status import check_ready, probe_all

TIMEOUT = 0.2


@pytest.mark.asyncio
async def test_the_checks_run_at_once() -> None:
    """Each check waits until the other has started: run one after the other, the first would time out."""
    started = {"a": asyncio.Event(), "b": asyncio.Event()}

    def waits_for(own: str, other: str) -> Any:
        async def check() -> dict[str, Any]:
            started[own].set()
            await started[other].wait()
            return {"seen": other}

        return check

    probes = await probe_all({"a": waits_for("a", "b"), "b": waits_for("b", "a")}, timeout=5.0)
    assert probes["a"]["state"] == probes["b"]["state"] == "ok"
    assert probes["a"]["seen"] == "b" and probes["b"]["seen"] == "a"


@pytest.mark.asyncio
async def test_a_check_that_hangs_is_down_with_a_timeout_and_the_others_still_answer() -> None:
    cancelled = asyncio.Event()

    async def hangs() -> dict[str, Any]:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return {}

    async def answers() -> dict[str, Any]:
        return {"version": "1"}

    async def fails() -> dict[str, Any]:
        raise ConnectionRefusedError("127.0.0.1:5001 refused")

    probes = await probe_all({"hung": hangs, "fine": answers, "refused": fails}, timeout=TIMEOUT)
    assert probes["hung"]["state"] == "down" and probes["hung"]["error"] == "timeout"
    assert probes["hung"]["latency_ms"] >= TIMEOUT * 1000 * 0.9
    assert cancelled.is_set()  # not left running behind the answer
    assert probes["fine"] == {"state": "ok", "latency_ms": probes["fine"]["latency_ms"], "version": "1"}
    # The exception's type only: its message may hold a URL or an address.
    assert probes["refused"]["error"] == "ConnectionRefusedError"
    assert "127.0.0.1" not in str(probes)


def _services(*, mongo_up: bool, ipfs_hangs: bool) -> SimpleNamespace:
    async def command(name: str) -> dict[str, Any]:
        if not mongo_up:
            raise ConnectionError("down")
        return {"ok": 1}

    async def version() -> str:
        if ipfs_hangs:
            await asyncio.Event().wait()
        return "0.66.1"

    async def block_number() -> int:
        return 7

    return SimpleNamespace(
        db=SimpleNamespace(command=command),
        ipfs=SimpleNamespace(version=version),
        chain=SimpleNamespace(block_number=block_number),
        settings=SimpleNamespace(status_probe_timeout_seconds=TIMEOUT),
    )


@pytest.mark.asyncio
async def test_ready_when_every_dependency_answers() -> None:
    answer = await check_ready(_services(mongo_up=True, ipfs_hangs=False))  # type: ignore[arg-type]
    assert answer["status"] == "ready"
    assert answer["dependencies"]["chain"]["block_number"] == 7
    assert answer["dependencies"]["ipfs"]["version"] == "0.66.1"


@pytest.mark.asyncio
async def test_not_ready_names_every_dependency_that_is_down() -> None:
    with pytest.raises(ServiceUnavailable) as raised:
        await check_ready(_services(mongo_up=False, ipfs_hangs=True))  # type: ignore[arg-type]
    assert raised.value.code == "not_ready"
    assert raised.value.details["down"] == ["mongodb", "ipfs"]
    assert "mongodb, ipfs" in raised.value.message
