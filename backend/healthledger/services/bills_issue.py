"""Issuing and cancelling bills with the issuer's EIP-712 signature, relayed (a doctor needs no ETH).

Issue: the typed data is only handed out when the call would succeed now (an `eth_call` of
`issueBill` from the issuer: a live write grant or an approved clinic, a valid payee and due date)
and the record is a bill record of that patient; the signed payload is rebuilt from its message and
checked (domain, signer, deadline, nonce) before the relayer spends gas, then relayed as
`issueBillBySig`; the BillIssued event of the receipt is indexed (db/bills.py).
"""

from __future__ import annotations

from typing import Any

from eth_utils import to_checksum_address

from ..chain.bill_typed_data import bill_domain, build, for_json, rebuild
from ..chain.bills import ETH
from ..chain.relayer import TransactionReverted
from ..chain.typed_data import recover_typed_data_signer
from ..container import Services
from ..domain_errors import Conflict, InvalidInput, NotAllowed, Unprocessable
from ..record_kinds import RECORD_KINDS
from ..validation import address as checked_address
from . import bills
from .bills_index import doc_from_log
from .deadlines import can_still_land, issue_deadline
from .signatures import parse_signature


def _domain(services: Services) -> dict[str, Any]:
    return bill_domain(services.chain_id, bills.bills_chain(services).address)


def _token(services: Services, token: str) -> str:
    """ETH (the zero address) or the configured token; 400 `unsupported_token` for any other."""
    address = to_checksum_address(checked_address(token, "token"))
    configured = services.settings.bill_token_address
    if address != ETH and not (configured and address.lower() == configured.lower()):
        raise InvalidInput("unsupported_token", "bills are paid in ETH (0x000…000) or the configured token")
    return address


async def _require_bill_record(services: Services, patient: str, record_id: int) -> None:
    record = await services.chain.get_record(patient, record_id)
    if record is None or record.kind != RECORD_KINDS["bill"]:
        raise Unprocessable("not_a_bill_record", f"record {record_id} is not a bill record of this patient")


async def _preflight_issue(services: Services, issuer: str, message: dict[str, Any]) -> None:
    chain = bills.bills_chain(services)
    data = chain.encode("issueBill", message["patient"], message["payee"], message["token"], message["amount"],
                        message["dueDate"], message["recordId"])
    revert = await chain.preflight(data, issuer)
    if revert is not None:
        raise bills.revert_error(TransactionReverted("issueBill", revert))


async def check_signed(services: Services, payload: dict[str, Any], signature: str, signer: str) -> bytes:
    """The signature's bytes if `signer` signed `payload` and its deadline can still land (422 otherwise)."""
    raw = parse_signature(signature, "signature")
    try:
        valid = recover_typed_data_signer(payload, raw) == to_checksum_address(signer)
    except ValueError:
        valid = False
    if not valid:
        raise Unprocessable("invalid_signature", f"the signature is not yours over this {payload['primaryType']}")
    if not await can_still_land(services.chain, int(payload["message"]["deadline"]),
                                services.settings.deadline_margin_seconds):
        raise Unprocessable("signature_expired", "the signature's deadline has passed or is too close: sign again")
    return raw


def rebuilt_payload(primary_type: str, domain: dict[str, Any], payload: Any) -> dict[str, Any]:
    """The client's payload rebuilt from its message on the domain the server expects (400 `invalid_payload`
    when it does not fit): what is checked and relayed is never the client's own types or domain."""
    try:
        return rebuild(primary_type, domain, payload)
    except ValueError as exc:
        raise InvalidInput("invalid_payload", str(exc)) from None


async def check_nonce(services: Services, account: str, nonce: int) -> None:
    """409 `stale_nonce` unless `nonce` is `account`'s current BillPayments nonce (checked before relaying:
    a stale one would only revert, at the relayer's cost)."""
    current = await bills.bills_chain(services).nonce_of(account)
    if nonce != current:
        raise Conflict("stale_nonce", f"this signature's nonce {nonce} is not your current one ({current}): sign again")


# ----------------------------------------------------------------------------- issue


async def issue_typed_data(services: Services, issuer: str, body: dict[str, Any]) -> dict[str, Any]:
    chain = bills.bills_chain(services)
    patient = checked_address(body["patientAddress"], "patientAddress")
    payee = checked_address(body.get("payee") or issuer, "payee")
    amount = bills.parse_amount(body["amount"])
    record_id = int(body["recordId"])
    message = {
        "patient": patient, "payee": payee, "token": _token(services, body["token"]), "amount": amount,
        "dueDate": int(body["dueDate"]), "recordId": record_id, "issuer": to_checksum_address(issuer),
        "nonce": await chain.nonce_of(issuer),
        "deadline": await issue_deadline(services.chain, services.settings.signature_ttl_seconds),
    }
    await _require_bill_record(services, patient, record_id)
    await _preflight_issue(services, issuer, message)
    return {"payload": for_json(build("IssueBill", _domain(services), message))}


async def issue(services: Services, issuer: str, payload: Any, signature: str) -> tuple[int, dict[str, Any]]:
    """(201, Bill) once mined and indexed; (202, pending) when the wait ran out."""
    chain = bills.bills_chain(services)
    expected = rebuilt_payload("IssueBill", _domain(services), payload)
    message = expected["message"]
    if message["issuer"] != to_checksum_address(issuer):
        raise NotAllowed("not_issuer", "the IssueBill payload names another issuer")
    _token(services, message["token"])
    raw = await check_signed(services, expected, signature, issuer)
    data, key = chain.issue_by_sig(message, raw), f"bill:issue:{issuer.lower()}:{message['nonce']}"
    if not await services.relay_queue.has_call(key, data):  # a retry (after a 202) joins its job
        await _require_bill_record(services, message["patient"], message["recordId"])
        await check_nonce(services, issuer, message["nonce"])
    result = await bills.relay(services, "issueBillBySig", data, key)
    if isinstance(result, dict):
        return 202, result
    log, _terms = chain.issued_from_receipt(result.receipt)
    [log] = await chain.with_timestamps([log])
    doc = await services.bills.add(doc_from_log(log))
    return 201, (await bills.serve(services, doc)).body


# ----------------------------------------------------------------------------- cancel


async def cancel_typed_data(services: Services, issuer: str, bill_id: str) -> dict[str, Any]:
    chain = bills.bills_chain(services)
    doc = await bills.bill_for(services, issuer, bill_id, roles=("issuer",))
    state = await chain.bill_state(int(doc.bill_id, 16))
    if state.status != "open":
        raise Conflict("bill_not_open", "the bill is not open (paid in full or cancelled)")
    if state.paid:
        raise Conflict("bill_partly_paid", "the bill has a payment: refund it instead of cancelling")
    message = {"billId": int(doc.bill_id, 16), "issuer": doc.issuer, "nonce": await chain.nonce_of(issuer),
               "deadline": await issue_deadline(services.chain, services.settings.signature_ttl_seconds)}
    return {"payload": for_json(build("CancelBill", _domain(services), message))}


async def cancel(services: Services, issuer: str, bill_id: str, payload: Any, signature: str) -> tuple[int, dict[str, Any]]:
    chain = bills.bills_chain(services)
    doc = await bills.bill_for(services, issuer, bill_id, roles=("issuer",))
    expected = rebuilt_payload("CancelBill", _domain(services), payload)
    message = expected["message"]
    if message["billId"] != int(doc.bill_id, 16) or message["issuer"] != doc.issuer:
        raise InvalidInput("invalid_payload", "the CancelBill payload is for another bill or issuer")
    raw = await check_signed(services, expected, signature, issuer)
    data = chain.cancel_by_sig(bills.terms_of(doc), message["nonce"], message["deadline"], raw)
    key = f"bill:cancel:{doc.bill_id}:{message['nonce']}"
    if not await services.relay_queue.has_call(key, data):  # a retry (after a 202) joins its job
        await check_nonce(services, issuer, message["nonce"])
    result = await bills.relay(services, "cancelBillBySig", data, key)
    if isinstance(result, dict):
        return 202, result
    return 200, (await bills.serve(services, doc)).body
