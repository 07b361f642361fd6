"""EIP-712 typed-data builders for HealthRecord's `...BySig` functions (test helper).

Every builder returns the complete `eth_signTypedData_v4` payload (types, primaryType, domain,
message), which `eth_account.Account.sign_typed_data(key, full_message=...)` signs. The domain is
OpenZeppelin EIP712's: name "HealthRecord", version "1", the chain id and the patient's clone as
verifying contract.
"""

from __future__ import annotations

from typing import Any

from eth_account import Account
from eth_utils import keccak

DEV_MNEMONIC = "test test test test test test test test test test test junk"
DOMAIN_NAME = "HealthRecord"
DOMAIN_VERSION = "1"

EIP712_DOMAIN_FIELDS = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
]

_SIG_TAIL = [{"name": "nonce", "type": "uint256"}, {"name": "deadline", "type": "uint256"}]

#: primary type -> its fields (nonce and deadline last, as in the contract's type hashes).
TYPES: dict[str, list[dict[str, str]]] = {
    "AddRecord": [{"name": "kind", "type": "uint8"}, {"name": "contentHash", "type": "bytes32"}, *_SIG_TAIL],
    "ApproveAccess": [
        {"name": "doctor", "type": "address"},
        {"name": "duration", "type": "uint64"},
        {"name": "recordIds", "type": "uint256[]"},
        *_SIG_TAIL,
    ],
    "DenyAccess": [{"name": "doctor", "type": "address"}, *_SIG_TAIL],
    "RevokeAccess": [{"name": "doctor", "type": "address"}, *_SIG_TAIL],
    "RevokeRecords": [
        {"name": "doctor", "type": "address"},
        {"name": "recordIds", "type": "uint256[]"},
        *_SIG_TAIL,
    ],
    "ApproveExtension": [
        {"name": "doctor", "type": "address"},
        {"name": "extra", "type": "uint64"},
        {"name": "generation", "type": "uint32"},
        *_SIG_TAIL,
    ],
    "ApproveRecords": [
        {"name": "doctor", "type": "address"},
        {"name": "duration", "type": "uint64"},
        {"name": "startWord", "type": "uint256"},
        {"name": "words", "type": "uint256[]"},
        *_SIG_TAIL,
    ],
    "ApproveWrite": [{"name": "doctor", "type": "address"}, {"name": "duration", "type": "uint64"}, *_SIG_TAIL],
    "RevokeWrite": [{"name": "doctor", "type": "address"}, *_SIG_TAIL],
    "AddRecordAsDoctor": [
        {"name": "doctor", "type": "address"},
        {"name": "kind", "type": "uint8"},
        {"name": "contentHash", "type": "bytes32"},
        *_SIG_TAIL,
    ],
    "InvalidateNonce": [{"name": "account", "type": "address"}, *_SIG_TAIL],
    "RequestAccess": [{"name": "doctor", "type": "address"}, *_SIG_TAIL],
    "RequestExtension": [{"name": "doctor", "type": "address"}, {"name": "extra", "type": "uint64"}, *_SIG_TAIL],
}

#: primary type -> the contract's public constant holding its type hash.
TYPEHASH_CONSTANTS = {
    "AddRecord": "ADD_RECORD_TYPEHASH",
    "ApproveAccess": "APPROVE_ACCESS_TYPEHASH",
    "DenyAccess": "DENY_ACCESS_TYPEHASH",
    "RevokeAccess": "REVOKE_ACCESS_TYPEHASH",
    "RevokeRecords": "REVOKE_RECORDS_TYPEHASH",
    "ApproveExtension": "APPROVE_EXTENSION_TYPEHASH",
    "ApproveRecords": "APPROVE_RECORDS_TYPEHASH",
    "ApproveWrite": "APPROVE_WRITE_TYPEHASH",
    "RevokeWrite": "REVOKE_WRITE_TYPEHASH",
    "AddRecordAsDoctor": "ADD_RECORD_AS_DOCTOR_TYPEHASH",
    "InvalidateNonce": "INVALIDATE_NONCE_TYPEHASH",
    "RequestAccess": "REQUEST_ACCESS_TYPEHASH",
    "RequestExtension": "REQUEST_EXTENSION_TYPEHASH",
}


def encode_type(primary_type: str) -> str:
    """`Name(type1 name1,...)` as EIP-712 hashes it (no referenced struct types here)."""
    fields = ",".join(f"{f['type']} {f['name']}" for f in TYPES[primary_type])
    return f"{primary_type}({fields})"


def type_hash(primary_type: str) -> bytes:
    return keccak(text=encode_type(primary_type))


def domain(chain_id: int, verifying_contract: str) -> dict[str, Any]:
    return {
        "name": DOMAIN_NAME,
        "version": DOMAIN_VERSION,
        "chainId": int(chain_id),
        "verifyingContract": str(verifying_contract),
    }


def typed_data(primary_type: str, message: dict[str, Any], *, chain_id: int, verifying_contract: str) -> dict:
    """The full `eth_signTypedData_v4` payload for one action."""
    missing = {f["name"] for f in TYPES[primary_type]} - set(message)
    if missing:
        raise ValueError(f"{primary_type}: missing fields {sorted(missing)}")
    return {
        "types": {"EIP712Domain": EIP712_DOMAIN_FIELDS, primary_type: TYPES[primary_type]},
        "primaryType": primary_type,
        "domain": domain(chain_id, verifying_contract),
        "message": {f["name"]: message[f["name"]] for f in TYPES[primary_type]},
    }


def add_record(kind: int, content_hash: bytes, nonce: int, deadline: int, **dom) -> dict:
    return typed_data(
        "AddRecord", {"kind": kind, "contentHash": content_hash, "nonce": nonce, "deadline": deadline}, **dom
    )


def approve_access(doctor: str, duration: int, record_ids: list[int], nonce: int, deadline: int, **dom) -> dict:
    message = {
        "doctor": str(doctor),
        "duration": duration,
        "recordIds": list(record_ids),
        "nonce": nonce,
        "deadline": deadline,
    }
    return typed_data("ApproveAccess", message, **dom)


def deny_access(doctor: str, nonce: int, deadline: int, **dom) -> dict:
    return typed_data("DenyAccess", {"doctor": str(doctor), "nonce": nonce, "deadline": deadline}, **dom)


def revoke_access(doctor: str, nonce: int, deadline: int, **dom) -> dict:
    return typed_data("RevokeAccess", {"doctor": str(doctor), "nonce": nonce, "deadline": deadline}, **dom)


def revoke_records(doctor: str, record_ids: list[int], nonce: int, deadline: int, **dom) -> dict:
    message = {"doctor": str(doctor), "recordIds": list(record_ids), "nonce": nonce, "deadline": deadline}
    return typed_data("RevokeRecords", message, **dom)


def approve_extension(doctor: str, extra: int, generation: int, nonce: int, deadline: int, **dom) -> dict:
    """`generation` names the grant being extended (the 4th value of `getGrant`)."""
    message = {"doctor": str(doctor), "extra": extra, "generation": generation, "nonce": nonce, "deadline": deadline}
    return typed_data("ApproveExtension", message, **dom)


def approve_records(
    doctor: str, duration: int, start_word: int, words: list[int], nonce: int, deadline: int, **dom
) -> dict:
    message = {
        "doctor": str(doctor),
        "duration": duration,
        "startWord": start_word,
        "words": list(words),
        "nonce": nonce,
        "deadline": deadline,
    }
    return typed_data("ApproveRecords", message, **dom)


def approve_write(doctor: str, duration: int, nonce: int, deadline: int, **dom) -> dict:
    message = {"doctor": str(doctor), "duration": duration, "nonce": nonce, "deadline": deadline}
    return typed_data("ApproveWrite", message, **dom)


def revoke_write(doctor: str, nonce: int, deadline: int, **dom) -> dict:
    return typed_data("RevokeWrite", {"doctor": str(doctor), "nonce": nonce, "deadline": deadline}, **dom)


def add_record_as_doctor(doctor: str, kind: int, content_hash: bytes, nonce: int, deadline: int, **dom) -> dict:
    message = {"doctor": str(doctor), "kind": kind, "contentHash": content_hash, "nonce": nonce, "deadline": deadline}
    return typed_data("AddRecordAsDoctor", message, **dom)


def invalidate_nonce(account: str, nonce: int, deadline: int, **dom) -> dict:
    return typed_data("InvalidateNonce", {"account": str(account), "nonce": nonce, "deadline": deadline}, **dom)


def bitmap(record_ids: list[int], start_word: int = 0, n_words: int | None = None) -> list[int]:
    """The `words` argument of `approveRecords` that selects `record_ids` from word `start_word` on."""
    top = max(record_ids, default=start_word * 256) // 256
    n_words = top - start_word + 1 if n_words is None else n_words
    words = [0] * n_words
    for record_id in record_ids:
        word = record_id // 256 - start_word
        words[word] |= 1 << (record_id % 256)
    return words


def request_access(doctor: str, nonce: int, deadline: int, **dom) -> dict:
    return typed_data("RequestAccess", {"doctor": str(doctor), "nonce": nonce, "deadline": deadline}, **dom)


def request_extension(doctor: str, extra: int, nonce: int, deadline: int, **dom) -> dict:
    message = {"doctor": str(doctor), "extra": extra, "nonce": nonce, "deadline": deadline}
    return typed_data("RequestExtension", message, **dom)


def dev_private_key(index: int) -> bytes:
    """Private key of Anvil's (and ape's test) dev account `index` (m/44'/60'/0'/0/index)."""
    Account.enable_unaudited_hdwallet_features()
    return bytes(Account.from_mnemonic(DEV_MNEMONIC, account_path=f"m/44'/60'/0'/0/{index}").key)


def sign(private_key: bytes, payload: dict) -> bytes:
    """65-byte r || s || v signature over the typed data."""
    return bytes(Account.sign_typed_data(private_key, full_message=payload).signature)
