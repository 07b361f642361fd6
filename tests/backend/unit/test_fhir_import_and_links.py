"""The pure parts of amendments and import (healthledger/fhir/amendments.py, fhir/importing.py):
reading an amendment's link, and what each kind of Bundle entry becomes."""

from __future__ import annotations

import base64
import hashlib
import json

import pytest
from healthledger.domain_errors import DomainError
from healthledger.fhir.amendments import replaces_link
from healthledger.fhir.importing import prepare_entries

from tests.backend.support.fhir import diagnostic_report, medication_request

PATIENT = "0x" + "ab" * 20
DOCTOR = "0x" + "cd" * 20
ANCHOR = "eip155:31337:0x" + "12" * 20 + "/3"
LINK = {"url": "urn:healthledger:fhir:replaces", "valueIdentifier": {"system": "urn:healthledger:anchor", "value": ANCHOR}}


def _code(call) -> str:
    with pytest.raises(DomainError) as caught:
        call()
    return caught.value.code


def test_the_replaces_link() -> None:
    resource = medication_request(PATIENT, DOCTOR)
    assert replaces_link(resource) is None
    assert replaces_link({**resource, "extension": [LINK]}) == ANCHOR
    prior = {"identifier": {"system": "urn:healthledger:anchor", "value": ANCHOR}}
    assert replaces_link({**resource, "extension": [LINK], "priorPrescription": prior}) == ANCHOR
    other = {"identifier": {"system": "urn:healthledger:anchor", "value": ANCHOR + "0"}}
    assert _code(lambda: replaces_link({**resource, "extension": [LINK], "priorPrescription": other})) == "fhir_replaces_mismatch"
    assert _code(lambda: replaces_link({**resource, "priorPrescription": prior})) == "fhir_replaces_mismatch"
    assert _code(lambda: replaces_link({**resource, "extension": [LINK, LINK]})) == "fhir_replaces_mismatch"
    wrong = {"url": LINK["url"], "valueString": ANCHOR}
    assert _code(lambda: replaces_link({**resource, "extension": [wrong]})) == "fhir_replaces_mismatch"


def _bundle(*resources: dict, urls: list[str] | None = None) -> bytes:
    entries = [{"resource": r, **({"fullUrl": urls[i]} if urls else {})} for i, r in enumerate(resources)]
    return json.dumps({"resourceType": "Bundle", "type": "collection", "entry": entries}).encode()


def test_a_structured_resource_becomes_the_patients_own() -> None:
    resource = medication_request("0x" + "11" * 20, DOCTOR)
    resource.update(
        id="abc",
        meta={"versionId": "7"},
        identifier=[{"system": "urn:healthledger:anchor", "value": ANCHOR}, {"system": "https://clinic.example/rx", "value": "42"}],
        extension=[LINK, {"url": "urn:healthledger:fhir:content-salt", "valueString": "0x00"}],
    )
    (record,), refused = prepare_entries(_bundle(resource, urls=["https://clinic.example/MedicationRequest/abc"]), PATIENT, 1000)
    assert refused == []
    document = json.loads(record.content)
    assert (record.record_type, record.content_type) == ("prescription", "application/fhir+json")
    assert document["subject"]["identifier"]["value"] == document["requester"]["identifier"]["value"] == PATIENT
    assert "id" not in document and "meta" not in document
    assert document["identifier"] == [{"system": "https://clinic.example/rx", "value": "42"}]  # the provider's own kept
    (source,) = document["extension"]
    assert source["url"] == "urn:healthledger:fhir:source"
    assert source["extension"][0] == {"url": "fullUrl", "valueUri": "https://clinic.example/MedicationRequest/abc"}
    assert source["extension"][1]["valueReference"]["identifier"]["value"] == DOCTOR
    assert record.name == "Amoxicillin 500 mg capsule (imported)"


def test_a_reports_results_sent_as_separate_entries_are_contained() -> None:
    report = diagnostic_report(DOCTOR, DOCTOR)
    (observation,) = report.pop("contained")
    observation = {**observation, "id": "obs-1", "subject": {"reference": "Patient/9"}}
    report["result"] = [{"reference": "urn:uuid:obs-1"}]
    (record,), refused = prepare_entries(_bundle(report, observation, urls=["urn:uuid:r", "urn:uuid:obs-1"]), PATIENT, 1000)
    assert refused == []
    document = json.loads(record.content)
    assert document["result"] == [{"reference": "#result-0"}]
    assert document["contained"][0]["valueQuantity"]["value"] == 19.5
    assert document["contained"][0]["subject"]["identifier"]["value"] == PATIENT


def test_documents_are_their_files_and_their_hashes_are_checked() -> None:
    data = b"%PDF-1.4 letter"
    attachment = {
        "contentType": "application/pdf",
        "data": base64.b64encode(data).decode(),
        "title": "letter.pdf",
        "hash": base64.b64encode(hashlib.sha1(data).digest()).decode(),
        "extension": [{"url": "urn:healthledger:fhir:attachment-sha256", "valueString": hashlib.sha256(data).hexdigest()}],
    }
    document = {"resourceType": "DocumentReference", "status": "current", "category": [{"text": "bill"}], "content": [{"attachment": attachment}]}
    (record,), _ = prepare_entries(_bundle(document), PATIENT, 1000)
    assert (record.content, record.content_type, record.name, record.record_type) == (data, "application/pdf", "letter.pdf", "bill")
    _, (too_big,) = prepare_entries(_bundle(document), PATIENT, 4)
    assert too_big.code == "file_too_large"
    tampered = {**document, "content": [{"attachment": {**attachment, "extension": [{"url": "urn:healthledger:fhir:attachment-sha256", "valueString": "00"}]}}]}
    _, (refused,) = prepare_entries(_bundle(tampered), PATIENT, 1000)
    assert refused.code == "attachment_hash_mismatch"


def test_not_a_bundle() -> None:
    assert _code(lambda: prepare_entries(b"\xff", PATIENT, 10)) == "invalid_fhir"
    assert _code(lambda: prepare_entries(b'{"resourceType": "Patient"}', PATIENT, 10)) == "invalid_fhir"
    many = json.dumps({"resourceType": "Bundle", "type": "collection", "entry": [{}] * 501}).encode()
    assert _code(lambda: prepare_entries(many, PATIENT, 10)) == "too_many_entries"
