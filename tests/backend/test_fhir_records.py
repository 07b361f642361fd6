"""FHIR structured records end to end, against the real Anvil, js-ipfs and SecantusDB over HTTP.

A doctor with a write grant uploads a MedicationRequest and a DiagnosticReport (one Observation out
of range) as `application/fhir+json`; the patient exports every record as a FHIR Bundle, which
validates with fhir.resources and ties each entry to its anchor; a doctor's Bundle holds only what
is shared with them, while it is; an invalid FHIR upload is refused before anything is stored.
"""

from __future__ import annotations

import base64
import os

import httpx
import pytest
from fhir.resources.R4B.bundle import Bundle
from healthledger.chain.client import ChainClient
from pymongo.database import Database

from .support import access
from .support.doctor_records import doctor_upload
from .support.fhir import diagnostic_report, encoded, medication_request
from .support.records import upload
from .support.responses import expect_error, expect_ok
from .support.wallet import Wallet

DAY = 86400
FHIR_JSON = "application/fhir+json"
BUNDLE = "/api/fhir/bundle"


def export(client: httpx.Client, wallet: Wallet, patient: str | None = None) -> httpx.Response:
    params = {"patient": patient} if patient else None
    return client.get(BUNDLE, params=params, headers={**wallet.headers, "X-Wallet-Signature": wallet.key_signature(client)})


def resources(response: httpx.Response) -> dict[str, dict]:
    """The Bundle's resources by CID (from each entry's fullUrl), after validating it with fhir.resources."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith(FHIR_JSON)
    bundle = Bundle.model_validate_json(response.content)
    assert bundle.type == "collection"
    document = response.json()
    return {entry["fullUrl"].removeprefix("urn:healthledger:record:"): entry["resource"] for entry in document.get("entry", [])}


def identifiers(resource: dict) -> dict[str, str]:
    return {identifier["system"]: identifier["value"] for identifier in resource["identifier"]}


@pytest.mark.asyncio
async def test_a_doctor_writes_structured_records_and_the_patient_exports_them(
    client: httpx.Client, keyed_patient: Wallet, writer: Wallet, chain_client: ChainClient, db: Database
) -> None:
    patient = keyed_patient
    pdf = b"%PDF-1.4 discharge letter " + os.urandom(200)
    own = expect_ok(upload(client, patient, pdf, "report", "letter.pdf"), 201)
    expect_ok(access.write_grant(client, patient, writer.address, DAY))

    prescription = encoded(medication_request(patient.address, writer.address))
    rx = expect_ok(doctor_upload(client, writer, patient.address, prescription, "prescription", "rx.json", content_type=FHIR_JSON), 201)
    report_bytes = encoded(diagnostic_report(patient.address, writer.address))
    lab = expect_ok(doctor_upload(client, writer, patient.address, report_bytes, "report", "cbc.json", content_type=FHIR_JSON), 201)
    assert rx["content_type"] == lab["content_type"] == FHIR_JSON
    assert rx["size"] == len(prescription)  # the signed bytes, stored as sent

    views_before = db["record_views"].count_documents({"patient": patient.address.lower()})
    response = export(client, patient)
    exported = resources(response)
    assert response.headers["x-records-exported"] == "3" and response.headers["x-records-skipped"] == ""
    assert set(exported) == {own["cid"], rx["cid"], lab["cid"]}
    # Every exported record went through the view path, and was logged as a view.
    assert db["record_views"].count_documents({"patient": patient.address.lower()}) == views_before + 3

    # Structured records as themselves: the doctor's values, the out-of-range result flagged.
    medication = exported[rx["cid"]]
    assert medication["resourceType"] == "MedicationRequest"
    assert medication["requester"]["identifier"]["value"] == writer.address
    assert medication["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"]["value"] == 500
    report = exported[lab["cid"]]
    assert report["resourceType"] == "DiagnosticReport" and report["result"] == [{"reference": "#hb"}]
    (observation,) = report["contained"]
    assert observation["valueQuantity"]["value"] == 19.5 > observation["referenceRange"][0]["high"]["value"]
    assert observation["interpretation"][0]["coding"][0]["code"] == "H"

    # The file as a DocumentReference, inline, with its hashes.
    document = exported[own["cid"]]
    assert document["resourceType"] == "DocumentReference"
    attachment = document["content"][0]["attachment"]
    assert base64.b64decode(attachment["data"]) == pdf
    assert (attachment["contentType"], attachment["size"]) == ("application/pdf", len(pdf))
    assert document["subject"]["identifier"]["value"].lower() == patient.address.lower()

    # Each entry's anchor is the chain's: the vault, the record id, the transaction, the commitment.
    chain_id = await chain_client.chain_id()
    for record, resource in ((own, document), (rx, medication), (lab, report)):
        anchor = identifiers(resource)
        vault, record_id = anchor["urn:healthledger:anchor"].removeprefix(f"eip155:{chain_id}:").split("/")
        assert (vault.lower(), int(record_id)) == (record["vault_address"].lower(), record["record_id"])
        assert anchor["urn:healthledger:anchor-tx"] == record["tx_hash"]
        assert anchor["urn:healthledger:content-hash"] == record["content_hash"]
        on_chain = await chain_client.get_record(patient.address, record["record_id"])
        assert on_chain is not None and on_chain.content_hash.lower() == anchor["urn:healthledger:content-hash"]

    # The author under a live write grant exports what they wrote, not the patient's own file.
    assert set(resources(export(client, writer, patient.address))) == {rx["cid"], lab["cid"]}


@pytest.mark.asyncio
async def test_a_doctors_bundle_holds_only_what_is_shared_while_it_is(
    client: httpx.Client, keyed_patient: Wallet, doctor_wallet: Wallet
) -> None:
    patient = keyed_patient
    shared = expect_ok(upload(client, patient, b"%PDF-1.4 shared " + os.urandom(100)), 201)
    private = expect_ok(upload(client, patient, b"%PDF-1.4 private " + os.urandom(100)), 201)
    request = expect_ok(access.request_access(client, doctor_wallet, patient.address), 201)
    expect_ok(access.approve(client, patient, request["id"], doctor_wallet.address, [shared["record_id"]], 1))

    assert set(resources(export(client, doctor_wallet, patient.address))) == {shared["cid"]}
    assert set(resources(export(client, patient))) == {shared["cid"], private["cid"]}

    expect_error(export(client, doctor_wallet), 400, "missing_patient")
    expect_error(export(client, patient, doctor_wallet.address), 403, "not_allowed")
    no_key = client.get(BUNDLE, params={"patient": patient.address}, headers=doctor_wallet.headers)
    expect_error(no_key, 400, "missing_wallet_signature")

    expect_ok(access.revoke(client, patient, doctor_wallet.address))
    assert resources(export(client, doctor_wallet, patient.address)) == {}


@pytest.mark.asyncio
async def test_records_not_verified_are_skipped_and_counted(client: httpx.Client, keyed_patient: Wallet, db: Database) -> None:
    first = expect_ok(upload(client, keyed_patient, os.urandom(300)), 201)
    second = expect_ok(upload(client, keyed_patient, os.urandom(300)), 201)
    # One record as if its transaction were not mined yet, so no read path may open it.
    db["records"].update_one({"cid": second["cid"]}, {"$set": {"state": "pending", "record_id": None}})

    response = export(client, keyed_patient)
    assert set(resources(response)) == {first["cid"]}
    assert response.headers["x-records-skipped"] == "pending=1"
    skipped = response.json()["meta"]["extension"][0]
    assert skipped["url"] == "urn:healthledger:fhir:skipped-records"
    assert skipped["extension"] == [{"url": "pending", "valueUnsignedInt": 1}]


@pytest.mark.asyncio
async def test_invalid_fhir_uploads_leave_nothing_stored(
    client: httpx.Client, keyed_patient: Wallet, writer: Wallet, chain_client: ChainClient, db: Database
) -> None:
    patient = keyed_patient
    expect_ok(access.write_grant(client, patient, writer.address, DAY))
    nonce = await chain_client.nonce_of(patient.address, writer.address)
    stranger = Wallet.random().address

    def sent_as_doctor(resource: dict, record_type: str = "prescription") -> httpx.Response:
        return doctor_upload(client, writer, patient.address, encoded(resource), record_type, "rx.json", content_type=FHIR_JSON)

    missing_intent = medication_request(patient.address, writer.address)
    del missing_intent["intent"]
    body = expect_error(sent_as_doctor(missing_intent), 400, "invalid_fhir")
    assert body["error"]["field"] == "intent" and "intent" in body["error"]["message"]

    bad_dose = medication_request(patient.address, writer.address)
    bad_dose["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"]["value"] = "lots"
    body = expect_error(sent_as_doctor(bad_dose), 400, "invalid_fhir")
    assert body["error"]["field"] == "dosageInstruction[0].doseAndRate[0].doseQuantity.value"

    expect_error(sent_as_doctor(medication_request(stranger, writer.address)), 400, "fhir_subject_mismatch")
    expect_error(sent_as_doctor(medication_request(patient.address, stranger)), 400, "fhir_author_mismatch")
    expect_error(sent_as_doctor(medication_request(patient.address, writer.address), "bill"), 400, "fhir_kind_mismatch")
    too_big = medication_request(patient.address, writer.address)
    too_big["note"] = [{"text": "x" * (1024 * 1024)}]
    expect_error(sent_as_doctor(too_big), 413, "fhir_too_large")

    # The patient's own upload is checked the same way (the patient is then its author).
    own = medication_request(patient.address, patient.address)
    del own["subject"]
    expect_error(upload(client, patient, encoded(own), "prescription", "rx.json", content_type=FHIR_JSON), 400, "invalid_fhir")

    assert db["records"].count_documents({"patient": patient.address.lower()}) == 0
    assert await chain_client.nonce_of(patient.address, writer.address) == nonce  # nothing anchored or spent

    # A valid one, right after, goes through: the refusals left no state behind.
    own_ok = encoded(medication_request(patient.address, patient.address))
    added = expect_ok(upload(client, patient, own_ok, "prescription", "rx.json", content_type=FHIR_JSON), 201)
    viewed = client.get(
        f"/api/medical-records/view/{added['cid']}", headers={**patient.headers, "X-Wallet-Signature": patient.key_signature(client)}
    )
    assert viewed.content == own_ok and viewed.headers["content-type"].startswith(FHIR_JSON)


@pytest.mark.asyncio
async def test_a_tampered_record_is_skipped_and_counted(client: httpx.Client, keyed_patient: Wallet, db: Database) -> None:
    """A record whose stored hash was edited fails the view's checks: it is left out and counted,
    the others are exported."""
    good = expect_ok(upload(client, keyed_patient, os.urandom(300)), 201)
    bad = expect_ok(upload(client, keyed_patient, os.urandom(300)), 201)
    db["records"].update_one({"cid": bad["cid"]}, {"$set": {"content_hash": "0x" + "ab" * 32}})

    response = export(client, keyed_patient)
    assert set(resources(response)) == {good["cid"]}
    assert response.headers["x-records-skipped"] == "integrity_failed=1"


@pytest.mark.asyncio
async def test_a_bundle_over_the_cap_is_refused(
    client: httpx.Client, keyed_patient: Wallet, monkeypatch: pytest.MonkeyPatch
) -> None:
    from healthledger.services import fhir_export

    for _ in range(2):
        expect_ok(upload(client, keyed_patient, os.urandom(400)), 201)
    monkeypatch.setattr(fhir_export, "EXPORT_MAX_BYTES", 700)
    expect_error(export(client, keyed_patient), 413, "bundle_too_large")
    monkeypatch.setattr(fhir_export, "EXPORT_MAX_BYTES", 800)
    assert len(resources(export(client, keyed_patient))) == 2
