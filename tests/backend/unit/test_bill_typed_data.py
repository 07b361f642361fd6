"""Bill typed data and receipts without a chain: type strings against the compiled contracts, the
rebuild that refuses another domain or type, and the PaymentReconciliation built from chain data."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from eth_account import Account
from fhir.resources.R4B.paymentreconciliation import PaymentReconciliation
from healthledger.chain import artifacts
from healthledger.chain.bill_typed_data import (
    bill_domain,
    build,
    for_json,
    rebuild,
    typehash,
)
from healthledger.chain.typed_data import recover_typed_data_signer
from healthledger.fhir.payment import (
    ReceiptInput,
    ReceiptPayment,
    payment_reconciliation,
)

CONTRACT = "0x" + "12" * 20


@pytest.mark.parametrize(("primary", "artifact"), [
    ("IssueBill", "BillPayments"), ("CancelBill", "BillPayments"), ("PayBill", "BillPayments"), ("Permit", "TestUSD"),
])
def test_type_strings_match_the_compiled_contracts(primary: str, artifact: artifacts.ContractName) -> None:
    """A `bytes32 constant = keccak256("...")` is folded into the bytecode: our hash must be in it."""
    assert typehash(primary).hex() in artifacts.load_artifact(artifact).bytecode.lower()


def test_a_signed_payload_is_rebuilt_on_the_expected_domain_only() -> None:
    domain = bill_domain(31337, CONTRACT)
    payload = build("PayBill", domain, {"billId": 7, "amount": "5", "nonce": 0, "deadline": 10})
    assert payload["message"]["amount"] == 5
    signer = Account.create()
    signature = Account.sign_typed_data(signer.key, full_message=payload).signature
    assert recover_typed_data_signer(rebuild("PayBill", domain, payload), signature) == signer.address
    with pytest.raises(ValueError, match="domain"):
        rebuild("PayBill", bill_domain(1, CONTRACT), payload)
    with pytest.raises(ValueError, match="CancelBill"):
        rebuild("CancelBill", domain, payload)
    with pytest.raises(ValueError, match="exactly the fields"):
        rebuild("PayBill", domain, {**payload, "message": {**payload["message"], "extra": 1}})


def test_payloads_leave_with_uint_fields_as_decimal_strings_and_sign_the_same() -> None:
    """A browser reads JSON numbers as doubles: a bill id (a hash) must travel as a string."""
    domain = bill_domain(31337, CONTRACT)
    bill_id = 2**255 + 12345
    payload = build("PayBill", domain, {"billId": bill_id, "amount": 10**18 + 1, "nonce": 0, "deadline": 10})
    sent = for_json(payload)
    assert sent["message"] == {"billId": str(bill_id), "amount": str(10**18 + 1), "nonce": "0", "deadline": "10"}
    assert sent["domain"] == payload["domain"] and sent["types"] == payload["types"]
    assert rebuild("PayBill", domain, sent) == payload
    signer = Account.create()
    signature = Account.sign_typed_data(signer.key, full_message=sent).signature
    assert recover_typed_data_signer(rebuild("PayBill", domain, sent), signature) == signer.address
    issue = for_json(build("IssueBill", domain, {
        "patient": CONTRACT, "payee": CONTRACT, "token": CONTRACT, "amount": 1, "dueDate": 2, "recordId": 3,
        "issuer": CONTRACT, "nonce": 4, "deadline": 5}))
    assert (issue["message"]["patient"], issue["message"]["recordId"]) == (CONTRACT, "3")  # addresses stay as they are


def test_the_receipt_is_a_valid_payment_reconciliation_of_every_payment() -> None:
    at = datetime(2026, 11, 30, 12, tzinfo=UTC)
    payments = [ReceiptPayment("0x" + "aa" * 32, "0x" + "33" * 20, 1_500_000, at),
                ReceiptPayment("0x" + "bb" * 32, "0x" + "33" * 20, 500_000, at)]
    document = payment_reconciliation(ReceiptInput(
        "0x" + "01" * 32, 31337, "0x" + "44" * 20, 3, "0x" + "22" * 20, "tUSD", 6, at, payments))
    model = PaymentReconciliation.model_validate(document)
    assert model.paymentAmount.value == Decimal("2") and model.paymentAmount.currency == "tUSD"
    assert model.paymentIdentifier.value == "0x" + "bb" * 32
    assert [d.amount.value for d in model.detail] == [Decimal("1.5"), Decimal("0.5")]
    assert model.request.identifier.value == f"eip155:31337:{'0x' + '44' * 20}/3"
    with pytest.raises(ValueError):
        payment_reconciliation(ReceiptInput("0x" + "01" * 32, 1, "0x" + "44" * 20, 3, "0x" + "22" * 20, "ETH", 18, at, []))
