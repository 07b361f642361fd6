"""The export's Bundle is built in a worker process (fhir/export_bundle.py, process_workers.py): its
inputs pickle, and what comes back is the validated Bundle, each record as itself while it still
validates and as a DocumentReference with the file inline otherwise."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest
from fhir.resources.R4B.bundle import Bundle
from healthledger.fhir.bundle import Anchor, FileRecord
from healthledger.fhir.export_bundle import ExportItem, export_bundle_json
from healthledger.process_workers import ProcessWorkers

from tests.backend.support.fhir import encoded, medication_request

PATIENT = "0x" + "Ab" * 20
CREATED = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def _item(index: int, content: bytes, content_type: str, structured: bool) -> ExportItem:
    anchor = Anchor(
        chain_id=31337, vault="0x" + "12" * 20, record_id=index, tx_hash="0x" + "34" * 32,
        content_hash="0x" + "56" * 32, cid=f"bafkreicid{index}", salt="0x" + "78" * 32,
    )
    file = FileRecord(patient=PATIENT, author=None, record_type="report", name=f"record {index}",
                      content_type=content_type, created_at=CREATED)
    return ExportItem(anchor=anchor, file=file, content=content, structured=structured)



@pytest.mark.asyncio
async def test_the_bundle_comes_back_from_a_worker_validated(workers: ProcessWorkers) -> None:
    prescription = encoded(medication_request(PATIENT, PATIENT))
    items = [
        _item(0, prescription, "application/fhir+json", structured=True),
        _item(1, b"%PDF-1.7 scan", "application/pdf", structured=False),
        _item(2, b'{"resourceType": "MedicationRequest"}', "application/fhir+json", structured=True),  # no longer valid
    ]

    body = await workers.run(export_bundle_json, items, [], {"pending": 1}, CREATED)

    assert isinstance(body, bytes)
    bundle = Bundle.model_validate_json(body)
    assert [entry.resource.get_resource_type() for entry in bundle.entry or []] == [
        "MedicationRequest", "DocumentReference", "DocumentReference"
    ]
    document = json.loads(body)
    attachments = [entry["resource"]["content"][0]["attachment"] for entry in document["entry"][1:]]
    assert [base64.b64decode(attachment["data"]) for attachment in attachments] == [b"%PDF-1.7 scan", items[2].content]
    skipped = document["meta"]["extension"][0]["extension"]
    assert skipped == [{"url": "pending", "valueUnsignedInt": 1}]
