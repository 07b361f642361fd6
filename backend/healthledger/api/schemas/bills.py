"""Shapes of /api/bills (issue 17's shared spec): amounts are decimal strings of base units
(uint256-safe), addresses checksummed, bill ids 0x + 64 hex, camelCase like the rest of the API."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, StrictInt, StrictStr

from .signing import TypedDataPayload

AMOUNT = Field(description="Base units (wei, or the token's smallest unit) as a decimal string", pattern=r"^[0-9]{1,78}$")


class TokenInfo(BaseModel):
    address: str = Field(description="0x000…000 for ETH")
    symbol: str
    name: str
    decimals: int
    permit: bool = Field(description="Whether the token takes EIP-2612 permits (gasless payment)")


class BillingConfig(BaseModel):
    billPayments: str
    chainId: int
    tokens: list[TokenInfo]


class BillPayment(BaseModel):
    txHash: str
    payer: str
    amount: str
    partial: bool
    blockNumber: int
    at: datetime | None


class BillRefund(BaseModel):
    txHash: str
    amount: str
    blockNumber: int
    at: datetime | None


class Bill(BaseModel):
    """A bill: terms from the index, status, amounts and events read from the chain when served."""

    billId: str
    patient: str
    payee: str
    issuer: str
    token: TokenInfo
    amount: str
    paid: str
    refunded: str
    remaining: str
    dueDate: int = Field(description="Unix seconds")
    recordId: int
    status: Literal["open", "paid", "cancelled"]
    overdue: bool
    issuedTx: str
    issuedBlock: int
    issuedAt: datetime | None
    payments: list[BillPayment]
    refunds: list[BillRefund]
    cancelledTx: str | None


class BillList(BaseModel):
    bills: list[Bill]
    partial: bool = Field(default=False, description=(
        "True when the scan for bills issued directly on chain failed or has not caught up yet: the list "
        "is the index as it is; list again (or index the transaction with POST /api/bills/index)"))


class Pending(BaseModel):
    """Sent, not mined within the wait: check the bill again shortly."""

    status: Literal["pending"]
    txHash: str


class PayloadOut(BaseModel):
    payload: TypedDataPayload


class SignedPayload(BaseModel):
    payload: dict[str, Any] = Field(description="The payload exactly as received from the typed-data route")
    signature: StrictStr = Field(description="eth_signTypedData_v4 signature, 0x + 130 hex")


class IssueRequest(BaseModel):
    patientAddress: StrictStr
    recordId: StrictInt = Field(ge=0, description="The bill record (an FHIR Invoice) in the patient's vault")
    token: StrictStr = Field(description="0x000…000 for ETH, or the configured token's address")
    amount: str = AMOUNT
    dueDate: StrictInt = Field(ge=0, lt=2**64, description="Unix seconds")
    payee: StrictStr | None = Field(default=None, description="Defaults to you; else a clinic the registrar approved")


class PayTypedDataRequest(BaseModel):
    amount: str | None = Field(default=None, description="Defaults to what remains due", pattern=r"^[0-9]{1,78}$")
    deadlineSeconds: StrictInt | None = Field(default=None, gt=0, description="How long the signatures stay valid")


class PayTypedData(BaseModel):
    permit: TypedDataPayload = Field(description="EIP-2612 Permit on the token's own EIP-712 domain")
    payBill: TypedDataPayload = Field(description="PayBill on BillPayments' domain")


class PayRequest(BaseModel):
    permit: SignedPayload
    payBill: SignedPayload


class WalletTransaction(BaseModel):
    """For eth_sendTransaction from the caller's wallet."""

    to: str
    data: str
    value: str = Field(description="Wei, decimal string")
    chainId: int


class WalletTransactions(BaseModel):
    transactions: list[WalletTransaction]


class SyncRequest(BaseModel):
    txHash: StrictStr


class IndexRequest(BaseModel):
    txHash: StrictStr = Field(description="A mined transaction that called BillPayments' issueBill (or issued bills otherwise)")


class ClinicRequest(BaseModel):
    clinic: StrictStr
    approved: bool


class ClinicStatus(BaseModel):
    clinic: str
    approved: bool
    txHash: str
    status: Literal["mined", "pending"]


class PaymentReconciliation(BaseModel):
    """FHIR R4 PaymentReconciliation (served as application/fhir+json); the main fields are listed,
    the rest follow the FHIR specification."""

    model_config = {"extra": "allow"}

    resourceType: Literal["PaymentReconciliation"]
    status: str
    created: str
    paymentDate: str
    paymentAmount: dict[str, Any]
    paymentIdentifier: dict[str, Any]
    request: dict[str, Any]
    detail: list[dict[str, Any]]
