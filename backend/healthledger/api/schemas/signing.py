"""Shapes of /api/signing: the key-derivation message and EIP-712 payloads."""

from __future__ import annotations

from typing import Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, create_model

from ...services.signing import SIGNED_ACTIONS, SignedAction, ValueKind


class KeyDerivationMessage(BaseModel):
    message: str = Field(description="The exact text to personal_sign")
    version: str
    method: str


class TypedDataField(BaseModel):
    name: str
    type: str


class TypedDataDomain(BaseModel):
    name: str
    version: str
    chainId: int
    verifyingContract: str


class TypedDataPayload(BaseModel):
    """A complete EIP-712 payload for eth_signTypedData_v4."""

    types: dict[str, list[TypedDataField]]
    domain: TypedDataDomain
    primaryType: str
    message: dict[str, Any] = Field(description="The action's fields, with nonce and deadline")


# How each kind of message field is sent as a param (chain/actions.py); the service checks the values.
_PARAM_TYPES: dict[ValueKind, Any] = {
    "address": StrictStr,
    "seconds": StrictInt,
    "record_ids": list[StrictInt],
    "content_hash": StrictStr,
    "record_kind": StrictStr,
    # ApproveRecords' startWord and words both come from one list of record ids (chain/actions.py).
    "bitmap_start": list[StrictInt],
    "bitmap_words": list[StrictInt],
}


_SIGNERS = {"patient": "patient", "doctor": "doctor", "caller": "caller (a patient or a doctor)"}


def _request_model(action: SignedAction) -> type[BaseModel]:
    """`{"action": <name>, "params": {...}}` for one signed action, its params documented from the table."""
    params: dict[str, Any] = {}
    if action.signer == "doctor":
        params["patientAddress"] = (StrictStr, Field(description="The patient whose contract the action is on."))
    elif action.signer == "caller":
        params["patientAddress"] = (
            StrictStr | None,
            Field(default=None, description="Doctors: the patient whose contract it is. Patients: leave it out."),
        )
    for field in action.fields:
        if field.param is not None and field.param not in params:
            params[field.param] = (_PARAM_TYPES[field.kind], Field(description=field.description))
    params_model = create_model(
        f"{action.primary_type}Params", __config__=ConfigDict(extra="forbid"), **params
    )
    return create_model(
        f"{action.primary_type}TypedDataRequest",
        __doc__=f"{action.summary} Signed by the {_SIGNERS[action.signer]}.",
        action=(Literal[action.name], ...),  # type: ignore[valid-type]
        params=(params_model, ...),
    )


# One schema per signed action, told apart by `action` (derived from chain/actions.py).
TypedDataRequest = Union[tuple(_request_model(action) for action in SIGNED_ACTIONS)]  # type: ignore[valid-type]  # noqa: UP007


class InvalidateNonceBody(BaseModel):
    """Your InvalidateNonce signature (typed data of action `invalidateNonce`), to relay."""

    patientAddress: str | None = Field(
        default=None, description="Doctors: the patient whose vault your signatures were for. Patients: leave it out."
    )
    signature: str = Field(description="EIP-712 signature of the payload from /api/signing/typed-data")
    nonce: int = Field(ge=0, description="The nonce that was signed (the payload's message.nonce)")
    deadline: int = Field(ge=0, description="The deadline that was signed (the payload's message.deadline)")


class NonceInvalidated(BaseModel):
    """Your nonce `nonce` in the vault is used up: anything you signed with it can no longer be relayed."""

    account: str
    nonce: int
    txHash: str
