"""Signing payloads: the exact text and EIP-712 data a wallet must sign, for any client; and
cancelling what one signed but was not sent (InvalidateNonce)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body

from ..services import signing
from ..services.nonces import invalidate_nonce
from .deps import CallerDep, ClientIpDep, ServicesDep
from .schemas.errors import AUTH, BODY, CHAIN, DATABASE, RATE_LIMITED, RELAYED, ROLE, SIGNED, WRITE, errors
from .schemas.signing import (
    InvalidateNonceBody,
    KeyDerivationMessage,
    NonceInvalidated,
    TypedDataPayload,
    TypedDataRequest,
)

router = APIRouter(prefix="/api/signing", tags=["signing"])


@router.get(
    "/key-derivation-message",
    response_model=KeyDerivationMessage,
    summary="The exact text to personal_sign to derive your encryption key",
    responses=errors(validation=False),
)
async def key_derivation_message() -> dict[str, str]:
    return signing.key_derivation_message()


@router.post(
    "/typed-data",
    response_model=TypedDataPayload,
    summary="A complete EIP-712 payload for eth_signTypedData_v4",
    # Patients' lost records are sent again first (services/anchoring.py): that can relay.
    responses=errors(
        BODY,
        AUTH,
        ROLE,
        {400: ("unknown_action", "invalid_params", "invalid_record_type"), 409: ("record_conflict", "record_gone")},
        CHAIN,
        RELAYED,
        DATABASE,
        WRITE,
    ),
)
async def typed_data(
    body: Annotated[TypedDataRequest, Body(discriminator="action")], caller: CallerDep, services: ServicesDep
) -> dict[str, Any]:
    return await signing.issue_typed_data(
        services, caller.address, caller.role, body.action, body.params.model_dump()
    )


@router.post(
    "/invalidate-nonce",
    response_model=NonceInvalidated,
    summary="Cancel everything you signed for a vault but was not sent (patients: your vault; doctors: a patient's)",
    responses=errors(BODY, AUTH, ROLE, SIGNED, RELAYED, DATABASE, WRITE, {400: ("invalid_address",)}, RATE_LIMITED),
)
async def invalidate_nonce_route(
    body: InvalidateNonceBody, caller: CallerDep, services: ServicesDep, ip: ClientIpDep
) -> dict[str, Any]:
    return await invalidate_nonce(
        services, caller.address, caller.role, body.patientAddress, body.signature, body.nonce, body.deadline, ip
    )
