"""Every signed action of HealthRecord, declared once.

Why a table: a signed action used to be spelled out in about eight places (the EIP-712 types, a
payload builder, the API's action list and params, the signer check, the relayer's call, ...).
Each entry below says everything the backend needs, and the rest is derived from it:

- the EIP-712 type string and payload (`chain/typed_data.py`), which must hash to the contract's
  ``*_TYPEHASH`` constant (`typehash_constant`);
- the relayer's call (`Relayer.relay_signed`): the contract function `function` takes the message
  fields in the signed order, then the signature (``nonce`` and ``deadline`` are the last two
  message fields, as in every `...BySig` function);
- who must sign (`signer`) and, for the API, which request params fill which message field
  (`services/typed_data_factory.py`, the typed-data request schema in `api/schemas/signing.py`).

tests/backend/test_chain_actions.py checks each entry against the compiled contract (type hashes
and `...BySig` ABI). Adding an action: one `SignedAction` here, plus its tests (see the README).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from hexbytes import HexBytes

__all__ = [
    "ACTIONS",
    "ACTIONS_BY_PRIMARY_TYPE",
    "NONCE_DEADLINE",
    "SIGNED_ACTIONS",
    "VALUE_KINDS",
    "MessageField",
    "Role",
    "SignedAction",
    "ValueKind",
    "action",
]

Role = Literal["patient", "doctor"]

# What a message field holds. The kind fixes the EIP-712 type and how the API's param is read:
#   address      -> address    an Ethereum address (checksummed in the payload)
#   seconds      -> uint64     a positive whole number of seconds
#   record_ids   -> uint256[]  a non-empty list of record ids
#   content_hash -> bytes32    a SHA-256 as 0x-hex
#   record_kind  -> uint8      HealthRecord.RecordKind; the API takes its name ("prescription", ...)
#   uint         -> uint256    a plain unsigned integer (nonce, deadline)
ValueKind = Literal["address", "seconds", "record_ids", "content_hash", "record_kind", "uint"]

VALUE_KINDS: dict[ValueKind, str] = {
    "address": "address",
    "seconds": "uint64",
    "record_ids": "uint256[]",
    "content_hash": "bytes32",
    "record_kind": "uint8",
    "uint": "uint256",
}


@dataclass(frozen=True)
class MessageField:
    """One field of an action's EIP-712 message (and argument of its `...BySig` function)."""

    name: str
    kind: ValueKind
    # The /api/signing/typed-data params key that fills it; None: the server fills it in (the
    # signing doctor's own address, or the nonce and deadline).
    param: str | None
    description: str

    @property
    def type(self) -> str:
        """The EIP-712 / Solidity type."""
        return VALUE_KINDS[self.kind]


NONCE_DEADLINE = (
    MessageField("nonce", "uint", None, "The signer's current nonce in the patient's contract."),
    MessageField("deadline", "uint", None, "Last block timestamp at which the signature is accepted."),
)


@dataclass(frozen=True)
class SignedAction:
    """A `...BySig` action of HealthRecord: its API name, EIP-712 type, signer and contract function."""

    name: str  # the API's action name, e.g. "revokeAccess"
    primary_type: str  # the EIP-712 primary type, e.g. "RevokeAccess"
    signer: Role  # who signs: the patient who owns the contract, or a registered doctor
    fields: tuple[MessageField, ...]  # the message fields before nonce and deadline, in signed order
    summary: str  # one line for the API documentation

    @property
    def message_fields(self) -> tuple[MessageField, ...]:
        """Every field of the signed message, in order (nonce and deadline last)."""
        return (*self.fields, *NONCE_DEADLINE)

    @property
    def function(self) -> str:
        """The contract function that checks the signature and acts, e.g. ``revokeAccessBySig``."""
        return f"{self.name}BySig"

    @property
    def typehash_constant(self) -> str:
        """The contract's constant holding this type's hash, e.g. ``REVOKE_ACCESS_TYPEHASH``."""
        return re.sub(r"(?<!^)(?=[A-Z])", "_", self.primary_type).upper() + "_TYPEHASH"

    @property
    def params(self) -> tuple[str, ...]:
        """The API params a client sends (a doctor names the patient whose contract it is)."""
        named = tuple(f.param for f in self.fields if f.param is not None)
        return ("patientAddress", *named) if self.signer == "doctor" else named

    def call_args(self, message: Mapping[str, Any], signature: bytes) -> list[Any]:
        """The `function`'s arguments: the message fields in order, then the signature."""
        return [_abi_value(f.type, message[f.name]) for f in self.message_fields] + [bytes(signature)]


def _abi_value(type_: str, value: Any) -> Any:
    # Payload messages are JSON (bytes32 as 0x-hex); the ABI encoder wants bytes for them.
    return bytes(HexBytes(value)) if type_ == "bytes32" else value


_DOCTOR = MessageField("doctor", "address", "doctor", "The doctor concerned.")
_SIGNING_DOCTOR = MessageField("doctor", "address", None, "The signing doctor (the caller).")
_RECORD_IDS = MessageField("recordIds", "record_ids", "recordIds", "Record ids (from the patient's list of records).")

SIGNED_ACTIONS: tuple[SignedAction, ...] = (
    SignedAction(
        "addRecord", "AddRecord", "patient",
        (
            MessageField("kind", "record_kind", "recordType", "prescription, bill or report."),
            MessageField("contentHash", "content_hash", "contentHash", "SHA-256 of the plaintext file, 0x-hex."),
        ),
        "The patient adds a record (the upload's signature).",
    ),
    SignedAction(
        "approveAccess", "ApproveAccess", "patient",
        (_DOCTOR, MessageField("duration", "seconds", "duration", "How long the grant lasts, in seconds."), _RECORD_IDS),
        "The patient grants a doctor read access to chosen records for a time, replacing any earlier grant.",
    ),
    SignedAction("denyAccess", "DenyAccess", "patient", (_DOCTOR,), "The patient turns down a doctor's pending request."),
    SignedAction("revokeAccess", "RevokeAccess", "patient", (_DOCTOR,), "The patient ends a doctor's whole grant now."),
    SignedAction(
        "revokeRecords", "RevokeRecords", "patient", (_DOCTOR, _RECORD_IDS),
        "The patient withdraws some records from a doctor's live grant.",
    ),
    SignedAction(
        "approveExtension", "ApproveExtension", "patient",
        (_DOCTOR, MessageField("extra", "seconds", "extra", "The pending extension, in seconds (must match it).")),
        "The patient accepts a doctor's pending extension request.",
    ),
    SignedAction(
        "requestAccess", "RequestAccess", "doctor", (_SIGNING_DOCTOR,),
        "A registered doctor asks the patient (params.patientAddress) for access.",
    ),
    SignedAction(
        "requestExtension", "RequestExtension", "doctor",
        (_SIGNING_DOCTOR, MessageField("extra", "seconds", "extra", "Seconds to add to the live grant.")),
        "A registered doctor with a live grant asks the patient (params.patientAddress) for more time.",
    ),
)

ACTIONS: dict[str, SignedAction] = {a.name: a for a in SIGNED_ACTIONS}
ACTIONS_BY_PRIMARY_TYPE: dict[str, SignedAction] = {a.primary_type: a for a in SIGNED_ACTIONS}


def action(name: str) -> SignedAction:
    """The action called `name` (API name or EIP-712 primary type); KeyError if there is none."""
    return ACTIONS.get(name) or ACTIONS_BY_PRIMARY_TYPE[name]
