"""BillPayments: issuing, paying (ETH, token, token through a relayed permit), refunds, cancellation,
who may do what, and a property test of balances (payer -, payee +, nothing left in the contract).

Roles (conftest): `doctor` holds a write grant in `patient`'s vault and bills them; `doctor2` is a
registered doctor without a grant; `relayer` submits gasless payments; `stranger` is nobody. A
clinic is `accounts[7]`, approved by the factory's registrar (`deployer`).
"""

from __future__ import annotations

from typing import Self

import ape
import pytest
from eth_abi import encode
from eth_account import Account
from eth_utils import keccak
from hexbytes import HexBytes
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from . import eip712
from .conftest import DAY
from .helpers import (
    addr,
    decode_revert,
    head_time,
    one_event,
    reverts_with,
    rpc,
    wait_for_receipt,
    warp_to,
)

ETH = "0x0000000000000000000000000000000000000000"
PATIENT_KEY = 1  # dev account index of `patient`
USD = 10**6  # tUSD has 6 decimals
OPEN, PAID, CANCELLED = 1, 2, 3
RECORD_ID = 1


@pytest.fixture(scope="session")
def clinic(accounts):
    return accounts[7]


@pytest.fixture
def billing(project, factory, deployer):
    return deployer.deploy(project.BillPayments, factory)


@pytest.fixture
def usd(project, deployer, patient):
    token = deployer.deploy(project.TestUSD, deployer)
    token.mint(patient, 1_000 * USD, sender=deployer)
    return token


@pytest.fixture
def writable(vault, patient, doctor):
    """The patient's vault, with a 30-day write grant for `doctor`."""
    vault.approveWrite(doctor, 30 * DAY, sender=patient)
    return vault


class Bill(tuple):
    """A bill's terms (`BillTerms`, in field order: what every call on the bill passes back) and its id."""

    FIELDS = ("patient", "payee", "issuer", "token", "amount", "dueDate", "recordId", "nonce")

    def __new__(cls, event: dict) -> Self:
        bill = super().__new__(cls, tuple(event[name] for name in cls.FIELDS))
        bill.id = int(event["billId"])
        return bill

    def __getattr__(self, name: str):
        if name in Bill.FIELDS:
            return self[Bill.FIELDS.index(name)]
        raise AttributeError(name)

    def with_(self, **changes) -> tuple:
        """Altered terms (a plain tuple): what a caller making up a bill would pass."""
        return tuple(changes.get(name, value) for name, value in zip(Bill.FIELDS, self))


def _issue(billing, doctor, patient, token=ETH, amount=10**18, payee=None, record_id=RECORD_ID) -> Bill:
    receipt = billing.issueBill(patient, payee or doctor, token, amount, head_time() + 30 * DAY, record_id, sender=doctor)
    return Bill(one_event(receipt, billing, "BillIssued"))


def _pay_bill_signature(billing, bill_id: int, amount: int, nonce: int, deadline: int, key_index=PATIENT_KEY) -> bytes:
    payload = {
        "types": {
            "EIP712Domain": eip712.EIP712_DOMAIN_FIELDS,
            "PayBill": [
                {"name": "billId", "type": "uint256"},
                {"name": "amount", "type": "uint256"},
                {"name": "nonce", "type": "uint256"},
                {"name": "deadline", "type": "uint256"},
            ],
        },
        "primaryType": "PayBill",
        "domain": {"name": "BillPayments", "version": "1", "chainId": ape.chain.chain_id,
                   "verifyingContract": billing.address},
        "message": {"billId": bill_id, "amount": amount, "nonce": nonce, "deadline": deadline},
    }
    return eip712.sign(eip712.dev_private_key(key_index), payload)


def _permit(token, owner, spender, value: int, deadline: int, key_index=PATIENT_KEY):
    payload = {
        "types": {
            "EIP712Domain": eip712.EIP712_DOMAIN_FIELDS,
            "Permit": [
                {"name": "owner", "type": "address"},
                {"name": "spender", "type": "address"},
                {"name": "value", "type": "uint256"},
                {"name": "nonce", "type": "uint256"},
                {"name": "deadline", "type": "uint256"},
            ],
        },
        "primaryType": "Permit",
        "domain": {"name": "Test USD", "version": "1", "chainId": ape.chain.chain_id,
                   "verifyingContract": token.address},
        "message": {"owner": addr(owner), "spender": addr(spender), "value": value,
                    "nonce": token.nonces(owner), "deadline": deadline},
    }
    signed = Account.sign_typed_data(eip712.dev_private_key(key_index), full_message=payload)
    return signed.v, signed.r.to_bytes(32, "big"), signed.s.to_bytes(32, "big")


def _pay_with_permit(billing, token, patient, relayer, bill, amount, deadline=None, signature=None):
    deadline = deadline if deadline is not None else head_time() + 3600
    v, r, s = _permit(token, patient, billing, amount, deadline)
    if signature is None:
        signature = _pay_bill_signature(billing, bill.id, amount, billing.nonces(patient), deadline)
    return billing.payBillWithPermit(bill, amount, deadline, v, r, s, patient, signature, sender=relayer)


def _state(billing, bill: Bill):
    return billing.billState(bill.id)


# ------------------------------------------------------------------ issuing


def test_doctor_with_write_grant_issues_a_bill(billing, factory, writable, doctor, patient):
    assert billing.factory() == factory.address
    due = head_time() + 30 * DAY
    receipt = billing.issueBill(patient, doctor, ETH, 5 * 10**17, due, 7, sender=doctor)
    event = one_event(receipt, billing, "BillIssued")
    bill = Bill(event)
    assert (bill.patient, bill.payee, bill.issuer, bill.token) == (addr(patient), addr(doctor), addr(doctor), ETH)
    assert (bill.amount, bill.dueDate, bill.recordId, bill.nonce) == (5 * 10**17, due, 7, 0)
    # the id is the hash of the terms, which are not stored: one slot of state per bill
    assert bill.id == billing.billIdOf(bill) == int.from_bytes(keccak(encode(
        ["address", "address", "address", "address", "uint256", "uint256", "uint256", "uint256"], list(bill))), "big")
    state = _state(billing, bill)
    assert (state.paid, state.refunded, state.status) == (0, 0, OPEN)
    assert billing.billCount() == 1 and billing.amountDue(bill) == 5 * 10**17
    # a second bill on the same terms gets its own id (the nonce differs)
    again = _issue(billing, doctor, patient, amount=5 * 10**17, record_id=7)
    assert again.nonce == 1 and again.id != bill.id and billing.billCount() == 2


def test_made_up_or_altered_terms_are_not_a_bill(billing, writable, doctor, doctor2, patient, stranger):
    """A caller cannot alter the terms it passes back: any change gives an id that was never issued."""
    bill = _issue(billing, doctor, patient, amount=10**18)
    cheaper = bill.with_(amount=1)
    with reverts_with(billing.BillNotOpen, billId=billing.billIdOf(cheaper), status=0):
        billing.payBill(cheaper, sender=patient, value=1)
    redirected = bill.with_(payee=addr(stranger))
    with reverts_with(billing.BillNotOpen, billId=billing.billIdOf(redirected), status=0):
        billing.payBill(redirected, sender=patient, value=10**18)
    reissued = bill.with_(issuer=addr(doctor2))
    with reverts_with(billing.BillNotOpen, billId=billing.billIdOf(reissued), status=0):
        billing.cancelBill(reissued, sender=doctor2)
    assert billing.amountDue(cheaper) == 0 and billing.amountDue(bill) == 10**18


def test_unauthorised_issuers_are_refused(billing, vault, writable, factory, deployer, doctor, doctor2, stranger,
                                          patient, patient2):
    # a registered doctor without a write grant in this patient's vault
    with reverts_with(billing.NotAuthorisedIssuer, caller=doctor2, patient=patient):
        billing.issueBill(patient, doctor2, ETH, 1, head_time() + DAY, 0, sender=doctor2)
    # someone who is not a doctor at all
    with reverts_with(billing.NotAuthorisedIssuer, caller=stranger, patient=patient):
        billing.issueBill(patient, stranger, ETH, 1, head_time() + DAY, 0, sender=stranger)
    # a patient without a vault (nothing to hold a grant)
    with reverts_with(billing.NotAuthorisedIssuer, caller=doctor, patient=patient2):
        billing.issueBill(patient2, doctor, ETH, 1, head_time() + DAY, 0, sender=doctor)
    # the grant dies with the doctor's registration
    factory.unregisterDoctor(doctor, sender=deployer)
    with reverts_with(billing.NotAuthorisedIssuer, caller=doctor, patient=patient):
        billing.issueBill(patient, doctor, ETH, 1, head_time() + DAY, 0, sender=doctor)


def test_revoked_write_grant_stops_billing(billing, writable, doctor, patient):
    _issue(billing, doctor, patient)
    writable.revokeWrite(doctor, sender=patient)
    with reverts_with(billing.NotAuthorisedIssuer, caller=doctor, patient=patient):
        billing.issueBill(patient, doctor, ETH, 1, head_time() + DAY, 0, sender=doctor)


def test_issue_input_checks(billing, writable, doctor, patient, stranger):
    due = head_time() + DAY
    with reverts_with(billing.ZeroAddress):
        billing.issueBill(ETH, doctor, ETH, 1, due, 0, sender=doctor)
    with reverts_with(billing.ZeroAmount):
        billing.issueBill(patient, doctor, ETH, 0, due, 0, sender=doctor)
    with reverts_with(billing.DueDateInPast, dueDate=head_time() - 1):
        billing.issueBill(patient, doctor, ETH, 1, head_time() - 1, 0, sender=doctor)
    with reverts_with(billing.InvalidPayee, payee=stranger):  # payee must be the issuer or an approved clinic
        billing.issueBill(patient, stranger, ETH, 1, due, 0, sender=doctor)
    with reverts_with(billing.SafeCastOverflowedUintDowncast):
        billing.issueBill(patient, doctor, ETH, 2**96, due, 0, sender=doctor)


def test_clinics_approved_by_the_registrar(billing, writable, deployer, doctor, clinic, patient, stranger):
    with reverts_with(billing.NotRegistrar, caller=stranger):
        billing.approveClinic(clinic, sender=stranger)
    with reverts_with(billing.InvalidPayee, payee=clinic):
        billing.issueBill(patient, clinic, ETH, 1, head_time() + DAY, 0, sender=doctor)
    receipt = billing.approveClinic(clinic, sender=deployer)
    assert one_event(receipt, billing, "ClinicApproved") == {"clinic": addr(clinic), "registrar": addr(deployer)}
    assert billing.isApprovedClinic(clinic)
    with reverts_with(billing.ClinicStatusUnchanged, clinic=clinic, approved=True):
        billing.approveClinic(clinic, sender=deployer)
    with reverts_with(billing.ZeroAddress):
        billing.approveClinic(ETH, sender=deployer)
    # a doctor bills on the clinic's behalf; the clinic bills directly
    by_doctor = _issue(billing, doctor, patient, payee=clinic)
    assert by_doctor.payee == addr(clinic) and by_doctor.issuer == addr(doctor)
    assert _state(billing, by_doctor).status == OPEN
    by_clinic = _issue(billing, clinic, patient)
    assert by_clinic.issuer == addr(clinic) and _state(billing, by_clinic).status == OPEN
    with reverts_with(billing.NotRegistrar, caller=stranger):
        billing.revokeClinic(clinic, sender=stranger)
    receipt = billing.revokeClinic(clinic, sender=deployer)
    assert one_event(receipt, billing, "ClinicRevoked") == {"clinic": addr(clinic), "registrar": addr(deployer)}
    with reverts_with(billing.ClinicStatusUnchanged, clinic=clinic, approved=False):
        billing.revokeClinic(clinic, sender=deployer)
    with reverts_with(billing.NotAuthorisedIssuer, caller=clinic, patient=patient):
        billing.issueBill(patient, clinic, ETH, 1, head_time() + DAY, 0, sender=clinic)
    # bills it already holds stay payable
    billing.payBill(by_clinic, sender=patient, value=10**18)
    assert _state(billing, by_clinic).status == PAID


def test_constructor_refuses_zero_factory(project, deployer):
    """ape cannot decode a constructor's custom error (no contract address yet): decode the data here."""
    with ape.reverts() as info:
        deployer.deploy(project.BillPayments, ETH)
    data = getattr(info.value, "revert_message", None) or str(info.value)
    assert decode_revert(project.BillPayments, HexBytes(data)) == ("ZeroAddress", {})


# ------------------------------------------------------------------ paying in ETH


def test_pay_eth_in_full_forwards_to_payee(billing, writable, doctor, patient):
    bill = _issue(billing, doctor, patient, amount=10**18)
    before = doctor.balance
    receipt = billing.payBill(bill, sender=patient, value=10**18)
    assert one_event(receipt, billing, "BillPaid") == {
        "billId": bill.id, "payer": addr(patient), "amount": 10**18, "partialPayment": False}
    assert doctor.balance - before == 10**18
    assert billing.balance == 0
    state = _state(billing, bill)
    assert state.paid == 10**18 and state.status == PAID and billing.amountDue(bill) == 0


def test_partial_eth_payments_then_double_payment_reverts(billing, writable, doctor, patient):
    bill = _issue(billing, doctor, patient, amount=10**18)
    receipt = billing.payBill(bill, sender=patient, value=4 * 10**17)
    assert one_event(receipt, billing, "BillPaid")["partialPayment"] == 1  # ape decodes the bool as 1
    assert _state(billing, bill).status == OPEN and billing.amountDue(bill) == 6 * 10**17
    with reverts_with(billing.AmountExceedsDue, amount=7 * 10**17, remaining=6 * 10**17):
        billing.payBill(bill, sender=patient, value=7 * 10**17)
    billing.payBill(bill, sender=patient, value=6 * 10**17)
    with reverts_with(billing.BillNotOpen, billId=bill.id, status=PAID):
        billing.payBill(bill, sender=patient, value=1)
    assert billing.balance == 0


def test_eth_payment_checks(billing, writable, usd, doctor, patient, stranger):
    bill = _issue(billing, doctor, patient, amount=10**18)
    with reverts_with(billing.AmountExceedsDue, amount=10**18 + 1, remaining=10**18):
        billing.payBill(bill, sender=patient, value=10**18 + 1)
    with reverts_with(billing.ZeroAmount):
        billing.payBill(bill, sender=patient, value=0)
    with reverts_with(billing.NotPayer, caller=stranger):
        billing.payBill(bill, sender=stranger, value=10**18)
    never_issued = bill.with_(nonce=99)
    with reverts_with(billing.BillNotOpen, billId=billing.billIdOf(never_issued), status=0):
        billing.payBill(never_issued, sender=patient, value=1)
    token_bill = _issue(billing, doctor, patient, token=usd, amount=5 * USD)
    with reverts_with(billing.WrongPaymentMethod, billId=token_bill.id):
        billing.payBill(token_bill, sender=patient, value=1)
    with reverts_with(billing.WrongPaymentMethod, billId=bill.id):
        billing.payBill(bill, 1, sender=patient)


# ------------------------------------------------------------------ paying in tokens


def test_pay_token_with_allowance(billing, writable, usd, doctor, patient):
    bill = _issue(billing, doctor, patient, token=usd, amount=120 * USD)
    usd.approve(billing, 120 * USD, sender=patient)
    billing.payBill(bill, 20 * USD, sender=patient)
    billing.payBill(bill, 100 * USD, sender=patient)
    assert usd.balanceOf(doctor) == 120 * USD and usd.balanceOf(patient) == 880 * USD
    assert usd.balanceOf(billing) == 0 and _state(billing, bill).status == PAID


def test_pay_token_with_permit_relayed(billing, writable, usd, doctor, patient, relayer):
    bill = _issue(billing, doctor, patient, token=usd, amount=250 * USD)
    patient_eth, relayer_eth = patient.balance, relayer.balance
    receipt = _pay_with_permit(billing, usd, patient, relayer, bill, 250 * USD)
    assert one_event(receipt, billing, "BillPaid") == {
        "billId": bill.id, "payer": addr(patient), "amount": 250 * USD, "partialPayment": False}
    assert usd.balanceOf(doctor) == 250 * USD and usd.balanceOf(patient) == 750 * USD
    assert usd.balanceOf(billing) == 0 and usd.allowance(patient, billing) == 0  # exactly `amount` pulled
    assert patient.balance == patient_eth and relayer.balance < relayer_eth  # the relayer paid the gas
    assert billing.nonces(patient) == 1 and _state(billing, bill).status == PAID
    # a second payment of the same bill reverts, even with fresh signatures
    with reverts_with(billing.BillNotOpen, billId=bill.id, status=PAID):
        _pay_with_permit(billing, usd, patient, relayer, bill, 1)


def test_replayed_pay_bill_signature_reverts(billing, writable, usd, doctor, patient, relayer):
    bill = _issue(billing, doctor, patient, token=usd, amount=100 * USD)
    deadline = head_time() + 3600
    signature = _pay_bill_signature(billing, bill.id, 40 * USD, 0, deadline)
    _pay_with_permit(billing, usd, patient, relayer, bill, 40 * USD, deadline=deadline, signature=signature)
    with reverts_with(billing.InvalidSignature):  # nonce 0 is spent
        _pay_with_permit(billing, usd, patient, relayer, bill, 40 * USD, deadline=deadline, signature=signature)
    assert usd.balanceOf(doctor) == 40 * USD


def test_permit_payment_checks(billing, writable, usd, doctor, patient, relayer, stranger):
    bill = _issue(billing, doctor, patient, token=usd, amount=100 * USD)
    # expired permit (and PayBill) deadline
    past = head_time() - 1
    with reverts_with(billing.SignatureExpired, deadline=past):
        _pay_with_permit(billing, usd, patient, relayer, bill, 10 * USD, deadline=past)
    # signature over a different amount than the one submitted
    deadline = head_time() + 3600
    wrong = _pay_bill_signature(billing, bill.id, 10 * USD, 0, deadline)
    with reverts_with(billing.InvalidSignature):
        _pay_with_permit(billing, usd, patient, relayer, bill, 20 * USD, deadline=deadline, signature=wrong)
    # signed by someone else than the payer
    forged = _pay_bill_signature(billing, bill.id, 10 * USD, 0, deadline, key_index=6)
    with reverts_with(billing.InvalidSignature):
        _pay_with_permit(billing, usd, patient, relayer, bill, 10 * USD, deadline=deadline, signature=forged)
    # more than is due
    with reverts_with(billing.AmountExceedsDue, amount=101 * USD, remaining=100 * USD):
        _pay_with_permit(billing, usd, patient, relayer, bill, 101 * USD)
    # payer must be the bill's patient (stranger signs a valid consent for their own nonce)
    stranger_sig = _pay_bill_signature(billing, bill.id, 10 * USD, 0, deadline, key_index=6)
    v, r, s = _permit(usd, patient, billing, 10 * USD, deadline)
    with reverts_with(billing.NotPayer, caller=stranger):
        billing.payBillWithPermit(bill, 10 * USD, deadline, v, r, s, stranger, stranger_sig, sender=relayer)
    # an ETH bill cannot be paid with tokens
    eth_bill = _issue(billing, doctor, patient)
    with reverts_with(billing.WrongPaymentMethod, billId=eth_bill.id):
        _pay_with_permit(billing, usd, patient, relayer, eth_bill, 1)
    assert usd.balanceOf(doctor) == 0


def test_front_run_permit_still_pays(billing, writable, usd, doctor, patient, relayer, stranger):
    """Someone submits the permit alone first; the payment then uses the allowance it created."""
    bill = _issue(billing, doctor, patient, token=usd, amount=30 * USD)
    deadline = head_time() + 3600
    v, r, s = _permit(usd, patient, billing, 30 * USD, deadline)
    usd.permit(patient, billing, 30 * USD, deadline, v, r, s, sender=stranger)
    signature = _pay_bill_signature(billing, bill.id, 30 * USD, 0, deadline)
    billing.payBillWithPermit(bill, 30 * USD, deadline, v, r, s, patient, signature, sender=relayer)
    assert usd.balanceOf(doctor) == 30 * USD


def test_invalidate_nonce_cancels_an_unsent_consent(billing, writable, usd, doctor, patient, relayer):
    bill = _issue(billing, doctor, patient, token=usd, amount=30 * USD)
    deadline = head_time() + 3600
    signature = _pay_bill_signature(billing, bill.id, 30 * USD, 0, deadline)
    receipt = billing.invalidateNonce(sender=patient)
    assert one_event(receipt, billing, "NonceInvalidated") == {"account": addr(patient), "nonce": 0}
    with reverts_with(billing.InvalidSignature):
        _pay_with_permit(billing, usd, patient, relayer, bill, 30 * USD, deadline=deadline, signature=signature)


def test_domain_separator_matches_eip712(billing, chain):
    from eth_abi import encode
    from eth_utils import keccak

    expected = keccak(encode(
        ["bytes32", "bytes32", "bytes32", "uint256", "address"],
        [keccak(text="EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"),
         keccak(text="BillPayments"), keccak(text="1"), chain.chain_id, billing.address],
    ))
    assert bytes(billing.DOMAIN_SEPARATOR()) == expected
    assert bytes(billing.PAY_BILL_TYPEHASH()) == keccak(
        text="PayBill(uint256 billId,uint256 amount,uint256 nonce,uint256 deadline)")


# ------------------------------------------------------------------ refunds and cancellation


def test_refund_eth(billing, writable, doctor, patient, stranger):
    bill = _issue(billing, doctor, patient, amount=10**18)
    billing.payBill(bill, sender=patient, value=10**18)
    before = patient.balance
    with reverts_with(billing.NotPayee, caller=stranger):
        billing.refund(bill, 1, sender=stranger, value=1)
    with reverts_with(billing.WrongValue, sent=1, expected=2):
        billing.refund(bill, 2, sender=doctor, value=1)
    receipt = billing.refund(bill, 3 * 10**17, sender=doctor, value=3 * 10**17)
    assert one_event(receipt, billing, "BillRefunded") == {"billId": bill.id, "amount": 3 * 10**17}
    assert patient.balance - before == 3 * 10**17 and billing.balance == 0
    with reverts_with(billing.RefundExceedsPaid, amount=8 * 10**17, refundable=7 * 10**17):
        billing.refund(bill, 8 * 10**17, sender=doctor, value=8 * 10**17)
    with reverts_with(billing.ZeroAmount):
        billing.refund(bill, 0, sender=doctor)
    state = _state(billing, bill)
    assert state.refunded == 3 * 10**17 and state.paid == 10**18 and state.status == PAID  # not reopened
    never_issued = bill.with_(nonce=42)
    with reverts_with(billing.BillNotOpen, billId=billing.billIdOf(never_issued), status=0):
        billing.refund(never_issued, 1, sender=doctor, value=1)


def test_refund_token(billing, writable, usd, doctor, patient, relayer):
    bill = _issue(billing, doctor, patient, token=usd, amount=50 * USD)
    _pay_with_permit(billing, usd, patient, relayer, bill, 50 * USD)
    usd.approve(billing, 50 * USD, sender=doctor)
    with reverts_with(billing.WrongPaymentMethod, billId=bill.id):
        billing.refund(bill, 50 * USD, sender=doctor, value=1)
    billing.refund(bill, 50 * USD, sender=doctor)
    assert usd.balanceOf(patient) == 1_000 * USD and usd.balanceOf(doctor) == 0
    with reverts_with(billing.RefundExceedsPaid, amount=1, refundable=0):
        billing.refund(bill, 1, sender=doctor)


def test_cancel(billing, writable, doctor, doctor2, patient):
    bill = _issue(billing, doctor, patient)
    with reverts_with(billing.NotIssuer, caller=doctor2):
        billing.cancelBill(bill, sender=doctor2)
    receipt = billing.cancelBill(bill, sender=doctor)
    assert one_event(receipt, billing, "BillCancelled") == {"billId": bill.id}
    assert _state(billing, bill).status == CANCELLED and billing.amountDue(bill) == 0
    with reverts_with(billing.BillNotOpen, billId=bill.id, status=CANCELLED):
        billing.payBill(bill, sender=patient, value=1)
    with reverts_with(billing.BillNotOpen, billId=bill.id, status=CANCELLED):
        billing.cancelBill(bill, sender=doctor)
    # once partly paid, a bill can only be refunded
    partly = _issue(billing, doctor, patient, amount=10)
    billing.payBill(partly, sender=patient, value=4)
    with reverts_with(billing.BillPartlyPaid, billId=partly.id, paid=4):
        billing.cancelBill(partly, sender=doctor)


def test_test_usd(usd, deployer, patient, stranger):
    assert (usd.name(), usd.symbol(), usd.decimals()) == ("Test USD", "tUSD", 6)
    with reverts_with(usd.OwnableUnauthorizedAccount, account=stranger):
        usd.mint(stranger, 1, sender=stranger)
    usd.mint(stranger, 5, sender=deployer)
    assert usd.balanceOf(stranger) == 5


# ------------------------------------------------------------------ property: balances


def _fee(receipt: dict) -> int:
    return int(receipt["gasUsed"], 16) * int(receipt["effectiveGasPrice"], 16)


def _send(contract, method, *args, sender, value=0) -> dict:
    data = getattr(contract, method).encode_input(*args)
    tx = {"from": addr(sender), "to": contract.address, "data": "0x" + bytes(data).hex(),
          "gas": hex(500_000), "value": hex(value)}
    return wait_for_receipt(rpc("eth_sendTransaction", [tx]))


#: (action, which bill, amount): a number, or "rest"/"rest+1" for exactly what is left to pay or
#: refund and one more (the boundaries).
op_st = st.tuples(
    st.sampled_from(["pay", "refund"]),
    st.integers(0, 1),
    st.one_of(st.integers(1, 120), st.sampled_from(["rest", "rest+1"])),
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=st.lists(op_st, min_size=1, max_size=10))
def test_property_balances(chain, billing, writable, usd, doctor, patient, ops):
    """Random payments and refunds on one ETH bill and one token bill of 100 units each: every
    successful step moves exactly its amount payer -> payee (or back), failures move nothing, and the
    contract never holds anything."""
    snapshot = chain.snapshot()
    try:
        usd.approve(billing, 10**30, sender=patient)
        usd.approve(billing, 10**30, sender=doctor)
        bills = [_issue(billing, doctor, patient, amount=100), _issue(billing, doctor, patient, token=usd, amount=100)]
        paid, refunded = [0, 0], [0, 0]
        for action, which, amount in ops:
            bill, is_eth = bills[which], which == 0
            before = (patient.balance, doctor.balance) if is_eth else (usd.balanceOf(patient), usd.balanceOf(doctor))
            rest = 100 - paid[which] if action == "pay" else paid[which] - refunded[which]
            if isinstance(amount, str):
                amount = rest if amount == "rest" else rest + 1
            if amount == 0:
                continue  # zero amounts are tested on their own
            if action == "pay":
                ok = amount <= rest
                receipt = (_send(billing, "payBill", bill, sender=patient, value=amount) if is_eth
                           else _send(billing, "payBill", bill, amount, sender=patient))
                payer, payee, moved = (patient, doctor, amount)
            else:
                ok = amount <= rest
                receipt = _send(billing, "refund", bill, amount, sender=doctor, value=amount if is_eth else 0)
                payer, payee, moved = (doctor, patient, amount)
            assert (int(receipt["status"], 16) == 1) == ok, (action, which, amount, paid, refunded)
            if ok:
                if action == "pay":
                    paid[which] += amount
                else:
                    refunded[which] += amount
            delta = moved if ok else 0
            if is_eth:
                after = {addr(patient): patient.balance, addr(doctor): doctor.balance}
                fee = _fee(receipt)
                assert after[addr(payer)] == dict(zip([addr(patient), addr(doctor)], before))[addr(payer)] - delta - fee
                assert after[addr(payee)] == dict(zip([addr(patient), addr(doctor)], before))[addr(payee)] + delta
            else:
                after = {addr(patient): usd.balanceOf(patient), addr(doctor): usd.balanceOf(doctor)}
                start = dict(zip([addr(patient), addr(doctor)], before))
                assert after[addr(payer)] == start[addr(payer)] - delta
                assert after[addr(payee)] == start[addr(payee)] + delta
            assert billing.balance == 0 and usd.balanceOf(billing) == 0
        for which, bill in enumerate(bills):
            state = _state(billing, bill)
            assert (state.paid, state.refunded) == (paid[which], refunded[which])
            assert state.status == (PAID if paid[which] == 100 else OPEN)
    finally:
        chain.restore(snapshot)


def test_warp_does_not_block_late_payment(billing, writable, doctor, patient):
    """The due date is informational: a late payment is still accepted."""
    bill = _issue(billing, doctor, patient, amount=5)
    warp_to(bill.dueDate + DAY)
    billing.payBill(bill, sender=patient, value=5)
    assert _state(billing, bill).status == PAID


# ------------------------------------------------------------------ hostile payees and tokens


def test_payee_refusing_eth_makes_payment_revert(project, billing, writable, deployer, doctor, patient):
    payee = deployer.deploy(project.PayeeMock, billing)
    billing.approveClinic(payee, sender=deployer)
    bill = _issue(billing, doctor, patient, amount=10, payee=payee)
    with reverts_with(billing.FailedCall):
        billing.payBill(bill, sender=patient, value=10)
    assert _state(billing, bill).paid == 0 and billing.balance == 0  # nothing booked, nothing kept


def test_payee_cannot_reenter(project, billing, writable, usd, deployer, doctor, patient):
    payee = deployer.deploy(project.PayeeMock, billing)
    billing.approveClinic(payee, sender=deployer)
    eth_bill = _issue(billing, doctor, patient, amount=10, payee=payee)
    token_bill = _issue(billing, doctor, patient, token=usd, amount=10)
    payee.setHook(billing.payBill.as_transaction(token_bill, 1).data, sender=deployer)
    with reverts_with(billing.ReentrancyGuardReentrantCall):
        billing.payBill(eth_bill, sender=patient, value=10)
    assert _state(billing, eth_bill).paid == 0 and billing.balance == 0


def test_bill_in_a_non_token_fails_safely(billing, writable, doctor, patient, stranger):
    """Nothing checks at issue that `token` is a contract (that would cost every bill gas); paying
    such a bill reverts and moves nothing."""
    bill = _issue(billing, doctor, patient, token=stranger.address, amount=10)
    with reverts_with(billing.SafeERC20FailedOperation, token=stranger):
        billing.payBill(bill, 10, sender=patient)
    assert _state(billing, bill).paid == 0
