"""EIP-712 payloads for the API: the pure builders of `chain.typed_data`, filled in with what only
the server knows (the patient's contract address, the signer's current nonce, a deadline)."""

from __future__ import annotations

from typing import Any, Protocol

from eth_utils import is_address, to_checksum_address

from ..chain import typed_data
from ..errors import bad_request, forbidden
from .deadlines import issue_deadline


# Payloads are remembered in MongoDB (db/signing_payloads.py) and looked up there again when relayed,
# and MongoDB integers are 64-bit signed. A larger nonce, deadline, duration, extension or record id
# fits EIP-712's uint64/uint256 but is never a real one: it is refused here, before anything is
# stored or sent, instead of failing at the insert (after a relayed transaction, for a lookup).
MAX_STORED_INT = 2**63 - 1


class NonceSource(Protocol):
    async def record_address(self, patient: str) -> str: ...

    async def nonce_of(self, patient: str, signer: str) -> int: ...

    async def latest_timestamp(self) -> int: ...


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
        action: str,
        patient: str,
        signer: str,
        fields: dict[str, Any],
        *,
        nonce: int | None = None,
        deadline: int | None = None,
    ) -> dict[str, Any]:
        """`action`'s payload for `patient`'s contract, signed by `signer`, with the current nonce."""
        builder = typed_data.BUILDERS[action]
        verifying_contract = await self._chain.record_address(patient)
        if nonce is None:
            nonce = await self._chain.nonce_of(patient, signer)
        if deadline is None:
            # From the wall clock or the chain's clock, whichever is ahead (see services/deadlines.py).
            deadline = await issue_deadline(self._chain, self._ttl)
        try:
            payload = builder(
                chain_id=self._chain_id, verifying_contract=verifying_contract, nonce=nonce, deadline=deadline, **fields
            )
        except ValueError as exc:
            raise bad_request("invalid_params", str(exc)) from exc
        _require_storable(payload["message"])
        return payload

    async def for_action(self, caller: str, role: str, action: str, params: dict[str, Any]) -> dict[str, Any]:
        """Translate the API's `{action, params}` into a payload for the caller to sign."""
        if action not in typed_data.BUILDERS:
            raise bad_request(
                "unknown_action", f"action must be one of {', '.join(sorted(typed_data.BUILDERS))}; got {action!r}"
            )
        signer_role = typed_data.ACTION_SIGNER[action]
        if signer_role == "doctor" and role != "doctor":
            raise forbidden("wrong_role", f"{action} is signed by a registered doctor")
        if signer_role == "patient" and role == "doctor":
            raise forbidden("wrong_role", f"{action} is signed by the patient who owns the records")
        if action == "addRecord":
            kind = typed_data.RECORD_KINDS.get(str(_require(params, "recordType")).lower())
            if kind is None:
                raise bad_request(
                    "invalid_record_type", f"recordType must be one of {', '.join(typed_data.RECORD_KINDS)}"
                )
            return await self.payload(
                action, caller, caller, {"kind": kind, "content_hash": _require(params, "contentHash")}
            )
        if signer_role == "doctor":
            patient = _require(params, "patientAddress")
            fields: dict[str, Any] = {"doctor": caller}
            if action == "requestExtension":
                fields["extra"] = _seconds(_require(params, "extra"), "extra")
            return await self.payload(action, _address(patient), caller, fields)
        doctor = _address(_require(params, "doctor"))
        fields = {"doctor": doctor}
        if action == "approveAccess":
            fields["record_ids"] = _record_ids(_require(params, "recordIds"))
            fields["duration"] = _seconds(_require(params, "duration"), "duration")
        elif action == "revokeAccess" and params.get("recordIds"):
            action = "revokeRecords"
            fields["record_ids"] = _record_ids(params["recordIds"])
        elif action == "revokeRecords":
            fields["record_ids"] = _record_ids(_require(params, "recordIds"))
        elif action == "approveExtension":
            fields["extra"] = _seconds(_require(params, "extra"), "extra")
        return await self.payload(action, caller, caller, fields)


def _require_storable(message: dict[str, Any]) -> None:
    """400 for an integer MongoDB cannot hold (see MAX_STORED_INT)."""
    for name, value in message.items():
        values = value if isinstance(value, list) else [value]
        if any(isinstance(v, int) and v > MAX_STORED_INT for v in values):
            raise bad_request("invalid_params", f"{name} must be at most {MAX_STORED_INT}")


def _address(value: Any) -> str:
    if not isinstance(value, str) or not is_address(value):
        raise bad_request("invalid_params", f"{value!r} is not an Ethereum address")
    return to_checksum_address(value)


def _record_ids(value: Any) -> list[int]:
    valid = isinstance(value, list) and value and all(
        isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value
    )
    if not valid:
        raise bad_request("invalid_params", "params.recordIds must be a non-empty list of record ids")
    return value
