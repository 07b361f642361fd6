"""What a bill leaves behind: its FHIR PaymentReconciliation receipt and its audit-trail entries.

Both are derived from public chain data (the bill's events) and the bills index only: no key, no
record content. The audit entries have the shape of the timeline's chain events (services/audit.py),
so the patient's timeline and the issuer's bill timeline show `bill_issued`, `bill_paid`,
`bill_refunded` and `bill_cancelled` beside the vault's events.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ..container import Services
from ..db.bills import BillDoc
from ..domain_errors import Conflict
from ..fhir.payment import ReceiptInput, ReceiptPayment, payment_reconciliation
from . import bills
from .audit import TimelineEntry, newest_first

BILL_ACTIONS = {
    "BillIssued": "bill_issued",
    "BillPaid": "bill_paid",
    "BillRefunded": "bill_refunded",
    "BillCancelled": "bill_cancelled",
}


def _receipt(services: Services, served: bills.ServedBill, vault: str) -> dict[str, Any] | None:
    paid = [log for log in served.logs if log.name == "BillPaid"]
    if not paid:
        return None
    payments = [
        ReceiptPayment(tx_hash=log.tx_hash, payer=log.args["payer"], amount=int(log.args["amount"]),
                       at=datetime.fromtimestamp(log.timestamp, UTC) if log.timestamp is not None else None)
        for log in paid
    ]
    doc = served.doc
    return payment_reconciliation(ReceiptInput(
        bill_id=doc.bill_id, chain_id=services.chain_id, vault=vault, record_id=doc.record_id, payee=doc.payee,
        symbol=served.token.symbol, decimals=served.token.decimals,
        created=payments[-1].at or datetime.now(UTC), payments=payments,
    ))


async def receipt(services: Services, caller: str, bill_id: str) -> dict[str, Any]:
    """The bill's PaymentReconciliation; 409 `bill_not_paid` before its first payment."""
    served = await bills.serve(services, await bills.bill_for(services, caller, bill_id))
    document = _receipt(services, served, await services.chain.vault_address(served.doc.patient))
    if document is None:
        raise Conflict("bill_not_paid", "the bill has no payment yet: no receipt")
    return document


async def patient_receipts(services: Services, patient: str) -> list[dict[str, Any]]:
    """A PaymentReconciliation per bill of `patient` with a payment (for the FHIR export); none when
    bills are not configured."""
    if services.bill_chain is None:
        return []
    vault = await services.chain.vault_address(patient)
    out = []
    for doc in await services.bills.for_patient(patient):
        document = _receipt(services, await bills.serve(services, doc), vault)
        if document is not None:
            out.append(document)
    return out


# ----------------------------------------------------------------------------- audit


def audit_entries(
    served: bills.ServedBill, contract: str, doctor_names: dict[str, str] | None = None
) -> list[TimelineEntry]:
    """The bill's events as timeline entries. `token_decimals` lets the trail say "420 tUSD" rather than
    base units; `doctor_name` (from `doctor_names`: lower-case address -> profile name) lets it say
    "Dr X asked you to pay", as the other entries do."""
    doc: BillDoc = served.doc
    issuer_name = (doctor_names or {}).get(doc.issuer.lower())
    entries = []
    for log in served.logs:
        details: dict[str, Any] = {
            "bill_id": doc.bill_id, "token": served.token.address, "token_symbol": served.token.symbol,
            "token_decimals": served.token.decimals, "payee": doc.payee, "issuer": doc.issuer,
            "amount": str(log.args.get("amount", doc.amount)) if log.name != "BillCancelled" else str(doc.amount),
        }
        if log.name == "BillPaid":
            details["payer"] = log.args["payer"]
            details["partial"] = bool(log.args["partialPayment"])
        if issuer_name:
            details["doctor_name"] = issuer_name
        body = {
            "id": f"{log.tx_hash}:{log.log_index}", "source": "chain", "event": log.name,
            "action": BILL_ACTIONS[log.name], "patient": doc.patient, "doctor": doc.issuer,
            "record_ids": [doc.record_id], "cids": None,
            "timestamp": datetime.fromtimestamp(log.timestamp, UTC).isoformat() if log.timestamp is not None else None,
            "timestamp_unix": log.timestamp, "block_number": log.block_number, "block_hash": log.block_hash,
            "tx_hash": log.tx_hash, "log_index": log.log_index, "contract": contract, "details": details,
        }
        entries.append(TimelineEntry((float(log.timestamp or 0), log.block_number, log.log_index), body))
    return entries


async def patient_bill_entries(services: Services, patient: str) -> list[TimelineEntry]:
    """The bill events of `patient`'s bills (none when bills are not configured)."""
    if services.bill_chain is None:
        return []
    contract = services.bill_chain.address
    docs = await services.bills.for_patient(patient)
    names = await services.profiles.doctor_names(d.issuer for d in docs)
    return [e for served in await bills.serve_all(services, docs) for e in audit_entries(served, contract, names)]


async def account_bill_timeline(services: Services, account: str) -> dict[str, Any]:
    """The bill events of every bill `account` is the patient, issuer or payee of, newest first."""
    chain = bills.bills_chain(services)
    docs = {d.bill_id: d for d in [*await services.bills.for_patient(account),
                                   *await services.bills.for_issuer_or_payee(account)]}
    names = await services.profiles.doctor_names(d.issuer for d in docs.values())
    entries = [e for served in await bills.serve_all(services, docs.values()) for e in audit_entries(served, chain.address, names)]
    events = newest_first(entries)
    return {"account": account, "total": len(events), "events": events}
