"""Service health: each dependency's state and latency."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from ..services.status import collect_status
from .deps import ServicesDep

router = APIRouter(prefix="/api/system", tags=["system"])


@router.get("/status", summary="State and latency of MongoDB, IPFS and the chain")
async def status(services: ServicesDep) -> dict[str, Any]:
    return await collect_status(services)
