"""A paid bill's receipt as an FHIR R4 `PaymentReconciliation`, built from public chain data only.

Why no key is needed: a receipt says who paid how much of which token for which bill record, and
all of that is public on chain (the BillIssued/BillPaid events); the Invoice it settles is named by
its record's anchor identifier (`urn:healthledger:anchor`, the same one the export puts on the
record), not by its content. So the server builds it for any party of the bill, and the patient's
FHIR export Bundle carries one per bill with a payment. Validated with the R4B model the export uses
(PaymentReconciliation did not change between R4 and R4B).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from fhir.resources.R4B.paymentreconciliation import PaymentReconciliation

from .identifiers import ADDRESS_SYSTEM, ANCHOR_SYSTEM, anchor_value

TX_SYSTEM = "urn:ethereum:tx"
BILL_SYSTEM = "urn:healthledger:bill"


@dataclass(frozen=True)
class ReceiptPayment:
    tx_hash: str
    payer: str
    amount: int
    at: datetime | None


@dataclass(frozen=True)
class ReceiptInput:
    bill_id: str
    chain_id: int
    vault: str  # the patient's vault, where the bill record lives
    record_id: int
    payee: str
    symbol: str
    decimals: int
    created: datetime
    payments: list[ReceiptPayment]


def _money(amount: int, decimals: int, symbol: str) -> dict[str, Any]:
    return {"value": Decimal(amount).scaleb(-decimals), "currency": symbol}


def _date(at: datetime | None) -> str:
    return (at or datetime.now(UTC)).astimezone(UTC).date().isoformat()


def payment_reconciliation(data: ReceiptInput) -> dict[str, Any]:
    """The validated PaymentReconciliation (as JSON-ready dict) of a bill with at least one payment."""
    if not data.payments:
        raise ValueError("a receipt needs at least one payment")
    invoice = {"type": "Invoice", "identifier": {"system": ANCHOR_SYSTEM,
                                                 "value": anchor_value(data.chain_id, data.vault, data.record_id)}}
    last = data.payments[-1]
    total = sum(p.amount for p in data.payments)
    document = {
        "resourceType": "PaymentReconciliation",
        "identifier": [{"system": BILL_SYSTEM, "value": f"eip155:{data.chain_id}:{data.bill_id}"}],
        "status": "active",
        "created": data.created.astimezone(UTC).isoformat(),
        "paymentDate": _date(last.at),
        "paymentAmount": _money(total, data.decimals, data.symbol),
        "paymentIdentifier": {"system": TX_SYSTEM, "value": last.tx_hash},
        "request": invoice,
        "outcome": "complete",
        "detail": [
            {
                "identifier": {"system": TX_SYSTEM, "value": p.tx_hash},
                "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/payment-type",
                                     "code": "payment"}]},
                "request": invoice,
                "submitter": {"identifier": {"system": ADDRESS_SYSTEM, "value": p.payer}},
                "payee": {"identifier": {"system": ADDRESS_SYSTEM, "value": data.payee}},
                "date": _date(p.at),
                "amount": _money(p.amount, data.decimals, data.symbol),
            }
            for p in data.payments
        ],
    }
    model = PaymentReconciliation.model_validate(document)
    return model.model_dump(mode="json", by_alias=True, exclude_none=True)


def receipt_entry(receipt: dict[str, Any]) -> dict[str, Any]:
    """A receipt as a Bundle entry (its fullUrl names the bill, which identifies it on this chain)."""
    return {"fullUrl": f"urn:healthledger:bill:{receipt['identifier'][0]['value']}", "resource": receipt}
