"""Signing payloads: the exact text and EIP-712 data a wallet must sign, for any client."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from ..crypto import KEY_DERIVATION_MESSAGE
from ..crypto.kek import KEK_INFO
from ..services.anchoring import RecordAnchoring
from .deps import CallerDep, ServicesDep
from .schemas.errors import AUTH, BODY, CHAIN, DATABASE, RELAYED, ROLE, WRITE, errors
from .schemas.signing import KeyDerivationMessage, TypedDataPayload

router = APIRouter(prefix="/api/signing", tags=["signing"])


class TypedDataRequest(BaseModel):
    action: str = Field(description="addRecord | approveAccess | denyAccess | revokeAccess | requestAccess | requestExtension | approveExtension")
    params: dict[str, Any] = Field(default_factory=dict)


@router.get(
    "/key-derivation-message",
    response_model=KeyDerivationMessage,
    summary="The exact text to personal_sign to derive your encryption key",
    responses=errors(validation=False),
)
async def key_derivation_message() -> dict[str, Any]:
    return {
        "message": KEY_DERIVATION_MESSAGE,
        "version": KEK_INFO.decode(),
        "method": "personal_sign",
    }


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
async def typed_data(body: TypedDataRequest, caller: CallerDep, services: ServicesDep) -> dict[str, Any]:
    if caller.role == "patient":
        # A record the chain lost is sent again first, with its own signature: a new signature
        # must not take the nonce it needs (services/anchoring.py).
        await RecordAnchoring(services).repair_lost(caller.address)
    payload = await services.typed_data.for_action(caller.address, caller.role, body.action, body.params)
    # Remembered so endpoints that receive only a signature can check it against what was issued.
    await services.signing_payloads.remember(caller.address, payload)
    return payload
