"""FHIR Bundle work takes turns (services/fhir_import.py): a Bundle near the upload limit is held
several times over in memory, and four prepared at once grew an API instance by 536-719 MB.
A request waiting for its turn must not have read its body yet."""

from __future__ import annotations

import asyncio
import base64
import json
from types import SimpleNamespace

import pytest
from healthledger.api.schemas.fhir import ImportPlan
from healthledger.domain_errors import DomainError, InvalidInput
from healthledger.process_workers import ProcessWorkers
from healthledger.services.fhir_import import prepare_import

PATIENT = "0x" + "ab" * 20
BUNDLE = json.dumps(
    {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {
                "fullUrl": "urn:uuid:1",
                "resource": {
                    "resourceType": "DocumentReference",
                    "status": "current",
                    "type": {"text": "report"},
                    "content": [
                        {"attachment": {"contentType": "text/plain", "title": "note.txt", "data": base64.b64encode(b"hello").decode()}}
                    ],
                },
            }
        ],
    }
).encode()



def _services(turns: int, workers: ProcessWorkers) -> SimpleNamespace:
    return SimpleNamespace(
        bundle_turns=asyncio.Semaphore(turns), cpu_workers=workers, settings=SimpleNamespace(max_upload_bytes=1 << 20)
    )


@pytest.mark.asyncio
async def test_a_bundle_waits_for_its_turn_before_its_body_is_read(workers: ProcessWorkers) -> None:
    services = _services(turns=1, workers=workers)
    reads: list[str] = []
    first_reading, first_may_finish = asyncio.Event(), asyncio.Event()

    async def first_body() -> bytes:
        reads.append("first")
        first_reading.set()
        await first_may_finish.wait()
        return BUNDLE

    async def second_body() -> bytes:
        reads.append("second")
        return BUNDLE

    first = asyncio.create_task(prepare_import(services, PATIENT, first_body))
    await first_reading.wait()
    second = asyncio.create_task(prepare_import(services, PATIENT, second_body))
    for _ in range(10):  # every chance to run: it must stay parked at the turn
        await asyncio.sleep(0)
    assert reads == ["first"], "the second Bundle's body was read while the first held the only turn"
    assert not second.done()

    first_may_finish.set()
    plans = await asyncio.wait_for(asyncio.gather(first, second), timeout=30)

    assert reads == ["first", "second"]
    for plan in plans:
        parsed = ImportPlan.model_validate_json(plan)
        assert [(record.name, base64.b64decode(record.content)) for record in parsed.records] == [("note.txt", b"hello")]
    assert not services.bundle_turns.locked()


@pytest.mark.asyncio
async def test_a_refused_bundle_gives_its_turn_back(workers: ProcessWorkers) -> None:
    services = _services(turns=1, workers=workers)

    async def not_a_bundle() -> bytes:
        return b"[]"

    with pytest.raises(DomainError) as refused:
        await prepare_import(services, PATIENT, not_a_bundle)
    assert type(refused.value) is InvalidInput  # raised in the worker, arrives as itself
    assert refused.value.code == "invalid_fhir"
    assert not services.bundle_turns.locked()
