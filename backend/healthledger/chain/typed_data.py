"""EIP-712 payloads for every `...BySig` action of HealthRecord, and checking who signed one.

Why: the wallet signs exactly the dict built here (`eth_signTypedData_v4`), the backend checks the
signature before spending gas, and the contract recomputes the same digest. Building the payload
in one place keeps those three in step: the types are derived from the action table in
`chain/actions.py`, whose type strings must match the contract's `*_TYPEHASH` constants character
for character (tests/backend/test_chain_actions.py checks them against the compiled contract).

Payloads are plain JSON: addresses checksummed, bytes32 as 0x-hex, integers as ints (JSON has no
size limit on integers; wallets accept them), except a bitmap's words: those use all 256 bits and
would lose precision in a JavaScript client's JSON.parse, so they travel as decimal strings (which
eth_signTypedData_v4 accepts for uint256); `signable` turns them back into ints for hashing.

The domain's `verifyingContract` is the patient's clone, which may not exist yet when the patient
signs their first record: its address is known in advance (CREATE2), and its nonces start at 0.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils import is_address, keccak, to_checksum_address

from ..crypto.ecdsa import normalize_signature as _normalize, signature_from_hex
from ..record_kinds import RECORD_KINDS
from .actions import SIGNED_ACTIONS, SignedAction, ValueKind, action

__all__ = [
    "ACTION_SIGNER",
    "DOMAIN_NAME",
    "DOMAIN_VERSION",
    "EIP712_DOMAIN_TYPE",
    "MESSAGE_TYPES",
    "RECORD_KINDS",
    "build_payload",
    "domain",
    "encode_type",
    "normalize_signature",
    "record_kind",
    "recover_typed_data_signer",
    "signable",
    "typed_data_digest",
    "typehash",
    "verify",
]

DOMAIN_NAME = "HealthRecord"
DOMAIN_VERSION = "1"

UINT32_MAX = 2**32 - 1
UINT64_MAX = 2**64 - 1
UINT256_MAX = 2**256 - 1

EIP712_DOMAIN_TYPE: list[dict[str, str]] = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
]

# Derived from chain/actions.py: primary type -> its fields, in signed order.
MESSAGE_TYPES: dict[str, list[dict[str, str]]] = {
    a.primary_type: [{"name": f.name, "type": f.type} for f in a.message_fields] for a in SIGNED_ACTIONS
}

# API action name -> who must sign it (derived from chain/actions.py).
ACTION_SIGNER: dict[str, str] = {a.name: a.signer for a in SIGNED_ACTIONS}


def type_string(primary_type: str, fields: Sequence[Mapping[str, str]]) -> str:
    """EIP-712's `encodeType` of a struct with no struct members, e.g.
    ``DenyAccess(address doctor,uint256 nonce,uint256 deadline)``: every type table here has only those."""
    members = ",".join(f"{f['type']} {f['name']}" for f in fields)
    return f"{primary_type}({members})"


def encode_type(primary_type: str) -> str:
    """The EIP-712 type string of one of the vault's actions (MESSAGE_TYPES)."""
    return type_string(primary_type, MESSAGE_TYPES[primary_type])


def typehash(primary_type: str) -> bytes:
    """keccak256 of `encode_type`: must equal the contract's matching ``*_TYPEHASH``."""
    return keccak(text=encode_type(primary_type))


# ----------------------------------------------------------------------------- value checks


def checked_address(value: str, field: str) -> str:
    """`value` as a checksummed address, or ValueError naming `field` (the record and bill payloads share it)."""
    if not isinstance(value, str) or not is_address(value):
        raise ValueError(f"{field} must be an Ethereum address, got {value!r}")
    return to_checksum_address(value)


def checked_uint(value: int, field: str, maximum: int = UINT256_MAX) -> int:
    """`value` if an int in [0, maximum], else ValueError naming `field`."""
    # bool is an int subclass; True as a nonce is a bug, not a 1.
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= maximum:
        bound = f"2^{maximum.bit_length()} - 1" if (maximum + 1) & maximum == 0 else str(maximum)
        raise ValueError(f"{field} must be an integer in [0, {bound}], got {value!r}")
    return value


def _bytes32(value: str | bytes, field: str) -> str:
    if isinstance(value, (bytes, bytearray)):
        raw = bytes(value)
    elif isinstance(value, str):
        text = value[2:] if value[:2] in ("0x", "0X") else value
        try:
            raw = bytes.fromhex(text)
        except ValueError:
            raise ValueError(f"{field} must be 32 bytes of hex, got {value!r}") from None
    else:
        raise ValueError(f"{field} must be 32 bytes (hex string or bytes), got {type(value).__name__}")
    if len(raw) != 32:
        raise ValueError(f"{field} must be 32 bytes, got {len(raw)}")
    return "0x" + raw.hex()


def _record_ids(values: Iterable[int], field: str = "recordIds") -> list[int]:
    return [checked_uint(v, f"{field}[{i}]") for i, v in enumerate(values)]


def record_kind(kind: int | str) -> int:
    """The on-chain kind number for `kind` given as a name ("prescription", "bill", "report") or number."""
    if isinstance(kind, str):
        try:
            return RECORD_KINDS[kind.strip().lower()]
        except KeyError:
            raise ValueError(f"unknown record kind {kind!r}; expected one of {sorted(RECORD_KINDS)}") from None
    if isinstance(kind, bool) or not isinstance(kind, int) or kind not in RECORD_KINDS.values():
        raise ValueError(f"record kind must be 0, 1 or 2, got {kind!r}")
    return kind


# ----------------------------------------------------------------------------- payloads


def domain(chain_id: int, verifying_contract: str) -> dict[str, Any]:
    """The patient clone's EIP-712 domain (name "HealthRecord", version "1")."""
    return {
        "name": DOMAIN_NAME,
        "version": DOMAIN_VERSION,
        "chainId": checked_uint(chain_id, "chainId"),
        "verifyingContract": checked_address(verifying_contract, "verifyingContract"),
    }


def _value(kind: ValueKind, value: Any, field: str) -> Any:
    """`value` checked and normalised for a message field of `kind` (ValueError when it does not fit)."""
    if kind == "address":
        return checked_address(value, field)
    if kind == "seconds":
        return checked_uint(value, field, UINT64_MAX)
    if kind == "record_ids":
        if not isinstance(value, (list, tuple)):
            raise ValueError(f"{field} must be a list of record ids, got {type(value).__name__}")
        return _record_ids(value, field)
    if kind == "content_hash":
        return _bytes32(value, field)
    if kind == "record_kind":
        return record_kind(value)
    if kind == "generation":
        return checked_uint(value, field, UINT32_MAX)
    if kind == "bitmap_words":
        if not isinstance(value, (list, tuple)) or not value:
            raise ValueError(f"{field} must be a non-empty list of 256-bit words")
        return [str(checked_uint(_int_of(v), f"{field}[{i}]")) for i, v in enumerate(value)]
    return checked_uint(value, field)


def _int_of(value: Any) -> Any:
    """A decimal string (as bitmap words travel) as its int; anything else unchanged (checked later)."""
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return value


def signable(payload: Mapping[str, Any]) -> dict[str, Any]:
    """`payload` with every integer-typed message value an int (bitmap words travel as strings)."""
    fields = payload["types"][payload["primaryType"]]
    message = dict(payload["message"])
    for f in fields:
        if f["type"].startswith(("uint", "int")) and f["name"] in message:
            value = message[f["name"]]
            message[f["name"]] = [_int_of(v) for v in value] if isinstance(value, list) else _int_of(value)
    return {**payload, "message": message}


def build_payload(
    signed: SignedAction | str, chain_id: int, verifying_contract: str, message: Mapping[str, Any]
) -> dict[str, Any]:
    """The complete `eth_signTypedData_v4` payload of action `signed` (its API name, primary type or entry).

    `message` holds exactly the action's message fields (nonce and deadline included); each value is
    checked against its field's kind and normalised (addresses checksummed, bytes32 as 0x-hex, a
    record kind's name as its number). ValueError names the first field that does not fit.
    """
    try:
        entry = signed if isinstance(signed, SignedAction) else action(signed)
    except KeyError:
        raise ValueError(f"unknown action {signed!r}") from None
    expected = [f.name for f in entry.message_fields]
    if sorted(message) != sorted(expected):
        raise ValueError(f"{entry.primary_type} message needs exactly the fields {expected}, got {sorted(message)}")
    return {
        "types": {
            "EIP712Domain": copy.deepcopy(EIP712_DOMAIN_TYPE),
            entry.primary_type: copy.deepcopy(MESSAGE_TYPES[entry.primary_type]),
        },
        "domain": domain(chain_id, verifying_contract),
        "primaryType": entry.primary_type,
        "message": {f.name: _value(f.kind, message[f.name], f.name) for f in entry.message_fields},
    }


# ----------------------------------------------------------------------------- signatures


def normalize_signature(signature: str | bytes) -> bytes:
    """65 bytes r‖s‖v with v in {27, 28}: some wallets (Ledger, some libraries) send v in {0, 1}.

    The contract (OpenZeppelin ECDSA) accepts only v 27/28 and low s, so a signature should be
    normalised before it is checked and relayed. High-s signatures are rejected, not flipped:
    flipping would be a different signature than the one the wallet produced (crypto/ecdsa.py).
    """
    return _normalize(signature_from_hex(signature), high_s="reject")


def _check_canonical(signature: str | bytes) -> bytes:
    """The signature's bytes if they are already what the contract accepts (v 27/28, low s)."""
    raw = signature_from_hex(signature)
    if _normalize(raw, high_s="reject") != raw:
        raise ValueError(f"signature v must be 27 or 28, got {raw[64]}")
    return raw


def typed_data_digest(payload: Mapping[str, Any]) -> bytes:
    """The 32-byte EIP-712 digest the contract's `_hashTypedDataV4` computes for this payload."""
    encoded = encode_typed_data(full_message=signable(payload))
    return keccak(b"\x19" + encoded.version + encoded.header + encoded.body)


def recover_typed_data_signer(payload: Mapping[str, Any], signature: str | bytes) -> str:
    """The checksummed address whose key produced `signature` over `payload`.

    Strict like the contract: v must be 27/28 and s low, else ValueError (use `normalize_signature`
    first for wallets that send v 0/1). Any well-formed signature recovers *some* address: compare
    it with the expected signer (or use `verify`).
    """
    raw = _check_canonical(signature)
    try:
        return Account.recover_message(encode_typed_data(full_message=signable(payload)), signature=raw)
    except ValueError:
        raise
    except Exception as exc:  # eth_keys raises BadSignature and friends
        raise ValueError(f"malformed signature: {exc}") from None


def verify(payload: Mapping[str, Any], signature: str | bytes, expected_signer: str) -> bool:
    """Whether `expected_signer` (an EOA) signed `payload`. Never raises for bad input: False.

    Smart-contract wallets (ERC-1271) cannot be checked off chain this way; the contract accepts
    them, so a False here for such a wallet only means "let the chain decide".
    """
    try:
        return recover_typed_data_signer(payload, signature) == to_checksum_address(expected_signer)
    except (ValueError, TypeError):
        return False
