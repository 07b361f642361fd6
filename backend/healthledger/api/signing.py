"""Signing payloads: the exact text and EIP-712 data a wallet must sign, for any client."""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from fastapi import APIRouter, Body
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, create_model

from ..chain.actions import SIGNED_ACTIONS, SignedAction, ValueKind
from ..crypto import KEY_DERIVATION_MESSAGE
from ..crypto.kek import KEK_INFO
from ..services.anchoring import RecordAnchoring
from .deps import CallerDep, ServicesDep
from .schemas.errors import AUTH, BODY, CHAIN, DATABASE, RELAYED, ROLE, WRITE, errors
from .schemas.signing import KeyDerivationMessage, TypedDataPayload

router = APIRouter(prefix="/api/signing", tags=["signing"])


# How each kind of message field is sent as a param (chain/actions.py); the service checks the values.
_PARAM_TYPES: dict[ValueKind, Any] = {
    "address": StrictStr,
    "seconds": StrictInt,
    "record_ids": list[StrictInt],
    "content_hash": StrictStr,
    "record_kind": StrictStr,
}


def _request_model(action: SignedAction) -> type[BaseModel]:
    """`{"action": <name>, "params": {...}}` for one signed action, its params documented from the table."""
    params: dict[str, Any] = {}
    if action.signer == "doctor":
        params["patientAddress"] = (StrictStr, Field(description="The patient whose contract the action is on."))
    for field in action.fields:
        if field.param is not None:
            params[field.param] = (_PARAM_TYPES[field.kind], Field(description=field.description))
    params_model = create_model(
        f"{action.primary_type}Params", __config__=ConfigDict(extra="forbid"), **params
    )
    return create_model(
        f"{action.primary_type}TypedDataRequest",
        __doc__=f"{action.summary} Signed by the {action.signer}.",
        action=(Literal[action.name], ...),  # type: ignore[valid-type]
        params=(params_model, ...),
    )


# One schema per signed action, told apart by `action` (derived from chain/actions.py).
TypedDataRequest = Union[tuple(_request_model(action) for action in SIGNED_ACTIONS)]  # type: ignore[valid-type]  # noqa: UP007


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
async def typed_data(
    body: Annotated[TypedDataRequest, Body(discriminator="action")], caller: CallerDep, services: ServicesDep
) -> dict[str, Any]:
    if caller.role == "patient":
        # A record the chain lost is sent again first, with its own signature: a new signature
        # must not take the nonce it needs (services/anchoring.py).
        await RecordAnchoring(services).repair_lost(caller.address)
    return await services.typed_data.for_action(caller.address, caller.role, body.action, body.params.model_dump())
