"""Bills (issue 17): issue, list, pay (gaslessly with a permit, or from the wallet in ETH), refund,
cancel, receipts, and clinic approval. Routes only translate HTTP: the work is in services/bills*.py."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse, Response

from ..services import bills, bills_index, bills_issue, bills_pay, bills_receipt
from .deps import CallerDep, DoctorDep, PatientDep, RegistrarDep, ServicesDep
from .schemas.bills import (
    Bill,
    BillingConfig,
    BillList,
    ClinicRequest,
    ClinicStatus,
    IndexRequest,
    IssueRequest,
    PayloadOut,
    PaymentReconciliation,
    PayRequest,
    PayTypedData,
    PayTypedDataRequest,
    Pending,
    SignedPayload,
    SyncRequest,
    WalletTransaction,
    WalletTransactions,
)
from .schemas.errors import AUTH, BODY, CHAIN, DATABASE, ROLE, errors

router = APIRouter(prefix="/api/bills", tags=["bills"])

FHIR_JSON = "application/fhir+json"
UNAVAILABLE = {503: ("bills_unavailable",)}
NOT_FOUND = {400: ("invalid_bill_id",), 404: ("bill_not_found",)}
SIGNED = {400: ("invalid_payload", "malformed_signature", "invalid_amount"),
          422: ("invalid_signature", "signature_expired"), 409: ("stale_nonce",)}
RELAY = {**bills.REVERT_CODES, 502: ("relayer_unavailable", "chain_unavailable"), 504: ("transaction_timeout",)}
PENDING = {202: {"model": Pending, "description": "Sent, not mined within the wait"}}
AmountQuery = Annotated[str | None, Query(pattern=r"^[0-9]{1,78}$", description="Base units; default: all that is due")]


def _answer(result: tuple[int, dict[str, Any]]) -> Any:
    status, body = result
    if status == 202:
        return JSONResponse(body, status_code=202)
    return JSONResponse(json.loads(Bill.model_validate(body).model_dump_json()), status_code=status)


@router.get("/config", response_model=BillingConfig, summary="BillPayments' address, the chain and the payable tokens",
            responses=errors(AUTH, CHAIN, UNAVAILABLE, validation=False))
async def config(caller: CallerDep, services: ServicesDep) -> dict[str, Any]:
    return await bills.config(services)


@router.post("/clinics", response_model=ClinicStatus, summary="Approve or revoke a clinic as issuer and payee (registrar)",
             responses=errors(BODY, AUTH, ROLE, CHAIN, UNAVAILABLE, RELAY, {400: ("invalid_address",)}))
async def clinics(body: ClinicRequest, caller: RegistrarDep, services: ServicesDep) -> dict[str, Any]:
    return await bills.set_clinic(services, body.clinic, body.approved)


@router.post("/issue/typed-data", response_model=PayloadOut, summary="The IssueBill payload to sign (doctors)",
             responses=errors(BODY, AUTH, ROLE, CHAIN, UNAVAILABLE, {
                 400: ("invalid_address", "invalid_amount", "unsupported_token"),
                 403: ("not_authorised_issuer",), 422: ("not_a_bill_record", "invalid_payee", "due_date_in_past")}))
async def issue_typed_data(body: IssueRequest, caller: DoctorDep, services: ServicesDep) -> dict[str, Any]:
    return await bills_issue.issue_typed_data(services, caller.address, body.model_dump())


@router.post("", status_code=201, response_model=Bill, summary="Issue a bill with your signed IssueBill (doctors; relayed)",
             responses={**PENDING, **errors(BODY, AUTH, ROLE, CHAIN, UNAVAILABLE, SIGNED, RELAY, {
                 400: ("unsupported_token",), 403: ("not_issuer",), 422: ("not_a_bill_record",)})})
async def issue(body: SignedPayload, caller: DoctorDep, services: ServicesDep) -> Any:
    return _answer(await bills_issue.issue(services, caller.address, body.payload, body.signature))


@router.get("", response_model=BillList, summary="Your bills as patient, or as issuer or payee, newest first",
            responses=errors(AUTH, CHAIN, DATABASE, UNAVAILABLE))
async def list_bills(caller: CallerDep, services: ServicesDep,
                     role: Annotated[str, Query(pattern="^(patient|issuer)$")] = "patient") -> dict[str, Any]:
    return await bills_index.list_bills(services, caller.address, role)


@router.post("/index", response_model=BillList,
             summary="Index the bills a mined transaction issued (e.g. issueBill from the issuer's own wallet); yours among them",
             responses=errors(BODY, AUTH, CHAIN, DATABASE, UNAVAILABLE, {
                 400: ("invalid_tx_hash",), 404: ("no_bill_in_transaction",), 409: ("transaction_pending",),
                 422: ("transaction_reverted",)}))
async def index(body: IndexRequest, caller: CallerDep, services: ServicesDep) -> dict[str, Any]:
    return await bills_index.index_transaction(services, caller.address, body.txHash)


@router.get("/{bill_id}", response_model=Bill, summary="One bill (its patient, issuer or payee)",
            responses=errors(AUTH, CHAIN, DATABASE, UNAVAILABLE, NOT_FOUND))
async def get_bill(bill_id: str, caller: CallerDep, services: ServicesDep) -> dict[str, Any]:
    return await bills.get_bill(services, caller.address, bill_id)


@router.post("/{bill_id}/pay/typed-data", response_model=PayTypedData,
             summary="The Permit and PayBill payloads to sign for a token bill (its patient)",
             responses=errors(BODY, AUTH, CHAIN, UNAVAILABLE, NOT_FOUND, {
                 400: ("invalid_amount", "invalid_deadline"), 409: ("bill_not_open", "amount_exceeds_due"),
                 422: ("wrong_payment_method",)}))
async def pay_typed_data(bill_id: str, body: PayTypedDataRequest, caller: PatientDep, services: ServicesDep) -> dict[str, Any]:
    return await bills_pay.pay_typed_data(services, caller.address, bill_id, body.amount, body.deadlineSeconds)


@router.post("/{bill_id}/pay", response_model=Bill, summary="Pay a token bill with your signed Permit and PayBill (relayed)",
             responses={**PENDING, **errors(BODY, AUTH, ROLE, CHAIN, UNAVAILABLE, NOT_FOUND, SIGNED, RELAY, {
                 409: ("bill_not_open", "amount_exceeds_due", "insufficient_balance"), 422: ("wrong_payment_method",)})})
async def pay(bill_id: str, body: PayRequest, caller: PatientDep, services: ServicesDep) -> Any:
    return _answer(await bills_pay.pay(services, caller.address, bill_id, body.permit.model_dump(), body.payBill.model_dump()))


@router.get("/{bill_id}/pay/transaction", response_model=WalletTransaction,
            summary="The payBill transaction of an ETH bill for your wallet (its patient)",
            responses=errors(AUTH, ROLE, CHAIN, UNAVAILABLE, NOT_FOUND, {
                400: ("invalid_amount",), 409: ("bill_not_open", "amount_exceeds_due"), 422: ("wrong_payment_method",)}))
async def pay_transaction(bill_id: str, caller: PatientDep, services: ServicesDep, amount: AmountQuery = None) -> dict[str, Any]:
    return await bills_pay.pay_transaction(services, caller.address, bill_id, amount)


@router.get("/{bill_id}/refund/transactions", response_model=WalletTransactions,
            summary="The refund transactions for your wallet (the bill's payee): approve then refund, or refund with value",
            responses=errors(AUTH, CHAIN, UNAVAILABLE, NOT_FOUND, {
                400: ("invalid_amount",), 409: ("nothing_to_refund", "refund_exceeds_paid")}))
async def refund_transactions(bill_id: str, caller: CallerDep, services: ServicesDep, amount: AmountQuery = None) -> dict[str, Any]:
    return await bills_pay.refund_transactions(services, caller.address, bill_id, amount)


@router.post("/{bill_id}/sync", response_model=Bill, summary="The bill once your wallet transaction is mined",
             responses=errors(BODY, AUTH, CHAIN, UNAVAILABLE, NOT_FOUND, {
                 400: ("invalid_tx_hash",), 409: ("transaction_pending",)}))
async def sync(bill_id: str, body: SyncRequest, caller: CallerDep, services: ServicesDep) -> dict[str, Any]:
    return await bills_pay.sync(services, caller.address, bill_id, body.txHash)


@router.post("/{bill_id}/cancel/typed-data", response_model=PayloadOut, summary="The CancelBill payload to sign (its issuer)",
             responses=errors(AUTH, CHAIN, UNAVAILABLE, NOT_FOUND, {409: ("bill_not_open", "bill_partly_paid")}))
async def cancel_typed_data(bill_id: str, caller: CallerDep, services: ServicesDep) -> dict[str, Any]:
    return await bills_issue.cancel_typed_data(services, caller.address, bill_id)


@router.post("/{bill_id}/cancel", response_model=Bill, summary="Cancel an unpaid bill with your signed CancelBill (relayed)",
             responses={**PENDING, **errors(BODY, AUTH, CHAIN, UNAVAILABLE, NOT_FOUND, SIGNED, RELAY)})
async def cancel(bill_id: str, body: SignedPayload, caller: CallerDep, services: ServicesDep) -> Any:
    return _answer(await bills_issue.cancel(services, caller.address, bill_id, body.payload, body.signature))


@router.get("/{bill_id}/receipt", response_model=PaymentReconciliation,
            summary="The FHIR R4 PaymentReconciliation of a bill with a payment (any party of the bill)",
            responses={200: {"content": {FHIR_JSON: {"schema": {"$ref": "#/components/schemas/PaymentReconciliation"}}}},
                       **errors(AUTH, CHAIN, UNAVAILABLE, NOT_FOUND, {409: ("bill_not_paid",)})})
async def receipt(bill_id: str, caller: CallerDep, services: ServicesDep) -> Response:
    document = await bills_receipt.receipt(services, caller.address, bill_id)
    return Response(content=json.dumps(document), media_type=FHIR_JSON)
