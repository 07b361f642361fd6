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

Fields the client does not send are filled by the server, by their kind: an `address` field with
no param is the signer (the calling doctor, or any caller for ``InvalidateNonce``'s ``account``),
a `generation` field is the doctor's grant generation read from the chain (`getGrant(doctor)[3]`)
when the payload is issued. One param may fill several fields: `recordIds` fills ApproveRecords'
``startWord`` (kind `bitmap_start`) and ``words`` (kind `bitmap_words`), both derived from the id
list by `record_bitmap` below, so the client keeps sending ids and the derivation stays declarative.

tests/backend/test_chain_actions.py checks each entry against the compiled contract (type hashes
and `...BySig` ABI). Adding an action: one `SignedAction` here, plus its tests (see the README).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from hexbytes import HexBytes

__all__ = [
    "ACTIONS",
    "ACTIONS_BY_PRIMARY_TYPE",
    "BITMAP_WORD_BITS",
    "MAX_BITMAP_WORDS",
    "NONCE_DEADLINE",
    "SIGNED_ACTIONS",
    "VALUE_KINDS",
    "MessageField",
    "Role",
    "SignedAction",
    "ValueKind",
    "action",
    "bitmap_record_ids",
    "record_bitmap",
]

# Who signs: the patient who owns the vault, a registered doctor, or whoever calls ("caller": a
# patient for their own vault or a doctor for a patient's vault; e.g. InvalidateNonce).
Role = Literal["patient", "doctor", "caller"]

# What a message field holds. The kind fixes the EIP-712 type and how the API's param is read:
#   address      -> address    an Ethereum address (checksummed in the payload)
#   seconds      -> uint64     a positive whole number of seconds
#   record_ids   -> uint256[]  a non-empty list of record ids
#   content_hash -> bytes32    a SHA-256 as 0x-hex
#   record_kind  -> uint8      HealthRecord.RecordKind; the API takes its name ("prescription", ...)
#   uint         -> uint256    a plain unsigned integer (nonce, deadline)
#   generation   -> uint32     a read grant's generation; server-filled from getGrant(doctor)
#   bitmap_start -> uint256    first 256-record word of a bitmap; derived from the param's record ids
#   bitmap_words -> uint256[]  the bitmap's words (bit i of words[j] = id (startWord+j)*256+i); likewise
ValueKind = Literal[
    "address", "seconds", "record_ids", "content_hash", "record_kind", "uint", "generation",
    "bitmap_start", "bitmap_words",
]

VALUE_KINDS: dict[ValueKind, str] = {
    "address": "address",
    "seconds": "uint64",
    "record_ids": "uint256[]",
    "content_hash": "bytes32",
    "record_kind": "uint8",
    "uint": "uint256",
    "generation": "uint32",
    "bitmap_start": "uint256",
    "bitmap_words": "uint256[]",
}

# Kinds whose value the server derives from a param (several fields may share that param).
BITMAP_KINDS: frozenset[ValueKind] = frozenset({"bitmap_start", "bitmap_words"})
BITMAP_WORD_BITS = 256
# The widest selection a bitmap may span, in words (262,144 record ids): the contract refuses any
# bit at or past its record count anyway, and a span this wide would already cost far too much
# gas; the bound keeps a request naming ids 0 and 2**255 from making the server build 2**247 words.
MAX_BITMAP_WORDS = 1024


def record_bitmap(record_ids: Iterable[int]) -> tuple[int, list[int]]:
    """`(startWord, words)` selecting exactly `record_ids`, in as few words as possible.

    Bit i of words[j] selects record (startWord + j) * 256 + i; startWord is the lowest id's word.
    Words between the lowest and highest id's word are kept (possibly 0): the contract reads them
    in order. ValueError for an empty list, a negative id, or ids more than MAX_BITMAP_WORDS words apart.
    """
    ids = sorted(set(record_ids))
    if not ids:
        raise ValueError("a record bitmap needs at least one record id")
    if ids[0] < 0:
        raise ValueError(f"record ids are not negative, got {ids[0]}")
    start = ids[0] // BITMAP_WORD_BITS
    span = ids[-1] // BITMAP_WORD_BITS - start + 1
    if span > MAX_BITMAP_WORDS:
        raise ValueError(
            f"record ids {ids[0]} and {ids[-1]} are too far apart for one approval "
            f"(at most {MAX_BITMAP_WORDS * BITMAP_WORD_BITS} ids apart)"
        )
    words = [0] * span
    for record_id in ids:
        words[record_id // BITMAP_WORD_BITS - start] |= 1 << (record_id % BITMAP_WORD_BITS)
    return start, words


def bitmap_record_ids(start_word: int, words: Iterable[int]) -> list[int]:
    """The record ids a `(startWord, words)` bitmap selects, ascending (the inverse of `record_bitmap`)."""
    ids = []
    for j, word in enumerate(words):
        base = (start_word + j) * BITMAP_WORD_BITS
        ids.extend(base + i for i in range(BITMAP_WORD_BITS) if word >> i & 1)
    return ids



@dataclass(frozen=True)
class MessageField:
    """One field of an action's EIP-712 message (and argument of its `...BySig` function)."""

    name: str
    kind: ValueKind
    # The /api/signing/typed-data params key that fills it; None: the server fills it in (by kind:
    # an address is the signer's own, a generation is read from the chain; or nonce and deadline).
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
        """The API params a client sends, each once (a doctor names the patient whose contract it is;
        for a "caller" action `patientAddress` is optional: a patient acts on their own vault)."""
        named = tuple(dict.fromkeys(f.param for f in self.fields if f.param is not None))
        return ("patientAddress", *named) if self.signer in ("doctor", "caller") else named

    def fields_from_params(self, params: Mapping[str, Any], signer: str, generation: int | None = None) -> dict[str, Any]:
        """The message fields before nonce and deadline, from already-checked API params.

        Server-filled fields: an address is `signer`, a generation is `generation` (read from the
        chain by the caller); bitmap fields are derived from their param's record ids.
        KeyError names a missing param; ValueError a bitmap that cannot be built.
        """
        out: dict[str, Any] = {}
        for f in self.fields:
            if f.param is None:
                if f.kind == "generation":
                    if generation is None:
                        raise ValueError(f"{self.primary_type}.{f.name} needs the grant's generation")
                    out[f.name] = generation
                else:
                    out[f.name] = signer
            elif f.kind in BITMAP_KINDS:
                start, words = record_bitmap(params[f.param])
                out[f.name] = start if f.kind == "bitmap_start" else words
            else:
                out[f.name] = params[f.param]
        return out

    @property
    def needs_generation(self) -> bool:
        """Whether a field is the doctor's grant generation (read from the chain at issue time)."""
        return any(f.kind == "generation" for f in self.fields)

    def call_args(self, message: Mapping[str, Any], signature: bytes) -> list[Any]:
        """The `function`'s arguments: the message fields in order, then the signature."""
        return [_abi_value(f.type, message[f.name]) for f in self.message_fields] + [bytes(signature)]


def _abi_value(type_: str, value: Any) -> Any:
    # Payload messages are JSON (bytes32 as 0x-hex, bitmap words as decimal strings); the ABI
    # encoder wants bytes and ints.
    if type_ == "bytes32":
        return bytes(HexBytes(value))
    if type_ == "uint256[]":
        return [int(v) for v in value]
    return value


_DOCTOR = MessageField("doctor", "address", "doctor", "The doctor concerned.")
_SIGNING_DOCTOR = MessageField("doctor", "address", None, "The signing doctor (the caller).")
_RECORD_IDS = MessageField("recordIds", "record_ids", "recordIds", "Record ids (from the patient's list of records).")
_DURATION = MessageField("duration", "seconds", "duration", "How long the grant lasts, in seconds.")
_KIND = MessageField("kind", "record_kind", "recordType", "prescription, bill or report.")
_CONTENT_HASH = MessageField(
    "contentHash", "content_hash", "contentHash", "SHA-256(salt ‖ file) with the record's fresh 32-byte salt, 0x-hex."
)
_SELECTION = "Record ids to share (from the patient's list of records); the server encodes them as a bitmap."

SIGNED_ACTIONS: tuple[SignedAction, ...] = (
    SignedAction(
        "addRecord", "AddRecord", "patient",
        (_KIND, _CONTENT_HASH),
        "The patient adds a record (the upload's signature).",
    ),
    SignedAction(
        "approveAccess", "ApproveAccess", "patient", (_DOCTOR, _DURATION, _RECORD_IDS),
        "The patient grants a doctor read access to chosen records for a time, replacing any earlier grant "
        "(kept for other clients; the web app uses approveRecords).",
    ),
    SignedAction(
        "approveRecords", "ApproveRecords", "patient",
        (
            _DOCTOR,
            _DURATION,
            MessageField("startWord", "bitmap_start", "recordIds", _SELECTION),
            MessageField("words", "bitmap_words", "recordIds", _SELECTION),
        ),
        "The patient grants a doctor read access to chosen records for a time, replacing any earlier grant "
        "(the ids travel as a bitmap: the same gas for 1 or 256 records).",
    ),
    SignedAction(
        "approveWrite", "ApproveWrite", "patient", (_DOCTOR, MessageField("duration", "seconds", "duration",
        "How long the doctor may add records, in seconds.")),
        "The patient lets a registered doctor add records to their vault for a time, replacing any earlier write grant.",
    ),
    SignedAction("revokeWrite", "RevokeWrite", "patient", (_DOCTOR,), "The patient ends a doctor's write grant now."),
    SignedAction("denyAccess", "DenyAccess", "patient", (_DOCTOR,), "The patient turns down a doctor's pending request."),
    SignedAction("revokeAccess", "RevokeAccess", "patient", (_DOCTOR,), "The patient ends a doctor's whole grant now."),
    SignedAction(
        "revokeRecords", "RevokeRecords", "patient", (_DOCTOR, _RECORD_IDS),
        "The patient withdraws some records from a doctor's live grant.",
    ),
    SignedAction(
        "approveExtension", "ApproveExtension", "patient",
        (
            _DOCTOR,
            MessageField("extra", "seconds", "extra", "The pending extension, in seconds (must match it)."),
            MessageField("generation", "generation", None, "The grant's generation (server-filled from the chain)."),
        ),
        "The patient accepts a doctor's pending extension request (for the grant as it is now).",
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
    SignedAction(
        "addRecordAsDoctor", "AddRecordAsDoctor", "doctor", (_SIGNING_DOCTOR, _KIND, _CONTENT_HASH),
        "A registered doctor with a live write grant adds a record to the patient's (params.patientAddress) vault.",
    ),
    SignedAction(
        "invalidateNonce", "InvalidateNonce", "caller",
        (MessageField("account", "address", None, "The signer (the caller)."),),
        "Cancel everything you signed for this vault but was not sent (consumes your current nonce). A patient "
        "acts on their own vault; a doctor names the patient (params.patientAddress).",
    ),
)

ACTIONS: dict[str, SignedAction] = {a.name: a for a in SIGNED_ACTIONS}
ACTIONS_BY_PRIMARY_TYPE: dict[str, SignedAction] = {a.primary_type: a for a in SIGNED_ACTIONS}


def action(name: str) -> SignedAction:
    """The action called `name` (API name or EIP-712 primary type); KeyError if there is none."""
    return ACTIONS.get(name) or ACTIONS_BY_PRIMARY_TYPE[name]
