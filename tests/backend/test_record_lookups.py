"""The lookups every upload makes by patient seek an index on exactly their fields, against real SecantusDB.

An upload looks up its own earlier attempt (`find_attempt`) and the records the chain lost
(`on_chain_from`, also before every signing payload); a conflict looks up a record id's holder
(`holder_of`); an amendment looks up a version's successor (`successor_of`). Before, none of them was
served by an index on its fields: SecantusDB scanned the whole collection for each (MongoDB would
read every record of the patient, or every record for a successor), and an upload by a patient with
10,000 records took 3.1 times a new patient's (scripts/bench_integrity.py). The filters
the store sends are captured from the driver and explained by the server: the plan must scan an
index whose key is exactly the filter's fields.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import pytest_asyncio
from pymongo import ASCENDING, AsyncMongoClient, monitoring
from pymongo.asynchronous.database import AsyncDatabase

from healthledger.db.mongo import (
    RECORD_ID_INDEX,
    RECORD_ID_INDEX_BEFORE,
    REPLACES_INDEX,
    REPLACES_INDEX_BEFORE,
    ensure_indexes,
)
from healthledger.db.records import RecordStore
from healthledger.devstack.mongo import SecantusServer
from tests.backend.fixtures.mongo import fresh_database

pytestmark = pytest.mark.asyncio

PATIENT = "0x" + "aa" * 20
OTHER = "0x" + "bb" * 20
DOCTOR = "0x" + "dd" * 20


class FindFilters(monitoring.CommandListener):
    """The filter of every `find` command the client sends to the records collection."""

    def __init__(self) -> None:
        self.filters: list[dict[str, Any]] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name == "find" and event.command.get("find") == "records":
            self.filters.append(dict(event.command.get("filter") or {}))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


@pytest.fixture
def finds() -> FindFilters:
    return FindFilters()


@pytest_asyncio.fixture
async def db(mongo_server: SecantusServer, finds: FindFilters) -> AsyncIterator[AsyncDatabase]:
    async with fresh_database(mongo_server, "healthledger_lookups", [finds]) as database:
        await seed(database)
        finds.filters.clear()
        yield database


def _doc(patient: str, i: int, **fields: Any) -> dict[str, Any]:
    return {
        "patient": patient, "cid": f"bafk{patient[-4:]}{i:06d}", "record_type": "report", "name": f"r{i}",
        "content_type": "application/pdf", "content_hash": "0x" + f"{i:064x}", "ciphertext_hash": "0x" + "00" * 32,
        "size": 1, "ciphertext_size": 1, "wrapped_key": "", "vault_address": "0x" + "11" * 20,
        "state": "confirmed", "record_id": i, "relay": {"kind": 2, "nonce": i, "deadline": 1, "signature": "0x"},
        "created_at": datetime.now(UTC), **fields,
    }


async def seed(db: AsyncDatabase) -> None:
    docs = [_doc(PATIENT, i) for i in range(40)] + [_doc(OTHER, i) for i in range(40, 60)]
    docs.append(_doc(PATIENT, 100, state="pending", record_id=None))  # an upload on its way
    docs.append(_doc(PATIENT, 101, state="pending", author=DOCTOR, record_id=None))  # a doctor's
    docs.append(_doc(PATIENT, 102, state="anchored", record_id=41))  # on chain, past the count below
    docs.append(_doc(PATIENT, 103, state="pending", record_id=None, replaces=_doc(PATIENT, 5)["cid"]))  # amends 5
    await db["records"].insert_many(docs)


def index_scans(plan: Any) -> Iterator[dict[str, Any]]:
    """Every IXSCAN stage's key pattern anywhere in an explain answer (mongod and SecantusDB nest them differently)."""
    if isinstance(plan, dict):
        if plan.get("stage") == "IXSCAN":
            yield dict(plan.get("keyPattern") or {})
        for value in plan.values():
            yield from index_scans(value)
    elif isinstance(plan, list):
        for value in plan:
            yield from index_scans(value)


async def assert_each_find_seeks_its_own_index(db: AsyncDatabase, finds: FindFilters, count: int) -> None:
    """The `count` finds sent since the seed each scan one index whose key is exactly the filter's fields."""
    assert len(finds.filters) == count, finds.filters
    for query in finds.filters:
        explained = await db.command("explain", {"find": "records", "filter": query}, verbosity="queryPlanner")
        scans = list(index_scans(explained["queryPlanner"]["winningPlan"]))
        assert [set(key) for key in scans] == [set(query)], (query, explained["queryPlanner"]["winningPlan"])


async def test_an_uploads_retry_check_finds_its_attempt_through_the_patient_and_hash_index(db, finds) -> None:
    store = RecordStore(db)

    found = await store.find_attempt(PATIENT.upper().replace("0X", "0x"), "0x" + f"{100:064x}", 100)
    assert found is not None and found.cid == _doc(PATIENT, 100)["cid"]
    assert await store.find_attempt(PATIENT, "0x" + f"{100:064x}", 99) is None  # another nonce
    assert await store.find_attempt(PATIENT, "0x" + f"{100:064x}", 100, DOCTOR) is None  # another uploader
    by_doctor = await store.find_attempt(PATIENT, "0x" + f"{101:064x}", 101, DOCTOR.upper().replace("0X", "0x"))
    assert by_doctor is not None and by_doctor.author == DOCTOR
    assert await store.find_attempt(PATIENT, "0x" + f"{101:064x}", 101) is None  # the doctor's, not the patient's
    assert await store.find_attempt(OTHER, "0x" + f"{100:064x}", 100) is None  # another vault

    await assert_each_find_seeks_its_own_index(db, finds, 6)


async def test_the_lost_records_check_and_a_record_ids_holder_seek_the_record_id_index(db, finds) -> None:
    store = RecordStore(db)

    lost = await store.on_chain_from(PATIENT, 39)
    assert sorted(r.record_id for r in lost) == [39, 41]  # on chain only: pending documents have no id
    assert await store.on_chain_from(PATIENT, 42) == []
    holder = await store.holder_of(PATIENT, 7)
    assert holder is not None and holder.cid == _doc(PATIENT, 7)["cid"]
    assert await store.holder_of(PATIENT, 45) is None  # that id is another patient's

    await assert_each_find_seeks_its_own_index(db, finds, 4)


async def test_an_amendments_successor_check_seeks_the_replaces_index(db, finds) -> None:
    store = RecordStore(db)

    successor = await store.successor_of(_doc(PATIENT, 5)["cid"])
    assert successor is not None and successor.cid == _doc(PATIENT, 103)["cid"]
    assert await store.successor_of(_doc(PATIENT, 6)["cid"]) is None

    await assert_each_find_seeks_its_own_index(db, finds, 2)


async def test_the_partial_indexes_of_an_earlier_version_are_replaced_by_instances_starting_together(
    mongo_server: SecantusServer,
) -> None:
    client: AsyncMongoClient = AsyncMongoClient(mongo_server.uri)
    database = client[f"healthledger_lookups_{secrets.token_hex(4)}"]
    try:
        records = database["records"]
        await records.create_index(
            [("patient", ASCENDING), ("record_id", ASCENDING)], unique=True,
            partialFilterExpression={"record_id": {"$type": "number"}},
        )
        await records.create_index(
            [("replaces", ASCENDING)], unique=True, partialFilterExpression={"replaces": {"$type": "string"}}
        )
        await records.insert_many([
            _doc(PATIENT, 0, replaces=None), _doc(PATIENT, 1, state="pending", record_id=None, replaces=None),
            _doc(PATIENT, 2, replaces="bafk-version-1"),
        ])

        await asyncio.gather(*(ensure_indexes(database) for _ in range(3)))

        indexes = await records.index_information()
        assert RECORD_ID_INDEX_BEFORE not in indexes and REPLACES_INDEX_BEFORE not in indexes
        assert indexes[RECORD_ID_INDEX]["unique"] and indexes[REPLACES_INDEX]["unique"]
        with pytest.raises(Exception, match="E11000|duplicate key"):  # one document per patient and record id
            await records.insert_one(_doc(PATIENT, 0, cid="bafk-another"))
        with pytest.raises(Exception, match="E11000|duplicate key"):  # one successor per version
            await records.insert_one(_doc(PATIENT, 3, replaces="bafk-version-1"))
        # Unique among ids and versions, not among their absence: many pending uploads, many originals.
        await records.insert_one(_doc(PATIENT, 4, state="pending", record_id=None, replaces=None))
        await records.insert_one(_doc(PATIENT, 5, state="pending", record_id=None))
    finally:
        await client.drop_database(database.name)
        await client.close()
