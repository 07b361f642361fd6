"""Health of every dependency (MongoDB, IPFS, chain, contracts, relayer), with latencies.

Shared by `GET /api/system/status` and `healthledger status`.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from ..container import Services
from ..db.mongo import ping


async def _probe(check: Callable[[], Awaitable[dict[str, Any]]]) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        details = await check()
        state = "ok"
    except Exception as exc:  # a failing dependency is reported, not raised
        details = {"error": type(exc).__name__}
        state = "down"
    return {"state": state, "latency_ms": round((time.perf_counter() - started) * 1000, 2), **details}


async def collect_status(services: Services) -> dict[str, Any]:
    async def mongo() -> dict[str, Any]:
        await ping(services.db)
        return {}

    async def ipfs() -> dict[str, Any]:
        return {"version": await services.ipfs.version()}

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

    checks = {
        "mongodb": await _probe(mongo),
        "ipfs": await _probe(ipfs),
        "chain": await _probe(chain),
        "relayer": await _probe(relayer),
    }
    healthy = all(check["state"] == "ok" for check in checks.values()) and checks["relayer"].get("funded", False)
    return {"status": "ok" if healthy else "degraded", "dependencies": checks}
