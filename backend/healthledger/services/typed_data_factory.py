"""EIP-712 payloads for the API: the pure builders of `chain.typed_data`, filled in with what only
the server knows (the patient's contract address, the signer's current nonce, a deadline)."""

from __future__ import annotations

from typing import Any, Protocol

from ..chain import typed_data
from ..chain.actions import ACTIONS, MessageField, SignedAction, action as find_action
from ..domain_errors import bad_request, forbidden
from ..validation import address, record_ids
from .deadlines import issue_deadline


# MongoDB integers are 64-bit signed, and a signed action's nonce and deadline are stored with what
# it produced (an upload's relay authorisation, for one). A larger nonce, deadline, duration,
# extension or record id fits EIP-712's uint64/uint256 but is never a real one: it is refused here,
# before anything is stored or sent, instead of failing at an insert after a relayed transaction.
MAX_STORED_INT = 2**63 - 1


class _GrantState(Protocol):
    generation: int


class NonceSource(Protocol):
    async def vault_address(self, patient: str) -> str: ...

    async def nonce_of(self, patient: str, signer: str) -> int: ...

    async def latest_timestamp(self) -> int: ...

    async def get_grant(self, patient: str, doctor: str) -> _GrantState: ...


def _require(params: dict[str, Any], name: str) -> Any:
    if name not in params or params[name] in (None, ""):
        raise bad_request("invalid_params", f"params.{name} is required")
    return params[name]


def _seconds(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise bad_request("invalid_params", f"params.{name} must be a positive whole number of seconds")
    return value


class TypedDataFactory:
    """Builds complete payloads and checks signatures against them."""

    def __init__(self, chain: NonceSource, chain_id: int, ttl_seconds: int) -> None:
        self._chain = chain
        self._chain_id = chain_id
        self._ttl = ttl_seconds

    def verify(self, payload: dict[str, Any], signature: bytes | str, signer: str) -> bool:
        try:
            return typed_data.verify(payload, signature, signer)
        except ValueError:
            return False

    async def payload(
        self,
        action: SignedAction | str,
        patient: str,
        signer: str,
        fields: dict[str, Any],
        *,
        nonce: int | None = None,
        deadline: int | None = None,
    ) -> dict[str, Any]:
        """`action`'s payload for `patient`'s contract, signed by `signer`, with the current nonce.

        `fields` are the message fields before nonce and deadline, by their EIP-712 names.
        """
        entry = action if isinstance(action, SignedAction) else find_action(action)
        verifying_contract = await self._chain.vault_address(patient)
        if nonce is None:
            nonce = await self._chain.nonce_of(patient, signer)
        if deadline is None:
            # From the wall clock or the chain's clock, whichever is ahead (see services/deadlines.py).
            deadline = await issue_deadline(self._chain, self._ttl)
        try:
            payload = typed_data.build_payload(
                entry, self._chain_id, verifying_contract, {**fields, "nonce": nonce, "deadline": deadline}
            )
        except ValueError as exc:
            raise bad_request("invalid_params", str(exc)) from exc
        _require_storable(payload["message"])
        return payload

    async def for_action(self, caller: str, role: str, action: str, params: dict[str, Any]) -> dict[str, Any]:
        """Translate the API's `{action, params}` into a payload for the caller to sign.

        Everything action-specific comes from its entry in chain/actions.py: who signs, which param
        fills which message field, what the server fills in (the signer's address, the grant's
        generation read from the chain now). A doctor names the patient (`patientAddress`); a
        patient signs for their own contract.
        """
        entry = ACTIONS.get(action)
        if entry is None:
            raise bad_request("unknown_action", f"action must be one of {', '.join(sorted(ACTIONS))}; got {action!r}")
        if entry.signer == "doctor" and role != "doctor":
            raise forbidden("wrong_role", f"{action} is signed by a registered doctor")
        if entry.signer == "patient" and role == "doctor":
            raise forbidden("wrong_role", f"{action} is signed by the patient who owns the records")
        patient = _patient_of(entry, caller, role, params)
        checked = {f.param: _param(f, _require(params, f.param)) for f in entry.fields if f.param is not None}
        generation = None
        if entry.needs_generation:
            generation = (await self._chain.get_grant(patient, checked["doctor"])).generation
        try:
            fields = entry.fields_from_params(checked, caller, generation)
        except ValueError as exc:
            raise bad_request("invalid_params", str(exc)) from exc
        return await self.payload(entry, patient, caller, fields)


def _patient_of(entry: SignedAction, caller: str, role: str, params: dict[str, Any]) -> str:
    """Whose vault the action is on: the caller's own for a patient, `params.patientAddress` for a doctor."""
    if entry.signer == "patient":
        return caller
    if entry.signer == "doctor" or role == "doctor":
        return _address(_require(params, "patientAddress"))
    given = params.get("patientAddress")
    if given not in (None, "") and _address(given).lower() != caller.lower():
        raise bad_request("invalid_params", "a patient signs for their own vault: leave params.patientAddress out")
    return caller


def _param(field: MessageField, value: Any) -> Any:
    """An API param read for its message field (400 with the param's name when it does not fit)."""
    assert field.param is not None
    if field.kind == "record_kind":
        kind = typed_data.RECORD_KINDS.get(str(value).lower())
        if kind is None:
            raise bad_request(
                "invalid_record_type", f"{field.param} must be one of {', '.join(typed_data.RECORD_KINDS)}"
            )
        return kind
    if field.kind == "seconds":
        return _seconds(value, field.param)
    if field.kind in ("record_ids", "bitmap_start", "bitmap_words"):
        return _record_ids(value)
    if field.kind == "address":
        return _address(value)
    return value  # checked by typed_data.build_payload (invalid_params)


def _require_storable(message: dict[str, Any]) -> None:
    """400 for an integer MongoDB cannot hold (see MAX_STORED_INT)."""
    for name, value in message.items():
        values = value if isinstance(value, list) else [value]
        if any(isinstance(v, int) and v > MAX_STORED_INT for v in values):
            raise bad_request("invalid_params", f"{name} must be at most {MAX_STORED_INT}")


def _address(value: Any) -> str:
    """validation.py's address, answered as this endpoint always has (`invalid_params`, naming the value)."""
    return address(value, strict=False, code="invalid_params", message=f"{value!r} is not an Ethereum address")


def _record_ids(value: Any) -> list[int]:
    return record_ids(
        value, code="invalid_params", message="params.recordIds must be a non-empty list of record ids"
    )
