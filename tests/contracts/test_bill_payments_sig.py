"""BillPayments' gasless issuer actions: `issueBillBySig` and `cancelBillBySig` (issue 17).

A doctor or clinic with no ETH signs an EIP-712 `IssueBill` or `CancelBill`; a relayer submits it.
The nonce space is the signer's one `nonces(account)`, shared with `PayBill`, so `invalidateNonce`
cancels an unsent issuer signature too.
"""

from __future__ import annotations

import ape
import pytest
from eth_utils import keccak

from . import eip712
from .conftest import DAY
from .helpers import addr, head_time, one_event, reverts_with
from .test_bill_payments import CANCELLED, ETH, OPEN, RECORD_ID, Bill, _issue, _state

DOCTOR_KEY, DOCTOR2_KEY, STRANGER_KEY = 2, 3, 6  # dev account indices (tests/contracts/conftest.py ROLES)

ISSUE_FIELDS = [
    ("patient", "address"), ("payee", "address"), ("token", "address"), ("amount", "uint256"),
    ("dueDate", "uint256"), ("recordId", "uint256"), ("issuer", "address"), ("nonce", "uint256"),
    ("deadline", "uint256"),
]
CANCEL_FIELDS = [("billId", "uint256"), ("issuer", "address"), ("nonce", "uint256"), ("deadline", "uint256")]


@pytest.fixture
def billing(project, factory, deployer):
    return deployer.deploy(project.BillPayments, factory)


@pytest.fixture
def writable(vault, patient, doctor):
    vault.approveWrite(doctor, 30 * DAY, sender=patient)
    return vault


def _sign(billing, primary: str, fields, message: dict, key_index: int) -> bytes:
    payload = {
        "types": {
            "EIP712Domain": eip712.EIP712_DOMAIN_FIELDS,
            primary: [{"name": n, "type": t} for n, t in fields],
        },
        "primaryType": primary,
        "domain": {"name": "BillPayments", "version": "1", "chainId": ape.chain.chain_id,
                   "verifyingContract": billing.address},
        "message": message,
    }
    return eip712.sign(eip712.dev_private_key(key_index), payload)


def _issue_terms(billing, issuer, patient, **changes) -> dict:
    terms = {
        "patient": addr(patient), "payee": addr(issuer), "token": ETH, "amount": 10**18,
        "dueDate": head_time() + 30 * DAY, "recordId": RECORD_ID, "issuer": addr(issuer),
        "nonce": billing.nonces(issuer), "deadline": head_time() + 3600,
    }
    terms.update(changes)
    return terms


def _args(terms: dict) -> list:
    return [terms[name] for name, _ in ISSUE_FIELDS]


def _issue_by_sig(billing, relayer, terms: dict, key_index=DOCTOR_KEY, signature=None):
    signature = signature or _sign(billing, "IssueBill", ISSUE_FIELDS, terms, key_index)
    return billing.issueBillBySig(*_args(terms), signature, sender=relayer)


def _cancel_signature(billing, bill: Bill, nonce: int, deadline: int, key_index=DOCTOR_KEY) -> bytes:
    message = {"billId": bill.id, "issuer": bill.issuer, "nonce": nonce, "deadline": deadline}
    return _sign(billing, "CancelBill", CANCEL_FIELDS, message, key_index)


def test_type_hashes_match_the_spec(billing):
    assert bytes(billing.ISSUE_BILL_TYPEHASH()) == keccak(text=(
        "IssueBill(address patient,address payee,address token,uint256 amount,uint256 dueDate,"
        "uint256 recordId,address issuer,uint256 nonce,uint256 deadline)"))
    assert bytes(billing.CANCEL_BILL_TYPEHASH()) == keccak(
        text="CancelBill(uint256 billId,address issuer,uint256 nonce,uint256 deadline)")


def test_relayed_issue_by_doctor_with_write_grant(billing, writable, doctor, patient, relayer):
    terms = _issue_terms(billing, doctor, patient)
    doctor_eth = doctor.balance
    receipt = _issue_by_sig(billing, relayer, terms)
    event = one_event(receipt, billing, "BillIssued")
    bill = Bill(event)
    assert bill.issuer == addr(doctor) and bill.payee == addr(doctor) and bill.patient == addr(patient)
    assert (bill.amount, bill.dueDate, bill.recordId, bill.nonce) == (10**18, terms["dueDate"], RECORD_ID, 0)
    assert bill.id == billing.billIdOf(bill)
    assert _state(billing, bill).status == OPEN and billing.amountDue(bill) == 10**18
    assert billing.nonces(doctor) == 1 and billing.billCount() == 1
    assert doctor.balance == doctor_eth  # the relayer paid the gas
    # the same bill id as a direct issue would give: a direct bill next gets the next bill nonce
    direct = _issue(billing, doctor, patient)
    assert direct.nonce == 1


def test_relayed_issue_by_unauthorised_signer(billing, writable, doctor2, patient, relayer, stranger):
    terms = _issue_terms(billing, doctor2, patient)  # registered doctor without a write grant
    with reverts_with(billing.NotAuthorisedIssuer, caller=doctor2, patient=patient):
        _issue_by_sig(billing, relayer, terms, key_index=DOCTOR2_KEY)
    terms = _issue_terms(billing, stranger, patient)
    with reverts_with(billing.NotAuthorisedIssuer, caller=stranger, patient=patient):
        _issue_by_sig(billing, relayer, terms, key_index=STRANGER_KEY)
    assert billing.nonces(doctor2) == 0  # the revert undid the nonce


def test_relayed_issue_checks_like_issue_bill(billing, writable, doctor, patient, relayer, stranger):
    with reverts_with(billing.InvalidPayee, payee=stranger):
        _issue_by_sig(billing, relayer, _issue_terms(billing, doctor, patient, payee=addr(stranger)))
    with reverts_with(billing.ZeroAmount):
        _issue_by_sig(billing, relayer, _issue_terms(billing, doctor, patient, amount=0))


def test_wrong_signer_or_tampered_field(billing, writable, doctor, patient, relayer, stranger):
    terms = _issue_terms(billing, doctor, patient)
    # a stranger signs in the doctor's name
    with reverts_with(billing.InvalidSignature):
        _issue_by_sig(billing, relayer, terms, key_index=STRANGER_KEY)
    signature = _sign(billing, "IssueBill", ISSUE_FIELDS, terms, DOCTOR_KEY)
    for field, value in (("amount", 10**18 + 1), ("payee", addr(stranger)), ("recordId", RECORD_ID + 1),
                         ("dueDate", terms["dueDate"] + 1), ("token", addr(stranger)), ("deadline", terms["deadline"] + 1)):
        with reverts_with(billing.InvalidSignature):
            billing.issueBillBySig(*_args({**terms, field: value}), signature, sender=relayer)
    # a mangled signature (v flipped)
    with reverts_with(billing.InvalidSignature):
        billing.issueBillBySig(*_args(terms), signature[:-1] + bytes([signature[-1] ^ 1]), sender=relayer)
    assert billing.billCount() == 0 and billing.nonces(doctor) == 0


def test_expired_issue_signature(billing, writable, doctor, patient, relayer):
    terms = _issue_terms(billing, doctor, patient, deadline=head_time() - 1)
    with reverts_with(billing.SignatureExpired, deadline=terms["deadline"]):
        _issue_by_sig(billing, relayer, terms)


def test_replay_and_wrong_nonce(billing, writable, doctor, patient, relayer):
    terms = _issue_terms(billing, doctor, patient)
    signature = _sign(billing, "IssueBill", ISSUE_FIELDS, terms, DOCTOR_KEY)
    billing.issueBillBySig(*_args(terms), signature, sender=relayer)
    with reverts_with(billing.InvalidAccountNonce, account=doctor, currentNonce=1):
        billing.issueBillBySig(*_args(terms), signature, sender=relayer)
    ahead = _issue_terms(billing, doctor, patient, nonce=5)
    with reverts_with(billing.InvalidAccountNonce, account=doctor, currentNonce=1):
        _issue_by_sig(billing, relayer, ahead)
    assert billing.billCount() == 1


def test_invalidate_nonce_cancels_an_unsent_issue(billing, writable, doctor, patient, relayer):
    terms = _issue_terms(billing, doctor, patient)
    signature = _sign(billing, "IssueBill", ISSUE_FIELDS, terms, DOCTOR_KEY)
    receipt = billing.invalidateNonce(sender=doctor)
    assert one_event(receipt, billing, "NonceInvalidated") == {"account": addr(doctor), "nonce": 0}
    with reverts_with(billing.InvalidAccountNonce, account=doctor, currentNonce=1):
        billing.issueBillBySig(*_args(terms), signature, sender=relayer)
    assert billing.billCount() == 0


def test_relayed_cancel_by_the_issuer(billing, writable, doctor, patient, relayer):
    bill = _issue(billing, doctor, patient)
    deadline = head_time() + 3600
    signature = _cancel_signature(billing, bill, billing.nonces(doctor), deadline)
    receipt = billing.cancelBillBySig(bill, 0, deadline, signature, sender=relayer)
    assert one_event(receipt, billing, "BillCancelled") == {"billId": bill.id}
    assert _state(billing, bill).status == CANCELLED and billing.nonces(doctor) == 1
    with reverts_with(billing.InvalidAccountNonce, account=doctor, currentNonce=1):
        billing.cancelBillBySig(bill, 0, deadline, signature, sender=relayer)
    fresh = _cancel_signature(billing, bill, 1, deadline)
    with reverts_with(billing.BillNotOpen, billId=bill.id, status=CANCELLED):
        billing.cancelBillBySig(bill, 1, deadline, fresh, sender=relayer)


def test_cancel_signed_by_someone_else(billing, writable, doctor, doctor2, patient, relayer):
    bill = _issue(billing, doctor, patient)
    deadline = head_time() + 3600
    # doctor2 signs a cancel naming the real issuer: not the issuer's signature
    forged = _cancel_signature(billing, bill, 0, deadline, key_index=DOCTOR2_KEY)
    with reverts_with(billing.InvalidSignature):
        billing.cancelBillBySig(bill, 0, deadline, forged, sender=relayer)
    # doctor2 signs as itself and passes terms naming itself issuer: those terms are no bill
    altered = bill.with_(issuer=addr(doctor2))
    own = _sign(billing, "CancelBill", CANCEL_FIELDS, {"billId": billing.billIdOf(altered), "issuer": addr(doctor2),
                                                       "nonce": 0, "deadline": deadline}, DOCTOR2_KEY)
    with reverts_with(billing.BillNotOpen, billId=billing.billIdOf(altered), status=0):
        billing.cancelBillBySig(altered, 0, deadline, own, sender=relayer)
    # expired
    late = head_time() - 1
    with reverts_with(billing.SignatureExpired, deadline=late):
        billing.cancelBillBySig(bill, 0, late, _cancel_signature(billing, bill, 0, late), sender=relayer)
    assert _state(billing, bill).status == OPEN


def test_relayed_cancel_after_partial_payment(billing, writable, doctor, patient, relayer):
    bill = _issue(billing, doctor, patient, amount=10)
    billing.payBill(bill, sender=patient, value=4)
    deadline = head_time() + 3600
    signature = _cancel_signature(billing, bill, 0, deadline)
    with reverts_with(billing.BillPartlyPaid, billId=bill.id, paid=4):
        billing.cancelBillBySig(bill, 0, deadline, signature, sender=relayer)
    assert _state(billing, bill).status == OPEN and billing.nonces(doctor) == 0
