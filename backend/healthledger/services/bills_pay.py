"""Paying bills: a token bill gaslessly (EIP-2612 permit + EIP-712 PayBill, relayed as
`payBillWithPermit`), an ETH bill from the patient's wallet (the transaction is built here so the
contract ABI stays in the backend), refunds from the payee's wallet, and `sync` once a wallet
transaction is mined.

Why so many checks before relaying: the relayer pays gas for whatever it sends, so a payment that
would revert (bill not open, too much, no balance, a stale nonce, a signature by someone else, a
deadline that cannot land) is refused here with its own 4xx; the contract checks it all again.
"""

from __future__ import annotations

from typing import Any

from eth_utils import to_checksum_address

from ..chain.bill_typed_data import bill_domain, build, for_json
from ..chain.bills import ETH, BillState
from ..container import Services
from ..db.bills import BillDoc
from ..domain_errors import Conflict, InvalidInput, Unprocessable
from . import bills
from .bills_issue import check_nonce, check_signed, rebuilt_payload
from .deadlines import issue_deadline

MAX_DEADLINE_SECONDS = 7 * 24 * 3600


async def _open_state(services: Services, doc: BillDoc) -> BillState:
    state = await bills.bills_chain(services).bill_state(int(doc.bill_id, 16))
    if state.status != "open":
        raise Conflict("bill_not_open", "the bill is not open (paid in full or cancelled)")
    return state


def _amount(requested: int | None, remaining: int) -> int:
    amount = remaining if requested is None else requested
    if amount == 0:
        raise InvalidInput("invalid_amount", "the amount must be more than zero")
    if amount > remaining:
        raise Conflict("amount_exceeds_due", f"the amount is more than the {remaining} that remains due")
    return amount


def _require_token_bill(doc: BillDoc) -> None:
    if doc.token == ETH:
        raise Unprocessable("wrong_payment_method", "this bill is paid in ETH from your wallet: use /pay/transaction")


def _require_eth_bill(doc: BillDoc) -> None:
    if doc.token != ETH:
        raise Unprocessable("wrong_payment_method", "this bill is paid in its token with a permit: use /pay/typed-data")


async def pay_typed_data(
    services: Services, patient: str, bill_id: str, amount: str | None, deadline_seconds: int | None
) -> dict[str, Any]:
    """The Permit (token's domain) and PayBill (BillPayments' domain) payloads, with one deadline and amount."""
    chain = bills.bills_chain(services)
    doc = await bills.bill_for(services, patient, bill_id, roles=("patient",))
    _require_token_bill(doc)
    state = await _open_state(services, doc)
    value = _amount(bills.parse_amount(amount), doc.amount - state.paid)
    ttl = deadline_seconds or services.settings.signature_ttl_seconds
    if not 0 < ttl <= MAX_DEADLINE_SECONDS:
        raise InvalidInput("invalid_deadline", f"deadlineSeconds must be in (0, {MAX_DEADLINE_SECONDS}]")
    deadline = await issue_deadline(services.chain, ttl)
    permit = build("Permit", await chain.token_domain(doc.token), {
        "owner": doc.patient, "spender": chain.address, "value": value,
        "nonce": await chain.token_nonce(doc.token, doc.patient), "deadline": deadline,
    })
    pay = build("PayBill", bill_domain(services.chain_id, chain.address), {
        "billId": int(doc.bill_id, 16), "amount": value, "nonce": await chain.nonce_of(doc.patient), "deadline": deadline,
    })
    return {"permit": for_json(permit), "payBill": for_json(pay)}


async def pay(services: Services, patient: str, bill_id: str, permit: dict[str, Any], pay_bill: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """(200, Bill) once the relayed payBillWithPermit is mined; (202, pending) when the wait ran out."""
    chain = bills.bills_chain(services)
    doc = await bills.bill_for(services, patient, bill_id, roles=("patient",))
    _require_token_bill(doc)
    pay_payload = rebuilt_payload("PayBill", bill_domain(services.chain_id, chain.address), pay_bill.get("payload"))
    permit_payload = rebuilt_payload("Permit", await chain.token_domain(doc.token), permit.get("payload"))
    pm, bm = permit_payload["message"], pay_payload["message"]
    if bm["billId"] != int(doc.bill_id, 16):
        raise InvalidInput("invalid_payload", "the PayBill payload is for another bill")
    if (pm["owner"] != doc.patient or pm["spender"] != chain.address or pm["value"] != bm["amount"]
            or pm["deadline"] != bm["deadline"]):
        raise InvalidInput("invalid_payload", "the Permit must be the patient's, to BillPayments, for the PayBill's amount and deadline")
    pay_sig = await check_signed(services, pay_payload, str(pay_bill.get("signature") or ""), patient)
    permit_sig = await check_signed(services, permit_payload, str(permit.get("signature") or ""), patient)
    amount = bm["amount"]
    data = chain.pay_with_permit(bills.terms_of(doc), amount, bm["deadline"], permit_sig, doc.patient, pay_sig)
    key = f"bill:pay:{doc.patient.lower()}:{bm['nonce']}"
    if not await services.relay_queue.has_call(key, data):  # a retry (after a 202) joins its job
        state = await _open_state(services, doc)
        _amount(amount, doc.amount - state.paid)
        if await chain.token_balance(doc.token, doc.patient) < amount:
            raise Conflict("insufficient_balance", "you do not hold enough of the token for this payment")
        await check_nonce(services, patient, bm["nonce"])
    result = await bills.relay(services, "payBillWithPermit", data, key)
    if isinstance(result, dict):
        return 202, result
    return 200, (await bills.serve(services, doc)).body


def _transaction(services: Services, to: str, data: str, value: int) -> dict[str, Any]:
    return {"to": to_checksum_address(to), "data": data, "value": str(value), "chainId": services.chain_id}


async def pay_transaction(services: Services, patient: str, bill_id: str, amount: str | None) -> dict[str, Any]:
    """The patient's own `payBill` transaction of an ETH bill (MetaMask shows the amount)."""
    chain = bills.bills_chain(services)
    doc = await bills.bill_for(services, patient, bill_id, roles=("patient",))
    _require_eth_bill(doc)
    state = await _open_state(services, doc)
    value = _amount(bills.parse_amount(amount), doc.amount - state.paid)
    return _transaction(services, chain.address, chain.pay_eth(bills.terms_of(doc)), value)


async def refund_transactions(services: Services, payee: str, bill_id: str, amount: str | None) -> dict[str, Any]:
    """The payee's refund: token bill `approve` then `refund`; ETH bill `refund` with the value."""
    chain = bills.bills_chain(services)
    doc = await bills.bill_for(services, payee, bill_id, roles=("payee",))
    state = await chain.bill_state(int(doc.bill_id, 16))
    refundable = state.paid - state.refunded
    requested = bills.parse_amount(amount)
    value = refundable if requested is None else requested
    if value == 0:
        raise Conflict("nothing_to_refund", "nothing paid on this bill is left to refund")
    if value > refundable:
        raise Conflict("refund_exceeds_paid", f"at most {refundable} can be refunded")
    refund = chain.refund(bills.terms_of(doc), value)
    if doc.token == ETH:
        return {"transactions": [_transaction(services, chain.address, refund, value)]}
    return {"transactions": [
        _transaction(services, doc.token, chain.approve(doc.token, value), 0),
        _transaction(services, chain.address, refund, 0),
    ]}


async def sync(services: Services, caller: str, bill_id: str, tx_hash: str) -> dict[str, Any]:
    """The bill once the wallet transaction `tx_hash` has a receipt (409 `transaction_pending` before)."""
    doc = await bills.bill_for(services, caller, bill_id)
    text = tx_hash.lower()
    if not (text.startswith("0x") and len(text) == 66 and all(c in "0123456789abcdef" for c in text[2:])):
        raise InvalidInput("invalid_tx_hash", "txHash is 0x followed by 64 hex digits")
    if await services.chain.receipt_or_none(text) is None:
        raise Conflict("transaction_pending", "the transaction is not mined yet: sync again shortly")
    return (await bills.serve(services, doc)).body
