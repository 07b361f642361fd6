"""Service health (each dependency's state and latency) and the public facts a browser needs first."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from ..services.status import collect_status
from .deps import ServicesDep
from .schemas.errors import errors
from .schemas.system import ClientConfig, SystemStatus

router = APIRouter(prefix="/api/system", tags=["system"])


@router.get(
    "/status",
    response_model=SystemStatus,
    # A dependency's fields appear only as its probe reports them (`error` only when it is down).
    response_model_exclude_unset=True,
    summary="State and latency of MongoDB, IPFS and the chain",
    description="A failing dependency is reported in the answer (`state: down`), not as an error status.",
    responses=errors(validation=False),
)
async def status(services: ServicesDep) -> dict[str, Any]:
    return await collect_status(services)


@router.get(
    "/config",
    response_model=ClientConfig,
    response_model_exclude_none=True,
    summary="The chain the app runs on, for the wallet (public)",
    responses=errors(validation=False),
)
async def config(services: ServicesDep) -> ClientConfig:
    settings = services.settings
    return ClientConfig(
        chain_id=services.login.chain_id,
        chain_name=settings.chain_name or None,
        rpc_url=settings.wallet_rpc_url or None,
        block_explorer_url=settings.block_explorer_url or None,
        max_upload_bytes=settings.max_upload_bytes,
        confirmations=settings.confirmations,
    )
