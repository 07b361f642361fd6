"""`ProfileStore.doctor_names`, the lookup that lets timelines and bill lists say "Dr X", against real
SecantusDB: named doctors only, addresses in any case, and one query for the lot however many
doctors a page mentions (it was one query per doctor)."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from pymongo import AsyncMongoClient, monitoring
from pymongo.asynchronous.database import AsyncDatabase

from healthledger.db.mongo import ensure_indexes
from healthledger.db.profiles import ProfileStore
from healthledger.devstack.mongo import SecantusServer

pytestmark = pytest.mark.asyncio


class _Commands(monitoring.CommandListener):
    """Names of the commands sent to the server, in order."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.names.append(event.command_name)

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


@pytest_asyncio.fixture
async def watched(mongo_server: SecantusServer) -> AsyncIterator[tuple[AsyncDatabase, _Commands]]:
    commands = _Commands()
    client: AsyncMongoClient = AsyncMongoClient(mongo_server.uri, event_listeners=[commands], serverSelectionTimeoutMS=5000)
    database = client[f"healthledger_profiles_{secrets.token_hex(4)}"]
    await ensure_indexes(database)
    try:
        yield database, commands
    finally:
        await client.drop_database(database.name)
        await client.close()


async def test_named_doctors_in_one_query(watched) -> None:
    database, commands = watched
    profiles = ProfileStore(database)
    doctors = ["0x" + f"{i:040x}" for i in range(1, 13)]
    for i, address in enumerate(doctors):
        await profiles.upsert_doctor(address, f"Dr {i}", f"LIC-{i}", registered=True)
    patient = "0x" + "ab" * 20
    await profiles.set_patient_profile(patient, "A Patient", published=True)
    unknown = "0x" + "cd" * 20

    commands.names.clear()
    asked = [d.upper().replace("0X", "0x") for d in doctors] + [patient, unknown]
    names = await profiles.doctor_names(iter(asked))

    assert names == {address: f"Dr {i}" for i, address in enumerate(doctors)}  # no patient, no unknown
    assert commands.names == ["find"]
    commands.names.clear()
    assert await profiles.doctor_names([]) == {} and commands.names == []
