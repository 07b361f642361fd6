"""`RecordStore.report_entries`, the integrity report's MongoDB read, against real SecantusDB: every
document exactly once, over several cursor batches, ordered by patient then age, no key material."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
import pytest_asyncio
from pymongo.asynchronous.database import AsyncDatabase

from healthledger.db import records as records_module
from healthledger.db.records import RecordStore
from healthledger.devstack.mongo import SecantusServer
from tests.backend.fixtures.mongo import fresh_database

pytestmark = pytest.mark.asyncio


@pytest_asyncio.fixture
async def db(mongo_server: SecantusServer) -> AsyncIterator[AsyncDatabase]:
    async with fresh_database(mongo_server, "healthledger_report") as database:
        yield database


def _doc(patient: str, i: int, created_at: datetime) -> dict:
    return {
        "patient": patient, "cid": f"bafk{patient[-4:]}{i:06d}", "record_type": "bill", "name": f"r{i}",
        "content_type": "application/pdf", "content_hash": "0x" + f"{i:064x}", "ciphertext_hash": "0x" + "00" * 32,
        "size": 1, "ciphertext_size": 1, "wrapped_key": "secret-wrapped", "sealed_keys": {"0xab": "sealed"},
        "vault_address": "0x" + "11" * 20, "state": "confirmed", "record_id": i, "created_at": created_at,
    }


async def test_pages_cover_every_record_once_in_patient_then_age_order(db, monkeypatch) -> None:
    monkeypatch.setattr(records_module, "REPORT_CURSOR_BATCH", 7)  # many batches, the last one full
    patients = ["0x" + "aa" * 20, "0x" + "bb" * 20]
    base = datetime(2026, 1, 1, tzinfo=UTC)
    docs = [_doc(p, i, base + timedelta(minutes=random.randrange(10_000))) for p in patients for i in range(21)]
    random.shuffle(docs)  # insertion (_id) order unrelated to the report's order
    await db["records"].insert_many(docs)
    store = RecordStore(db)

    entries = await store.report_entries()
    assert len(entries) == 42
    assert len({e.cid for e in entries}) == 42
    expected = sorted(docs, key=lambda d: (d["patient"], d["created_at"]))
    assert [e.patient for e in entries] == [d["patient"] for d in expected]
    by_cid = {d["cid"]: d for d in docs}
    for earlier, later in zip(entries, entries[1:]):
        if earlier.patient == later.patient:
            assert by_cid[earlier.cid]["created_at"] <= by_cid[later.cid]["created_at"]
    assert not any(hasattr(e, "wrapped_key") or hasattr(e, "sealed_keys") for e in entries)

    mine = await store.report_entries(patients[1].upper().replace("0X", "0x"))
    assert {e.cid for e in mine} == {d["cid"] for d in docs if d["patient"] == patients[1]}
    assert all(e.on_chain and e.record_id is not None for e in mine)
