"""The import plan's JSON (fhir/import_plan.py) is written in pieces, each record's base64 content
spliced in (one `json.dumps` of a large plan copies it twice more): the bytes must parse to exactly
the plan `json.dumps` would have written, names with any characters included."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from healthledger.fhir.import_plan import plan_json

PATIENT = "0x" + "ab" * 20
FILES = {"naïve \"quoted\" \\ résumé ✓.txt": "ünïcode body ✓\n".encode(), "scan.pdf": bytes(range(256)) * 40}


def _document(index: int, title: str, data: bytes) -> dict[str, Any]:
    return {
        "fullUrl": f"urn:uuid:{index}",
        "resource": {
            "resourceType": "DocumentReference",
            "status": "current",
            "type": {"text": "report"},
            "content": [{"attachment": {"contentType": "text/plain", "title": title, "data": base64.b64encode(data).decode()}}],
        },
    }


def _bundle(entries: list[dict[str, Any]]) -> bytes:
    return json.dumps({"resourceType": "Bundle", "type": "collection", "entry": entries}).encode()


def test_the_spliced_plan_is_the_plan() -> None:
    entries = [_document(i, title, data) for i, (title, data) in enumerate(FILES.items())]
    entries.append({"fullUrl": "urn:uuid:x", "resource": {"resourceType": "Patient", "name": [{"text": "Zoë"}]}})

    plan = json.loads(plan_json(_bundle(entries), PATIENT, 1 << 20))

    assert [record["name"] for record in plan["records"]] == list(FILES)
    for record, data in zip(plan["records"], FILES.values(), strict=True):
        assert list(record)[-1] == "content"
        assert base64.b64decode(record["content"], validate=True) == data
        assert record["size"] == len(data) and record["sha256"] == "0x" + hashlib.sha256(data).hexdigest()
        assert record["index"] in (0, 1) and record["recordType"] == "report"
    assert [(entry["index"], entry["code"]) for entry in plan["refused"]] == [(2, "unsupported_resource")]


def test_a_bundle_with_nothing_to_import_is_an_empty_plan() -> None:
    assert json.loads(plan_json(_bundle([]), PATIENT, 1 << 20)) == {"records": [], "refused": []}
    one = json.loads(plan_json(_bundle([_document(0, "a.txt", b"x")]), PATIENT, 1 << 20))
    assert len(one["records"]) == 1 and one["refused"] == []
