"""Structured records' FHIR checks (healthledger/fhir/validation.py): each resource type's valid
example passes; each required field missing fails naming it; the subject and the author must be
the record's patient and uploader; the resource type must fit the record type; the Bundle export
validates with fhir.resources."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
from datetime import UTC, datetime

import pytest
from fhir.resources.R4B.bundle import Bundle
from healthledger.domain_errors import DomainError, TooLarge
from healthledger.fhir import MAX_FHIR_BYTES, check_record_resource, parse_stored_resource
from healthledger.fhir.bundle import Anchor, FileRecord, bundle_json, document_entry, structured_entry

from tests.backend.support.fhir import EXAMPLES, encoded, person

PATIENT = "0x" + "a1" * 20
DOCTOR = "0x" + "b2" * 20
OTHER = "0x" + "c3" * 20

# The fields FHIR R4 requires of each resource, and the path the error must name.
REQUIRED = {
    "prescription": [("status", "status"), ("intent", "intent"), ("subject", "subject"),
                     ("medicationCodeableConcept", "medication[x]")],
    "report": [("status", "status"), ("code", "code")],
    "bill": [("status", "status")],
}


def refused(content: bytes, record_type: str, patient: str = PATIENT, author: str = DOCTOR) -> DomainError:
    with pytest.raises(DomainError) as caught:
        check_record_resource(content, record_type, patient, author)
    return caught.value


@pytest.mark.parametrize("record_type", sorted(EXAMPLES))
def test_valid_examples_pass(record_type: str) -> None:
    resource = EXAMPLES[record_type](PATIENT, DOCTOR)
    checked = check_record_resource(encoded(resource), record_type, PATIENT, DOCTOR)
    assert checked.resource_type == resource["resourceType"]


def test_addresses_compare_without_case() -> None:
    resource = EXAMPLES["prescription"](PATIENT.upper().replace("0X", "0x"), DOCTOR)
    check_record_resource(encoded(resource), "prescription", PATIENT, DOCTOR)


@pytest.mark.parametrize(
    ("record_type", "field", "path"), [(kind, field, path) for kind, fields in REQUIRED.items() for field, path in fields]
)
def test_each_required_field_missing_is_named(record_type: str, field: str, path: str) -> None:
    resource = EXAMPLES[record_type](PATIENT, DOCTOR)
    del resource[field]
    error = refused(encoded(resource), record_type)
    assert error.code == "invalid_fhir"
    assert error.details["field"] == path
    assert f"at {path}:" in error.message


def test_a_nested_invalid_field_is_named_by_its_path() -> None:
    resource = EXAMPLES["prescription"](PATIENT, DOCTOR)
    resource["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"]["value"] = "five hundred"
    error = refused(encoded(resource), "prescription")
    assert error.code == "invalid_fhir"
    assert error.details["field"] == "dosageInstruction[0].doseAndRate[0].doseQuantity.value"


def test_an_unknown_field_is_named() -> None:
    resource = EXAMPLES["bill"](PATIENT, DOCTOR)
    resource["lineItem"][0]["price"] = 3
    error = refused(encoded(resource), "bill")
    assert (error.code, error.details["field"]) == ("invalid_fhir", "lineItem[0].price")


@pytest.mark.parametrize(
    "content",
    [b"", b"not json", b"[1, 2]", b'{"resourceType": "Invoice", "status": "issued", "status": "draft"}', b"\xff\xfe{}"],
)
def test_what_is_not_one_json_resource_is_invalid_fhir(content: bytes) -> None:
    assert refused(content, "bill").code == "invalid_fhir"


def test_a_missing_resource_type_is_named() -> None:
    resource = EXAMPLES["bill"](PATIENT, DOCTOR)
    del resource["resourceType"]
    error = refused(encoded(resource), "bill")
    assert (error.code, error.details["field"]) == ("invalid_fhir", "resourceType")


@pytest.mark.parametrize(("record_type", "example"), [("bill", "prescription"), ("prescription", "report"), ("report", "bill")])
def test_the_resource_type_must_fit_the_record_type(record_type: str, example: str) -> None:
    error = refused(encoded(EXAMPLES[example](PATIENT, DOCTOR)), record_type)
    assert error.code == "fhir_kind_mismatch"


def test_another_resource_type_is_a_kind_mismatch() -> None:
    error = refused(encoded({"resourceType": "Patient"}), "prescription")
    assert error.code == "fhir_kind_mismatch"


@pytest.mark.parametrize(("record_type", "field"), [("prescription", "subject"), ("report", "subject"), ("bill", "subject")])
def test_the_subject_must_be_the_patient(record_type: str, field: str) -> None:
    resource = EXAMPLES[record_type](PATIENT, DOCTOR)
    resource[field] = person(OTHER)
    error = refused(encoded(resource), record_type)
    assert (error.code, error.details["field"]) == ("fhir_subject_mismatch", field)


@pytest.mark.parametrize(
    "subject",
    [
        {"reference": "Patient/123"},
        {"identifier": {"system": "urn:other", "value": PATIENT}},
        {"identifier": {"system": "urn:ethereum:address", "value": PATIENT}, "reference": "Patient/1"},
        {"display": PATIENT},
    ],
)
def test_the_subject_is_named_by_address_identifier_only(subject: dict) -> None:
    resource = EXAMPLES["prescription"](PATIENT, DOCTOR)
    resource["subject"] = subject
    assert refused(encoded(resource), "prescription").code == "fhir_subject_mismatch"


@pytest.mark.parametrize(
    ("record_type", "field", "value"),
    [
        ("prescription", "requester", person(OTHER)),
        ("report", "performer", [person(OTHER)]),
        ("report", "performer", [person(DOCTOR), person(OTHER)]),
        ("bill", "issuer", person(OTHER)),
    ],
)
def test_the_author_must_be_the_uploader(record_type: str, field: str, value: object) -> None:
    resource = EXAMPLES[record_type](PATIENT, DOCTOR)
    resource[field] = value
    assert refused(encoded(resource), record_type).code == "fhir_author_mismatch"


@pytest.mark.parametrize(("record_type", "field"), [("prescription", "requester"), ("report", "performer"), ("bill", "issuer")])
def test_a_missing_author_is_refused(record_type: str, field: str) -> None:
    resource = EXAMPLES[record_type](PATIENT, DOCTOR)
    del resource[field]
    assert refused(encoded(resource), record_type).code == "fhir_author_mismatch"


def test_an_invoice_names_the_patient_as_subject_or_recipient() -> None:
    resource = EXAMPLES["bill"](PATIENT, DOCTOR)
    resource["recipient"] = resource.pop("subject")
    check_record_resource(encoded(resource), "bill", PATIENT, DOCTOR)
    del resource["recipient"]
    assert refused(encoded(resource), "bill").code == "fhir_subject_mismatch"
    resource["recipient"] = person(OTHER)
    assert refused(encoded(resource), "bill").code == "fhir_subject_mismatch"


def test_a_report_contains_its_observations() -> None:
    resource = EXAMPLES["report"](PATIENT, DOCTOR)
    dangling = copy.deepcopy(resource)
    dangling["result"] = [{"reference": "Observation/hb"}]
    assert refused(encoded(dangling), "report").details["field"] == "result[0].reference"
    foreign = copy.deepcopy(resource)
    foreign["contained"][0]["subject"] = person(OTHER)
    assert refused(encoded(foreign), "report").code == "fhir_subject_mismatch"
    other_type = copy.deepcopy(resource)
    other_type["contained"].append({"resourceType": "Patient", "id": "p"})
    assert refused(encoded(other_type), "report").details["field"] == "contained[1]"


def test_a_patients_own_record_names_them_as_author() -> None:
    resource = EXAMPLES["prescription"](PATIENT, PATIENT)
    check_record_resource(encoded(resource), "prescription", PATIENT, PATIENT)
    assert refused(encoded(resource), "prescription", PATIENT, DOCTOR).code == "fhir_author_mismatch"


def test_the_size_is_capped() -> None:
    resource = EXAMPLES["prescription"](PATIENT, DOCTOR)
    resource["note"] = [{"text": "x" * MAX_FHIR_BYTES}]
    with pytest.raises(TooLarge) as caught:
        check_record_resource(encoded(resource), "prescription", PATIENT, DOCTOR)
    assert caught.value.code == "fhir_too_large"


def test_the_bundle_validates_and_carries_the_anchors() -> None:
    anchor = Anchor(31337, "0x" + "D4" * 20, 3, "0x" + "11" * 32, "0x" + "22" * 32, "QmCid", "0x" + "33" * 32)
    report = parse_stored_resource(encoded(EXAMPLES["report"](PATIENT, DOCTOR)))
    file = FileRecord(PATIENT, None, "bill", "invoice.pdf", "application/pdf", datetime(2026, 11, 30))
    text = bundle_json(
        [structured_entry(report, anchor), document_entry(file, b"%PDF-1.4 invoice", anchor)],
        {"pending": 1},
        datetime.now(UTC),
    )
    bundle = Bundle.model_validate_json(text)
    assert bundle.type == "collection" and len(bundle.entry) == 2
    document = json.loads(text)
    structured, doc_ref = (entry["resource"] for entry in document["entry"])
    assert structured["resourceType"] == "DiagnosticReport"
    assert structured["contained"][0]["valueQuantity"]["value"] == 19.5
    anchors = {i["system"]: i["value"] for i in doc_ref["identifier"]}
    assert anchors["urn:healthledger:anchor"] == f"eip155:31337:{anchor.vault}/3"
    assert anchors["urn:healthledger:anchor-tx"] == anchor.tx_hash
    attachment = doc_ref["content"][0]["attachment"]
    assert attachment["data"] == "JVBERi0xLjQgaW52b2ljZQ=="  # base64 of the file
    assert attachment["size"] == 16
    assert attachment["extension"][0]["valueString"] == hashlib.sha256(b"%PDF-1.4 invoice").hexdigest()
    assert attachment["hash"] == base64.b64encode(hashlib.sha1(b"%PDF-1.4 invoice").digest()).decode()
    skipped = document["meta"]["extension"][0]
    assert skipped["extension"] == [{"url": "pending", "valueUnsignedInt": 1}]


def stay_invoice(patient: str, doctor: str) -> dict:
    """A stay invoice as the web app builds it (frontend/src/fhir/build.ts): the room line references
    a contained ChargeItem, in the context of a contained inpatient Encounter."""
    period = {"start": "2026-11-02", "end": "2026-11-05"}
    resource = EXAMPLES["bill"](patient, doctor)
    resource["contained"] = [
        {"resourceType": "ChargeItem", "id": "stay-room", "status": "billable", "code": {"text": "12B"},
         "subject": person(patient), "context": {"reference": "#stay"}, "occurrencePeriod": period,
         "quantity": {"value": 3, "unit": "night", "system": "http://unitsofmeasure.org", "code": "d"}},
        {"resourceType": "Encounter", "id": "stay", "status": "finished",
         "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP",
                   "display": "inpatient encounter"},
         "subject": person(patient), "period": period, "location": [{"location": {"display": "12B"}}]},
    ]
    resource["lineItem"].append({
        "sequence": len(resource["lineItem"]) + 1,
        "chargeItemReference": {"reference": "#stay-room", "display": "Room 12B, 3 nights"},
        "priceComponent": [{"type": "base", "factor": 3, "amount": {"value": 450, "currency": "EUR"}}],
    })
    return resource


def test_a_stay_invoice_contains_its_encounter_and_room_charge() -> None:
    checked = check_record_resource(encoded(stay_invoice(PATIENT, DOCTOR)), "bill", PATIENT, DOCTOR)
    assert [item.get_resource_type() for item in checked.resource.contained] == ["ChargeItem", "Encounter"]


@pytest.mark.parametrize("index", [0, 1])
def test_a_stay_invoice_cannot_contain_another_patients_stay(index: int) -> None:
    resource = stay_invoice(PATIENT, DOCTOR)
    resource["contained"][index]["subject"] = person(OTHER)
    error = refused(encoded(resource), "bill")
    assert error.code == "fhir_subject_mismatch"
    assert error.details["field"] == f"contained[{index}].subject"
