"""The `bills` collection: the index of issued bills (their terms, id, issue transaction and block).

Why an index at all: BillPayments stores only a bill's state; its terms are published once, in the
`BillIssued` event, and every later call needs them back. Indexing them when the issue is mined lets
the API list a patient's or an issuer's bills without scanning the chain. The state and the payments
are never copied here: they are read from the chain when a bill is served, so this can never be
stale about money. Amounts are stored as decimal strings (uint256 does not fit a BSON int).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

BILLS = "bills"
# Per (account, role): the last block whose BillIssued logs were scanned for bills issued directly
# on chain (services/bills_index.py), so each list scans only the blocks since.
BILL_SCANS = "bill_scans"


@dataclass(frozen=True)
class BillDoc:
    bill_id: str  # 0x + 64 hex
    patient: str  # checksummed addresses
    payee: str
    issuer: str
    token: str
    amount: int
    due_date: int
    record_id: int
    nonce: int
    issued_tx: str
    issued_block: int
    issued_at: datetime | None

    def to_mongo(self) -> dict[str, Any]:
        return {
            "billId": self.bill_id, "patient": self.patient, "patient_lc": self.patient.lower(),
            "payee": self.payee, "payee_lc": self.payee.lower(), "issuer": self.issuer,
            "issuer_lc": self.issuer.lower(), "token": self.token, "amount": str(self.amount),
            "dueDate": self.due_date, "recordId": str(self.record_id), "nonce": str(self.nonce),
            "issuedTx": self.issued_tx, "issuedBlock": self.issued_block, "issuedAt": self.issued_at,
        }

    @classmethod
    def from_mongo(cls, doc: dict[str, Any]) -> BillDoc:
        return cls(
            bill_id=doc["billId"], patient=doc["patient"], payee=doc["payee"], issuer=doc["issuer"],
            token=doc["token"], amount=int(doc["amount"]), due_date=int(doc["dueDate"]),
            record_id=int(doc["recordId"]), nonce=int(doc["nonce"]), issued_tx=doc["issuedTx"],
            issued_block=int(doc["issuedBlock"]), issued_at=doc.get("issuedAt"),
        )


class BillStore:
    """Index of issued bills; unique on billId (a retried index of the same receipt is a no-op)."""

    def __init__(self, db: AsyncDatabase) -> None:
        self._c = db[BILLS]
        self._scans = db[BILL_SCANS]

    async def ensure_indexes(self) -> None:
        await self._c.create_index([("billId", ASCENDING)], unique=True)
        await self._c.create_index([("patient_lc", ASCENDING), ("issuedBlock", DESCENDING)])
        await self._c.create_index([("issuer_lc", ASCENDING), ("issuedBlock", DESCENDING)])
        await self._c.create_index([("payee_lc", ASCENDING), ("issuedBlock", DESCENDING)])
        await self._scans.create_index([("account_lc", ASCENDING), ("role", ASCENDING)], unique=True)

    async def add(self, bill: BillDoc) -> BillDoc:
        """Index `bill`; the stored one if its id is already indexed (same terms: the id is their hash)."""
        try:
            await self._c.insert_one(bill.to_mongo())
        except DuplicateKeyError:
            existing = await self.get(bill.bill_id)
            if existing is not None:
                return existing
            raise
        return bill

    async def get(self, bill_id: str) -> BillDoc | None:
        doc = await self._c.find_one({"billId": bill_id.lower()})
        return BillDoc.from_mongo(doc) if doc else None

    async def for_patient(self, patient: str, limit: int = 1000) -> list[BillDoc]:
        cursor = self._c.find({"patient_lc": patient.lower()}).sort("issuedBlock", DESCENDING).limit(limit)
        return [BillDoc.from_mongo(d) async for d in cursor]

    async def for_issuer_or_payee(self, account: str, limit: int = 1000) -> list[BillDoc]:
        lc = account.lower()
        cursor = self._c.find({"$or": [{"issuer_lc": lc}, {"payee_lc": lc}]}).sort("issuedBlock", DESCENDING).limit(limit)
        return [BillDoc.from_mongo(d) async for d in cursor]

    async def scanned_to(self, account: str, role: str) -> int | None:
        """The last block scanned for `account`'s bills as `role`, None before its first scan."""
        doc = await self._scans.find_one({"account_lc": account.lower(), "role": role})
        return int(doc["lastBlock"]) if doc else None

    async def set_scanned(self, account: str, role: str, block: int) -> None:
        """Move the scan cursor forward to `block` (never back: concurrent scans may finish out of order)."""
        try:
            await self._scans.update_one({"account_lc": account.lower(), "role": role},
                                         {"$max": {"lastBlock": block}}, upsert=True)
        except DuplicateKeyError:  # two first scans raced on the upsert: the other one created it
            await self._scans.update_one({"account_lc": account.lower(), "role": role}, {"$max": {"lastBlock": block}})
