"""Service health (each dependency's state and latency; liveness and readiness for supervisors and load
balancers) and the public facts a browser needs first."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Path

from ..services.status import check_ready, collect_status
from ..services.transactions import confirmations_of
from .deps import ServicesDep
from .schemas.errors import CHAIN, errors
from .schemas.system import ClientConfig, Liveness, Readiness, SystemStatus, TransactionConfirmations

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
    "/live",
    response_model=Liveness,
    summary="Liveness: this process answers (for a supervisor; asks no dependency)",
    responses=errors(validation=False),
)
async def live() -> Liveness:
    return Liveness(status="live")


@router.get(
    "/ready",
    response_model=Readiness,
    response_model_exclude_unset=True,
    summary="Readiness: this instance reaches MongoDB, IPFS and the chain (for a load balancer)",
    description=(
        "200 while every check answers within STATUS_PROBE_TIMEOUT_SECONDS; 503 `not_ready` (naming the "
        "dependencies in `down`) while one does not, so a load balancer sends requests elsewhere."
    ),
    responses=errors({503: ("not_ready",)}, validation=False),
)
async def ready(services: ServicesDep) -> dict[str, Any]:
    return await check_ready(services)


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


@router.get(
    "/transactions/{tx_hash}",
    response_model=TransactionConfirmations,
    summary="How many blocks confirm a transaction, out of those the server waits for (public)",
    description="Public chain facts only. Unknown or unmined transactions answer `seen: 0`.",
    responses=errors(CHAIN),
)
async def transaction_confirmations(
    services: ServicesDep,
    tx_hash: str = Path(pattern=r"^0x[0-9a-fA-F]{64}$", description="The transaction hash"),
) -> TransactionConfirmations:
    found = await confirmations_of(services, tx_hash.lower())
    return TransactionConfirmations(
        tx_hash=found.tx_hash,
        block_number=found.block_number,
        seen=found.seen,
        needed=found.needed,
        confirmed=found.seen >= found.needed,
    )
