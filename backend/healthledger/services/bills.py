"""Bills: who may see one, how one is served (terms from the index, state and payments from the chain),
the billing configuration, lists, and relaying a bill action through the shared queue.

Why state is read on every serve: the money is on chain and payments may come from the patient's own
wallet (ETH), never through this server; copying paid/refunded into MongoDB would only make a second,
possibly stale, truth. The terms never change, so they come from the `bills` index (db/bills.py).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from eth_utils import to_checksum_address

from ..chain.bills import ETH, BillLog, BillsChain, BillTerms, TokenInfo, bill_id_hex
from ..chain.relayer import TransactionReverted, TransactionTimeout, TxResult
from ..chain.relayer_types import _PreparedCall as PreparedCall
from ..concurrency import gather_in_order
from ..container import Services
from ..db.bills import BillDoc
from ..domain_errors import (
    Conflict,
    DomainError,
    InvalidInput,
    NotAllowed,
    NotFound,
    ServiceUnavailable,
    Unprocessable,
)
from ..validation import address as checked_address

# Bills served at once for a list (each is a few chain reads): overlaps their waits, spares the node.
LIST_CONCURRENCY = 4

# A contract refusal -> (error kind, code, message) for the client.
REVERTS: dict[str, tuple[type[DomainError], str, str]] = {
    "AmountExceedsDue": (Conflict, "amount_exceeds_due", "the amount is more than what remains due"),
    "BillNotOpen": (Conflict, "bill_not_open", "the bill is not open (paid in full or cancelled)"),
    "SignatureExpired": (Unprocessable, "signature_expired", "the signature's deadline has passed: sign again"),
    "InvalidSignature": (Unprocessable, "invalid_signature", "the chain rejected the signature"),
    "ERC20InsufficientAllowance": (Unprocessable, "invalid_signature", "the token did not accept the permit signature"),
    "ERC2612InvalidSigner": (Unprocessable, "invalid_signature", "the token did not accept the permit signature"),
    "ERC2612ExpiredSignature": (Unprocessable, "signature_expired", "the permit's deadline has passed: sign again"),
    "ERC20InsufficientBalance": (Conflict, "insufficient_balance", "the payer does not hold enough of the token"),
    "InvalidAccountNonce": (Conflict, "stale_nonce", "the signature's nonce was already used: sign again"),
    "NotAuthorisedIssuer": (NotAllowed, "not_authorised_issuer", "you may not bill this patient now (no live write grant)"),
    "InvalidPayee": (Unprocessable, "invalid_payee", "the payee must be you or a clinic the registrar approved"),
    "DueDateInPast": (Unprocessable, "due_date_in_past", "the due date has passed"),
    "ZeroAmount": (InvalidInput, "invalid_amount", "the amount must be more than zero"),
    "WrongPaymentMethod": (Unprocessable, "wrong_payment_method", "the bill is payable in the other currency"),
    "NotPayer": (NotAllowed, "not_payer", "only the bill's patient pays it"),
    "NotIssuer": (NotAllowed, "not_issuer", "only the bill's issuer cancels it"),
    "BillPartlyPaid": (Conflict, "bill_partly_paid", "the bill has a payment: refund it instead of cancelling"),
    "ClinicStatusUnchanged": (Conflict, "clinic_status_unchanged", "the clinic already has that status"),
    "NotRegistrar": (ServiceUnavailable, "relayer_not_registrar", "the relayer does not hold the registrar role"),
}
# Codes the relayed bill routes can answer with (for the OpenAPI description).
REVERT_CODES: dict[int, tuple[str, ...]] = {}
for _kind, _code, _ in REVERTS.values():
    _status = {Conflict: 409, Unprocessable: 422, NotAllowed: 403, InvalidInput: 400, ServiceUnavailable: 503}[_kind]
    REVERT_CODES[_status] = tuple(dict.fromkeys((*REVERT_CODES.get(_status, ()), _code)))
REVERT_CODES[409] = (*REVERT_CODES[409], "transaction_rejected")


def revert_error(exc: TransactionReverted) -> DomainError:
    kind, code, message = REVERTS.get(exc.error_name or "", (Conflict, "transaction_rejected", ""))
    return kind(code, message or f"the chain rejected the action ({exc.error_name or 'reverted'})")


def bills_chain(services: Services) -> BillsChain:
    """The BillPayments adapter; 503 `bills_unavailable` when no BILL_PAYMENTS_ADDRESS is configured."""
    if services.bill_chain is None:
        raise ServiceUnavailable("bills_unavailable", "bills are not configured on this server (BILL_PAYMENTS_ADDRESS)")
    return services.bill_chain


def parse_bill_id(value: str) -> str:
    """A bill id as 0x + 64 lower-case hex (400 `invalid_bill_id` otherwise)."""
    text = value.lower()
    if not (text.startswith("0x") and len(text) == 66 and all(c in "0123456789abcdef" for c in text[2:])):
        raise InvalidInput("invalid_bill_id", "a bill id is 0x followed by 64 hex digits")
    return text


def parse_amount(value: str | None, field: str = "amount") -> int | None:
    """A decimal string of base units (uint256) as an int; None when absent."""
    if value is None:
        return None
    if not isinstance(value, str) or not value.isdigit() or len(value) > 78 or int(value) >= 2**256:
        raise InvalidInput("invalid_amount", f"{field} must be a decimal string of base units")
    return int(value)


def terms_of(doc: BillDoc) -> BillTerms:
    return BillTerms(patient=doc.patient, payee=doc.payee, issuer=doc.issuer, token=doc.token, amount=doc.amount,
                     due_date=doc.due_date, record_id=doc.record_id, nonce=doc.nonce)


async def bill_for(services: Services, caller: str, bill_id: str, *, roles: tuple[str, ...] = ("patient", "issuer", "payee")) -> BillDoc:
    """The indexed bill if `caller` is one of its `roles` (404 `bill_not_found` otherwise: a stranger
    does not learn that the bill exists)."""
    bills_chain(services)
    doc = await services.bills.get(parse_bill_id(bill_id))
    who = caller.lower()
    if doc is None or not any(getattr(doc, role).lower() == who for role in roles):
        raise NotFound("bill_not_found", "no such bill for you")
    return doc


def _at(timestamp: int | None) -> datetime | None:
    return datetime.fromtimestamp(timestamp, UTC) if timestamp is not None else None


def token_json(info: TokenInfo) -> dict[str, Any]:
    return {"address": info.address, "symbol": info.symbol, "name": info.name, "decimals": info.decimals,
            "permit": info.permit}


@dataclass(frozen=True)
class ServedBill:
    """A bill as served, with its logs (the receipt and audit reuse them)."""

    doc: BillDoc
    token: TokenInfo
    body: dict[str, Any]
    logs: list[BillLog]


async def serve(services: Services, doc: BillDoc) -> ServedBill:
    """The `Bill` body: terms from the index, state and events from the chain now."""
    chain = bills_chain(services)
    bill_id = int(doc.bill_id, 16)
    state = await chain.bill_state(bill_id)
    logs = await chain.bill_logs(bill_id, doc.issued_block)
    token = await chain.token_info(doc.token)
    remaining = doc.amount - state.paid if state.status == "open" else 0
    payments = [
        {"txHash": log.tx_hash, "payer": log.args["payer"], "amount": str(log.args["amount"]),
         "partial": bool(log.args["partialPayment"]), "blockNumber": log.block_number, "at": _at(log.timestamp)}
        for log in logs if log.name == "BillPaid"
    ]
    refunds = [
        {"txHash": log.tx_hash, "amount": str(log.args["amount"]), "blockNumber": log.block_number,
         "at": _at(log.timestamp)}
        for log in logs if log.name == "BillRefunded"
    ]
    cancelled = next((log.tx_hash for log in logs if log.name == "BillCancelled"), None)
    status = state.status if state.status in ("open", "paid", "cancelled") else "open"
    body = {
        "billId": doc.bill_id, "patient": doc.patient, "payee": doc.payee, "issuer": doc.issuer,
        "token": token_json(token), "amount": str(doc.amount), "paid": str(state.paid),
        "refunded": str(state.refunded), "remaining": str(remaining), "dueDate": doc.due_date,
        "recordId": doc.record_id, "status": status, "overdue": status == "open" and doc.due_date < time.time(),
        "issuedTx": doc.issued_tx, "issuedBlock": doc.issued_block, "issuedAt": doc.issued_at,
        "payments": payments, "refunds": refunds, "cancelledTx": cancelled,
    }
    return ServedBill(doc=doc, token=token, body=body, logs=logs)


async def serve_all(services: Services, docs: Iterable[BillDoc]) -> list[ServedBill]:
    """`serve` for many bills in their order, LIST_CONCURRENCY at a time (a list or a timeline of
    bills waited for each bill's chain reads in turn); the first failure in order is raised once
    none is still running."""
    gate = asyncio.Semaphore(LIST_CONCURRENCY)

    async def one(doc: BillDoc) -> ServedBill:
        async with gate:
            return await serve(services, doc)

    return await gather_in_order(*(one(doc) for doc in docs))


async def get_bill(services: Services, caller: str, bill_id: str) -> dict[str, Any]:
    return (await serve(services, await bill_for(services, caller, bill_id))).body


async def config(services: Services) -> dict[str, Any]:
    """BillPayments' address, the chain id and the payable tokens (ETH and the configured one)."""
    chain = bills_chain(services)
    tokens = [await chain.token_info(ETH)]
    if services.settings.bill_token_address:
        tokens.append(await chain.token_info(services.settings.bill_token_address))
    return {"billPayments": chain.address, "chainId": services.chain_id, "tokens": [token_json(t) for t in tokens]}


# ----------------------------------------------------------------------------- relaying


def pending(tx_hash: str) -> dict[str, Any]:
    return {"status": "pending", "txHash": tx_hash}


async def relay(services: Services, action: str, data: str, key: str) -> TxResult | dict[str, Any]:
    """Queue a BillPayments call (one live job per `key`) and wait for it: its TxResult, or the
    202 `pending` body when the wait ran out after it was sent; contract refusals as 4xx errors."""
    chain = bills_chain(services)
    call = PreparedCall(action=action, to=chain.address, data=data, gas=0)
    try:
        job = await services.relay_queue.submit_call(call, key=key)
        return await services.relay_queue.transact(job, services.settings.tx_timeout_seconds)
    except TransactionReverted as exc:
        raise revert_error(exc) from exc
    except TransactionTimeout as exc:
        return pending(exc.tx_hash)


async def set_clinic(services: Services, clinic: str, approved: bool) -> dict[str, Any]:
    """A registrar approves or revokes a clinic; the relayer (a factory registrar) sends it."""
    chain = bills_chain(services)
    address = to_checksum_address(checked_address(clinic, "clinic"))
    fn = "approveClinic" if approved else "revokeClinic"
    result = await relay(services, fn, chain.encode(fn, address), f"bill:clinic:{address.lower()}:{int(approved)}:{time.time_ns()}")
    if isinstance(result, dict):
        return {"clinic": address, "approved": approved, "txHash": result["txHash"], "status": "pending"}
    return {"clinic": address, "approved": approved, "txHash": result.tx_hash, "status": "mined"}


__all__ = [
    "REVERT_CODES", "ServedBill", "bill_for", "bill_id_hex", "bills_chain", "config", "get_bill",
    "parse_amount", "parse_bill_id", "pending", "relay", "revert_error", "serve", "set_clinic", "terms_of",
]
