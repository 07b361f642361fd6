"""Service health (each dependency's state and latency) and the public facts a browser needs first."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel

from ..services.status import collect_status
from .deps import ServicesDep

router = APIRouter(prefix="/api/system", tags=["system"])


@router.get("/status", summary="State and latency of MongoDB, IPFS and the chain")
async def status(services: ServicesDep) -> dict[str, Any]:
    return await collect_status(services)


class ClientConfig(BaseModel):
    """What the web app needs before sign-in: which network to ask the wallet for."""

    chain_id: int
    chain_name: str | None = None
    rpc_url: str | None = None
    block_explorer_url: str | None = None


@router.get(
    "/config",
    response_model=ClientConfig,
    response_model_exclude_none=True,
    summary="The chain the app runs on, for the wallet (public)",
)
async def config(services: ServicesDep) -> ClientConfig:
    settings = services.settings
    return ClientConfig(
        chain_id=services.login.chain_id,
        chain_name=settings.chain_name or None,
        rpc_url=settings.wallet_rpc_url or None,
        block_explorer_url=settings.block_explorer_url or None,
    )
