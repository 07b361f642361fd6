"""Health of every dependency (MongoDB, IPFS, chain, contracts, relayer), with latencies.

Shared by `GET /api/system/status`, `GET /api/system/ready` and `healthledger status`.

The probes run at once, each bounded by STATUS_PROBE_TIMEOUT_SECONDS: an answer takes as long as the
slowest probe, not their sum (run one after the other, a status asked during a 10,000-record
integrity report took 0.9-1.0 s at p95, the sum of four probes each waiting for a busy MongoDB or IPFS
node). A dependency that hangs is reported `down` with `error: "timeout"` once that bound passes,
not after its adapter's own timeout (IPFS_TIMEOUT_SECONDS is 30 s by default, and the chain probe
makes several calls): a load balancer's health check gets its answer within its own timeout.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from ..container import Services
from ..db.mongo import ping
from ..domain_errors import ServiceUnavailable

Check = Callable[[], Awaitable[dict[str, Any]]]


async def _probe(check: Check, timeout: float) -> dict[str, Any]:
    """One dependency's state and latency; a failure or a timeout is reported, never raised."""
    started = time.perf_counter()
    try:
        details = await asyncio.wait_for(check(), timeout)
        state = "ok"
    except TimeoutError:
        details, state = {"error": "timeout"}, "down"
    except Exception as exc:  # a failing dependency is reported, not raised
        details, state = {"error": type(exc).__name__}, "down"
    return {"state": state, "latency_ms": round((time.perf_counter() - started) * 1000, 2), **details}


async def probe_all(checks: Mapping[str, Check], timeout: float) -> dict[str, dict[str, Any]]:
    """Every check at once, each bounded by `timeout`: name -> its probe."""
    results = await asyncio.gather(*(_probe(check, timeout) for check in checks.values()))
    return dict(zip(checks, results, strict=True))


def _mongodb(services: Services) -> Check:
    async def check() -> dict[str, Any]:
        await ping(services.db)
        return {}

    return check


def _ipfs(services: Services) -> Check:
    async def check() -> dict[str, Any]:
        return {"version": await services.ipfs.version()}

    return check


async def collect_status(services: Services) -> dict[str, Any]:
    """Every dependency's state and details; `degraded` when one is down or the relayer has no ETH."""

    async def chain() -> dict[str, Any]:
        return {
            "chain_id": await services.chain.chain_id(),
            "block_number": await services.chain.block_number(),
            "factory_address": services.chain.factory_address,
            "implementation_address": await services.chain.implementation_address(),
        }

    async def relayer() -> dict[str, Any]:
        balance = await services.chain.balance_of(services.relayer.address)
        return {"address": services.relayer.address, "balance_wei": str(balance), "funded": balance > 0}

    checks = await probe_all(
        {"mongodb": _mongodb(services), "ipfs": _ipfs(services), "chain": chain, "relayer": relayer},
        services.settings.status_probe_timeout_seconds,
    )
    healthy = all(check["state"] == "ok" for check in checks.values()) and checks["relayer"].get("funded", False)
    return {"status": "ok" if healthy else "degraded", "dependencies": checks}


async def check_ready(services: Services) -> dict[str, Any]:
    """Whether this instance can serve requests now: MongoDB, IPFS and the chain node answer.

    For a load balancer's health check (GET /api/system/ready): an instance that cannot reach one of
    them answers 503 `not_ready` and is taken out of rotation until it can. The relayer's balance is
    not part of it: an unfunded relayer is the same for every instance, and reads still work.
    """

    async def chain() -> dict[str, Any]:
        return {"block_number": await services.chain.block_number()}

    checks = await probe_all(
        {"mongodb": _mongodb(services), "ipfs": _ipfs(services), "chain": chain},
        services.settings.status_probe_timeout_seconds,
    )
    down = [name for name, check in checks.items() if check["state"] != "ok"]
    if down:
        raise ServiceUnavailable(
            "not_ready",
            f"this instance cannot serve requests now: {', '.join(down)} did not answer",
            down=down,
        )
    return {"status": "ready", "dependencies": checks}
