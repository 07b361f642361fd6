"""Finding bills issued outside the API: indexing by transaction, and a cheap catch-up scan per list.

A clinic or doctor may call `issueBill` from its own wallet; no route of ours sees that transaction,
so its bill would never reach the `bills` index (db/bills.py) the lists read. Two ways in:

- `POST /api/bills/index {txHash}`: a party of the bill hands us the transaction; every BillIssued
  log the configured BillPayments emitted in it is indexed (idempotent: the index is unique on billId).
- `GET /api/bills?role=...` first scans the BillIssued logs naming the caller in their indexed
  `patient` (role=patient) or `payee` (role=issuer) topic, from the block after the last one scanned
  for that (account, role) (kept in MongoDB) up to head - CONFIRMATIONS, so a bill that a reorg may
  still remove is not indexed. The scan is bounded (SCAN_MAX_BLOCKS per list, SCAN_TIMEOUT_SECONDS);
  when it fails or does not reach the safe head, the list is served from the index anyway, flagged
  `partial` (the next list continues where this one stopped).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

from pymongo.errors import PyMongoError

from ..chain.bills import LOG_BLOCK_RANGE, BillLog, BillsChain, bill_id_hex, terms_of
from ..chain.rpc import ChainError
from ..container import Services
from ..db.bills import BillDoc
from ..domain_errors import Conflict, InvalidInput, NotFound, Unprocessable
from . import bills

log = logging.getLogger(__name__)

# Blocks one list may scan (5 eth_getLogs of LOG_BLOCK_RANGE); the rest waits for the next list.
SCAN_MAX_BLOCKS = 5 * LOG_BLOCK_RANGE
# A list never waits longer than this for its scan (then it serves the index, flagged partial).
SCAN_TIMEOUT_SECONDS = 5.0
# role of the list -> the indexed BillIssued topic that names the caller.
SCAN_TOPIC = {"patient": "patient", "issuer": "payee"}


def doc_from_log(issued: BillLog) -> BillDoc:
    """The index entry of a BillIssued log (its terms, id, transaction and block)."""
    terms = terms_of(issued)
    return BillDoc(
        bill_id=bill_id_hex(issued.bill_id), patient=terms.patient, payee=terms.payee, issuer=terms.issuer,
        token=terms.token, amount=terms.amount, due_date=terms.due_date, record_id=terms.record_id, nonce=terms.nonce,
        issued_tx=issued.tx_hash, issued_block=issued.block_number,
        issued_at=datetime.fromtimestamp(issued.timestamp, UTC) if issued.timestamp is not None else None,
    )


def concerns(doc: BillDoc, account: str) -> bool:
    who = account.lower()
    return who in (doc.patient.lower(), doc.issuer.lower(), doc.payee.lower())


async def index_transaction(services: Services, caller: str, tx_hash: str) -> dict[str, Any]:
    """Index the bills a mined transaction issued; the caller's among them as a BillList.

    409 `transaction_pending` without a receipt (or before CONFIRMATIONS blocks are on top of it),
    422 `transaction_reverted` for a reverted one, 404 `no_bill_in_transaction` when none of its bills
    (of the configured BillPayments) has the caller as patient, issuer or payee."""
    chain = bills.bills_chain(services)
    text = tx_hash.lower()
    if not (text.startswith("0x") and len(text) == 66 and all(c in "0123456789abcdef" for c in text[2:])):
        raise InvalidInput("invalid_tx_hash", "txHash is 0x followed by 64 hex digits")
    receipt = await services.chain.receipt_or_none(text)
    if receipt is None:
        raise Conflict("transaction_pending", "the transaction is not mined yet: index it again shortly")
    if int(receipt.get("status", 1)) == 0:
        raise Unprocessable("transaction_reverted", "the transaction reverted: it issued no bill")
    if await services.chain.block_number() - int(receipt["blockNumber"]) < services.settings.confirmations:
        raise Conflict("transaction_pending", "the transaction is not confirmed yet: index it again shortly")
    docs = [await services.bills.add(doc_from_log(issued))
            for issued in await chain.with_timestamps(chain.issued_from_receipt_all(receipt))]
    mine = [doc for doc in docs if concerns(doc, caller)]
    if not mine:
        raise NotFound("no_bill_in_transaction", "this transaction issued no bill of yours")
    return {"bills": [(await bills.serve(services, doc)).body for doc in mine], "partial": False}


async def _scan(services: Services, chain: BillsChain, account: str, role: str) -> bool:
    """Index the bills issued to `account` as `role` since its last scan; True when it reached the safe head."""
    topic = SCAN_TOPIC[role]
    safe_head = await services.chain.block_number() - services.settings.confirmations
    last = await services.bills.scanned_to(account, topic)
    start = last + 1 if last is not None else await chain.deployed_block()
    end = min(safe_head, start + SCAN_MAX_BLOCKS - 1)
    for low in range(start, end + 1, LOG_BLOCK_RANGE):
        high = min(low + LOG_BLOCK_RANGE - 1, end)
        for issued in await chain.issued_logs(topic, account, low, high):
            await services.bills.add(doc_from_log(issued))
        await services.bills.set_scanned(account, topic, high)  # progress survives a timeout
    return end >= safe_head


async def catch_up(services: Services, chain: BillsChain, account: str, role: str) -> bool:
    """Scan for bills issued directly to `account` (see the module docstring); False when the scan
    failed, timed out or stopped short, in which case the list is served from the index as it is."""
    try:
        async with asyncio.timeout(SCAN_TIMEOUT_SECONDS):
            return await _scan(services, chain, account, role)
    except (TimeoutError, ChainError, PyMongoError) as exc:
        # No address in the log (the allow-list of logging_setup.py would drop it anyway).
        log.warning("bill log scan failed; serving the index as it is",
                    extra={"action": role, "error_type": type(exc).__name__})
        return False


async def list_bills(services: Services, caller: str, role: str) -> dict[str, Any]:
    """The caller's bills as patient, or as issuer or payee, newest first (after a catch-up scan)."""
    chain = bills.bills_chain(services)
    complete = await catch_up(services, chain, caller, role)
    docs = await (services.bills.for_patient(caller) if role == "patient" else services.bills.for_issuer_or_payee(caller))
    return {"bills": [served.body for served in await bills.serve_all(services, docs)], "partial": not complete}


__all__ = ["SCAN_MAX_BLOCKS", "SCAN_TIMEOUT_SECONDS", "catch_up", "doc_from_log", "index_transaction", "list_bills"]
