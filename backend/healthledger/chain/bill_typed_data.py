"""EIP-712 payloads of bills: IssueBill, CancelBill and PayBill on BillPayments' domain, and the
EIP-2612 Permit on the token's own domain.

Why here and in the style of chain/typed_data.py: the wallet signs exactly the dict built here
(`eth_signTypedData_v4`), the backend checks the signature against a payload it rebuilds from the
message's fields (so nothing but these types can be slipped in), and the contract recomputes the
same digest. The type strings must match BillPayments' `*_TYPEHASH` constants and EIP-2612's
`Permit` character for character (tests/backend/unit/test_bill_typed_data.py checks them against the
compiled contract). Integers travel as ints, like the record actions' payloads.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from eth_utils import keccak, to_checksum_address

from .typed_data import EIP712_DOMAIN_TYPE, checked_address, checked_uint, type_string

__all__ = ["BILL_DOMAIN_NAME", "BILL_DOMAIN_VERSION", "BILL_TYPES", "bill_domain", "build", "encode_type", "rebuild"]

BILL_DOMAIN_NAME = "BillPayments"
BILL_DOMAIN_VERSION = "1"


def _fields(spec: str) -> list[dict[str, str]]:
    return [{"name": n, "type": t} for t, n in (part.split(" ") for part in spec.split(","))]


BILL_TYPES: dict[str, list[dict[str, str]]] = {
    "IssueBill": _fields(
        "address patient,address payee,address token,uint256 amount,uint256 dueDate,uint256 recordId,"
        "address issuer,uint256 nonce,uint256 deadline"
    ),
    "CancelBill": _fields("uint256 billId,address issuer,uint256 nonce,uint256 deadline"),
    "PayBill": _fields("uint256 billId,uint256 amount,uint256 nonce,uint256 deadline"),
    "Permit": _fields("address owner,address spender,uint256 value,uint256 nonce,uint256 deadline"),
}


def encode_type(primary_type: str) -> str:
    """The EIP-712 type string of a bill action (BILL_TYPES)."""
    return type_string(primary_type, BILL_TYPES[primary_type])


def typehash(primary_type: str) -> bytes:
    """keccak256 of `encode_type`: must equal BillPayments' matching ``*_TYPEHASH`` (or EIP-2612's)."""
    return keccak(text=encode_type(primary_type))


def bill_domain(chain_id: int, bill_payments: str) -> dict[str, Any]:
    """BillPayments' EIP-712 domain (name "BillPayments", version "1")."""
    return {"name": BILL_DOMAIN_NAME, "version": BILL_DOMAIN_VERSION, "chainId": int(chain_id),
            "verifyingContract": to_checksum_address(bill_payments)}


def _value(kind: str, value: Any, field: str) -> Any:
    """An address or a uint256 checked as the record actions' are; a uint may come as a decimal
    string (`for_json` sends them so)."""
    if kind == "address":
        return checked_address(value, field)
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    return checked_uint(value, field)


def build(primary_type: str, domain: Mapping[str, Any], message: Mapping[str, Any]) -> dict[str, Any]:
    """The complete payload of `primary_type` on `domain`; ValueError names the first field that does not fit."""
    fields = BILL_TYPES[primary_type]
    names = [f["name"] for f in fields]
    if sorted(message) != sorted(names):
        raise ValueError(f"{primary_type} message needs exactly the fields {names}, got {sorted(message)}")
    return {
        "types": {"EIP712Domain": copy.deepcopy(EIP712_DOMAIN_TYPE), primary_type: copy.deepcopy(fields)},
        "domain": dict(domain),
        "primaryType": primary_type,
        "message": {f["name"]: _value(f["type"], message[f["name"]], f["name"]) for f in fields},
    }


def for_json(payload: Mapping[str, Any]) -> dict[str, Any]:
    """`payload` as the API sends it: every uint field of the message as a decimal string.

    Why: a browser parses JSON numbers as doubles, exact only up to 2**53 - 1. A bill id (a hash) and
    an 18-decimal amount are far above that, so a wallet would sign, and the client send back, a
    rounded number (the API then refused the payment). eth_signTypedData_v4 (MetaMask, viem, Anvil,
    eth-account) takes decimal strings for uint fields and signs the same digest, and `rebuild`
    accepts them, so the strings go out and come back unchanged.
    """
    fields = {f["name"]: f["type"] for f in payload["types"][payload["primaryType"]]}
    message = {name: str(value) if fields.get(name, "").startswith("uint") and isinstance(value, int) else value
               for name, value in payload["message"].items()}
    return {**payload, "message": message}


def rebuild(primary_type: str, domain: Mapping[str, Any], payload: Mapping[str, Any]) -> dict[str, Any]:
    """The payload the server expects for a client's `payload`: same message on the expected `domain`
    and types (ValueError when the client's primary type, domain or fields differ)."""
    if not isinstance(payload, Mapping) or payload.get("primaryType") != primary_type:
        raise ValueError(f"expected a {primary_type} payload")
    given = payload.get("domain") or {}
    expected = dict(domain)
    try:
        same = (given.get("name") == expected["name"] and str(given.get("version")) == expected["version"]
                and int(given.get("chainId", -1)) == int(expected["chainId"])
                and to_checksum_address(str(given.get("verifyingContract"))) == expected["verifyingContract"])
    except (ValueError, TypeError):
        same = False
    if not same:
        raise ValueError(f"the {primary_type} payload is not for this contract's EIP-712 domain")
    message = payload.get("message")
    if not isinstance(message, Mapping):
        raise ValueError("the payload has no message")
    return build(primary_type, expected, message)
