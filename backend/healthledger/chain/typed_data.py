"""EIP-712 payloads for every `...BySig` action of HealthRecord, and checking who signed one.

Why: the wallet signs exactly the dict built here (`eth_signTypedData_v4`), the backend checks the
signature before spending gas, and the contract recomputes the same digest. Building the payload
in one place keeps those three in step: the type strings below must match the contract's
`*_TYPEHASH` constants character for character (tests/backend/test_chain_typed_data.py checks them
against the deployed contract).

Payloads are plain JSON: addresses checksummed, bytes32 as 0x-hex, integers as ints (JSON has no
size limit on integers; wallets accept them). The domain's `verifyingContract` is the patient's
clone, which may not exist yet when the patient signs their first record: its address is known in
advance (CREATE2), and its nonces start at 0.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils import is_address, keccak, to_checksum_address

from ..record_kinds import RECORD_KINDS

__all__ = [
    "ACTION_PRIMARY_TYPES",
    "ACTION_SIGNER",
    "BUILDERS",
    "DOMAIN_NAME",
    "DOMAIN_VERSION",
    "EIP712_DOMAIN_TYPE",
    "MESSAGE_TYPES",
    "RECORD_KINDS",
    "add_record",
    "approve_access",
    "approve_extension",
    "build_payload",
    "deny_access",
    "domain",
    "encode_type",
    "normalize_signature",
    "record_kind",
    "recover_typed_data_signer",
    "request_access",
    "request_extension",
    "revoke_access",
    "revoke_records",
    "typed_data_digest",
    "typehash",
    "verify",
]

DOMAIN_NAME = "HealthRecord"
DOMAIN_VERSION = "1"

UINT64_MAX = 2**64 - 1
UINT256_MAX = 2**256 - 1

EIP712_DOMAIN_TYPE: list[dict[str, str]] = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
]


def _fields(*pairs: tuple[str, str]) -> list[dict[str, str]]:
    return [{"name": name, "type": type_} for name, type_ in pairs]


_NONCE_DEADLINE = (("nonce", "uint256"), ("deadline", "uint256"))

# Field order is part of the signed type: it must follow the contract's *_TYPEHASH strings.
MESSAGE_TYPES: dict[str, list[dict[str, str]]] = {
    "AddRecord": _fields(("kind", "uint8"), ("contentHash", "bytes32"), *_NONCE_DEADLINE),
    "ApproveAccess": _fields(
        ("doctor", "address"), ("duration", "uint64"), ("recordIds", "uint256[]"), *_NONCE_DEADLINE
    ),
    "DenyAccess": _fields(("doctor", "address"), *_NONCE_DEADLINE),
    "RevokeAccess": _fields(("doctor", "address"), *_NONCE_DEADLINE),
    "RevokeRecords": _fields(("doctor", "address"), ("recordIds", "uint256[]"), *_NONCE_DEADLINE),
    "ApproveExtension": _fields(("doctor", "address"), ("extra", "uint64"), *_NONCE_DEADLINE),
    "RequestAccess": _fields(("doctor", "address"), *_NONCE_DEADLINE),
    "RequestExtension": _fields(("doctor", "address"), ("extra", "uint64"), *_NONCE_DEADLINE),
}

# API action name -> EIP-712 primary type.
ACTION_PRIMARY_TYPES: dict[str, str] = {
    "addRecord": "AddRecord",
    "approveAccess": "ApproveAccess",
    "denyAccess": "DenyAccess",
    "revokeAccess": "RevokeAccess",
    "revokeRecords": "RevokeRecords",
    "approveExtension": "ApproveExtension",
    "requestAccess": "RequestAccess",
    "requestExtension": "RequestExtension",
}

# Who must sign each action (the contract checks the patient for the first six, the doctor for the rest).
ACTION_SIGNER: dict[str, str] = {
    "addRecord": "patient",
    "approveAccess": "patient",
    "denyAccess": "patient",
    "revokeAccess": "patient",
    "revokeRecords": "patient",
    "approveExtension": "patient",
    "requestAccess": "doctor",
    "requestExtension": "doctor",
}


def encode_type(primary_type: str) -> str:
    """The EIP-712 type string, e.g. ``DenyAccess(address doctor,uint256 nonce,uint256 deadline)``."""
    fields = ",".join(f"{f['type']} {f['name']}" for f in MESSAGE_TYPES[primary_type])
    return f"{primary_type}({fields})"


def typehash(primary_type: str) -> bytes:
    """keccak256 of `encode_type`: must equal the contract's matching ``*_TYPEHASH``."""
    return keccak(text=encode_type(primary_type))


# ----------------------------------------------------------------------------- value checks


def _address(value: str, field: str) -> str:
    if not isinstance(value, str) or not is_address(value):
        raise ValueError(f"{field} must be an Ethereum address, got {value!r}")
    return to_checksum_address(value)


def _uint(value: int, field: str, maximum: int = UINT256_MAX) -> int:
    # bool is an int subclass; True as a nonce is a bug, not a 1.
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= maximum:
        raise ValueError(f"{field} must be an integer in [0, {maximum}], got {value!r}")
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
    return [_uint(v, f"{field}[{i}]") for i, v in enumerate(values)]


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
        "chainId": _uint(chain_id, "chainId"),
        "verifyingContract": _address(verifying_contract, "verifyingContract"),
    }


def build_payload(
    primary_type: str, chain_id: int, verifying_contract: str, message: Mapping[str, Any]
) -> dict[str, Any]:
    """The complete `eth_signTypedData_v4` payload for an already-validated message."""
    if primary_type not in MESSAGE_TYPES:
        raise ValueError(f"unknown primary type {primary_type!r}")
    expected = [f["name"] for f in MESSAGE_TYPES[primary_type]]
    if sorted(message) != sorted(expected):
        raise ValueError(f"{primary_type} message needs exactly the fields {expected}, got {sorted(message)}")
    return {
        "types": {
            "EIP712Domain": copy.deepcopy(EIP712_DOMAIN_TYPE),
            primary_type: copy.deepcopy(MESSAGE_TYPES[primary_type]),
        },
        "domain": domain(chain_id, verifying_contract),
        "primaryType": primary_type,
        "message": {name: message[name] for name in expected},
    }


def add_record(
    *, chain_id: int, verifying_contract: str, kind: int | str, content_hash: str | bytes, nonce: int, deadline: int
) -> dict[str, Any]:
    """Patient signs: add a record of `kind` whose plaintext SHA-256 is `content_hash`."""
    return build_payload(
        "AddRecord",
        chain_id,
        verifying_contract,
        {
            "kind": record_kind(kind),
            "contentHash": _bytes32(content_hash, "contentHash"),
            "nonce": _uint(nonce, "nonce"),
            "deadline": _uint(deadline, "deadline"),
        },
    )


def approve_access(
    *,
    chain_id: int,
    verifying_contract: str,
    doctor: str,
    duration: int,
    record_ids: Iterable[int],
    nonce: int,
    deadline: int,
) -> dict[str, Any]:
    """Patient signs: grant `doctor` read access to `record_ids` for `duration` seconds."""
    return build_payload(
        "ApproveAccess",
        chain_id,
        verifying_contract,
        {
            "doctor": _address(doctor, "doctor"),
            "duration": _uint(duration, "duration", UINT64_MAX),
            "recordIds": _record_ids(record_ids),
            "nonce": _uint(nonce, "nonce"),
            "deadline": _uint(deadline, "deadline"),
        },
    )


def _doctor_only(
    primary_type: str, chain_id: int, verifying_contract: str, doctor: str, nonce: int, deadline: int
) -> dict[str, Any]:
    return build_payload(
        primary_type,
        chain_id,
        verifying_contract,
        {"doctor": _address(doctor, "doctor"), "nonce": _uint(nonce, "nonce"), "deadline": _uint(deadline, "deadline")},
    )


def deny_access(*, chain_id: int, verifying_contract: str, doctor: str, nonce: int, deadline: int) -> dict[str, Any]:
    """Patient signs: turn down `doctor`'s pending request."""
    return _doctor_only("DenyAccess", chain_id, verifying_contract, doctor, nonce, deadline)


def revoke_access(*, chain_id: int, verifying_contract: str, doctor: str, nonce: int, deadline: int) -> dict[str, Any]:
    """Patient signs: end `doctor`'s whole grant now."""
    return _doctor_only("RevokeAccess", chain_id, verifying_contract, doctor, nonce, deadline)


def request_access(
    *, chain_id: int, verifying_contract: str, doctor: str, nonce: int, deadline: int
) -> dict[str, Any]:
    """Doctor signs (nonce = the doctor's nonce in the patient's clone): ask the patient for access."""
    return _doctor_only("RequestAccess", chain_id, verifying_contract, doctor, nonce, deadline)


def revoke_records(
    *, chain_id: int, verifying_contract: str, doctor: str, record_ids: Iterable[int], nonce: int, deadline: int
) -> dict[str, Any]:
    """Patient signs: withdraw `record_ids` from `doctor`'s live grant."""
    return build_payload(
        "RevokeRecords",
        chain_id,
        verifying_contract,
        {
            "doctor": _address(doctor, "doctor"),
            "recordIds": _record_ids(record_ids),
            "nonce": _uint(nonce, "nonce"),
            "deadline": _uint(deadline, "deadline"),
        },
    )


def _doctor_extra(
    primary_type: str, chain_id: int, verifying_contract: str, doctor: str, extra: int, nonce: int, deadline: int
) -> dict[str, Any]:
    return build_payload(
        primary_type,
        chain_id,
        verifying_contract,
        {
            "doctor": _address(doctor, "doctor"),
            "extra": _uint(extra, "extra", UINT64_MAX),
            "nonce": _uint(nonce, "nonce"),
            "deadline": _uint(deadline, "deadline"),
        },
    )


def approve_extension(
    *, chain_id: int, verifying_contract: str, doctor: str, extra: int, nonce: int, deadline: int
) -> dict[str, Any]:
    """Patient signs: accept `doctor`'s pending extension of exactly `extra` seconds."""
    return _doctor_extra("ApproveExtension", chain_id, verifying_contract, doctor, extra, nonce, deadline)


def request_extension(
    *, chain_id: int, verifying_contract: str, doctor: str, extra: int, nonce: int, deadline: int
) -> dict[str, Any]:
    """Doctor signs: ask for `extra` more seconds on a live grant."""
    return _doctor_extra("RequestExtension", chain_id, verifying_contract, doctor, extra, nonce, deadline)


# API action name -> builder (all keyword-only; see each builder for its fields).
BUILDERS: dict[str, Callable[..., dict[str, Any]]] = {
    "addRecord": add_record,
    "approveAccess": approve_access,
    "denyAccess": deny_access,
    "revokeAccess": revoke_access,
    "revokeRecords": revoke_records,
    "approveExtension": approve_extension,
    "requestAccess": request_access,
    "requestExtension": request_extension,
}


# ----------------------------------------------------------------------------- signatures


SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def _signature_bytes(signature: str | bytes) -> bytes:
    if isinstance(signature, str):
        text = signature[2:] if signature[:2] in ("0x", "0X") else signature
        try:
            signature = bytes.fromhex(text)
        except ValueError:
            raise ValueError("a signature must be 0x-hex") from None
    if not isinstance(signature, (bytes, bytearray)):
        raise ValueError(f"a signature must be bytes or 0x-hex, got {type(signature).__name__}")
    raw = bytes(signature)
    if len(raw) != 65:
        raise ValueError(f"a signature is 65 bytes (r, s, v), got {len(raw)}")
    return raw


def normalize_signature(signature: str | bytes) -> bytes:
    """65 bytes r‖s‖v with v in {27, 28}: some wallets (Ledger, some libraries) send v in {0, 1}.

    The contract (OpenZeppelin ECDSA) accepts only v 27/28 and low s, so a signature should be
    normalised before it is checked and relayed. High-s signatures are rejected, not flipped:
    flipping would be a different signature than the one the wallet produced.
    """
    raw = bytearray(_signature_bytes(signature))
    if raw[64] in (0, 1):
        raw[64] += 27
    return _check_canonical(bytes(raw))


def _check_canonical(raw: bytes) -> bytes:
    if raw[64] not in (27, 28):
        raise ValueError(f"signature v must be 27 or 28, got {raw[64]}")
    if int.from_bytes(raw[32:64], "big") > SECP256K1_N // 2:
        raise ValueError("signature s is in the upper half of the curve order (not accepted on chain)")
    return raw


def typed_data_digest(payload: Mapping[str, Any]) -> bytes:
    """The 32-byte EIP-712 digest the contract's `_hashTypedDataV4` computes for this payload."""
    signable = encode_typed_data(full_message=dict(payload))
    return keccak(b"\x19" + signable.version + signable.header + signable.body)


def recover_typed_data_signer(payload: Mapping[str, Any], signature: str | bytes) -> str:
    """The checksummed address whose key produced `signature` over `payload`.

    Strict like the contract: v must be 27/28 and s low, else ValueError (use `normalize_signature`
    first for wallets that send v 0/1). Any well-formed signature recovers *some* address: compare
    it with the expected signer (or use `verify`).
    """
    raw = _check_canonical(_signature_bytes(signature))
    try:
        return Account.recover_message(encode_typed_data(full_message=dict(payload)), signature=raw)
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
