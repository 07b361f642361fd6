"""Importing a FHIR Bundle, against the real Anvil, js-ipfs and SecantusDB over HTTP.

Round trip: a doctor writes a prescription, a lab report and an invoice into one patient's vault,
the patient adds a PDF; the patient exports the Bundle; a second patient prepares its import, signs
each prepared record with consecutive nonces (all signed first, as the web app would) and uploads
them through the ordinary upload; their export then holds equivalent resources, authored by the
second patient, with the source noted. Entries that cannot be imported are listed, not fatal.
"""

from __future__ import annotations

import base64
import os
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fhir.resources.R4B.bundle import Bundle
from healthledger.api.schemas.fhir import ImportPlan
from healthledger.chain.relayer import Relayer
from pymongo.database import Database

from .fixtures.wallets import registered_doctor
from .support import access
from .support.doctor_records import doctor_upload, register_key
from .support.fhir import diagnostic_report, encoded, invoice, medication_request
from .support.records import add_record_payload, salt_for, signed_fields, upload
from .support.responses import expect_error, expect_ok
from .support.wallet import Wallet

DAY = 86400
FHIR_JSON = "application/fhir+json"
PREPARE = "/api/fhir/import/prepare"
# What an export or an import may change: ids, meta, HealthLedger's identifiers and extensions, the people.
VOLATILE = {"id", "meta", "identifier", "extension", "subject", "requester", "performer", "issuer", "recipient"}


@pytest_asyncio.fixture
async def writer(client: httpx.Client, registrar_relayer: Relayer, db: Database) -> Wallet:
    doctor = await registered_doctor(client, registrar_relayer)
    register_key(client, doctor)
    return doctor


def export(client: httpx.Client, wallet: Wallet) -> dict[str, Any]:
    response = client.get("/api/fhir/bundle", headers={**wallet.headers, "X-Wallet-Signature": wallet.key_signature(client)})
    assert response.status_code == 200, response.text
    Bundle.model_validate_json(response.content)
    return response.json()


def content_of(resource: dict[str, Any]) -> dict[str, Any]:
    """A resource without what an export or an import may change (VOLATILE), recursively for contained ones;
    a DocumentReference as its file and type."""
    if resource["resourceType"] == "DocumentReference":
        attachment = resource["content"][0]["attachment"]
        return {"file": attachment["data"], "contentType": attachment["contentType"], "title": attachment.get("title")}
    kept = {key: value for key, value in resource.items() if key not in VOLATILE}
    if "contained" in kept:
        kept["contained"] = [content_of(item) for item in kept["contained"]]
    return kept


def sign_and_upload(client: httpx.Client, wallet: Wallet, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each prepared record signed with nonces n, n+1, … (all before any is sent), then uploaded in order."""
    key_signature = wallet.key_signature(client)
    forms = []
    for k, record in enumerate(records):
        content = base64.b64decode(record["content"])
        payload = add_record_payload(client, wallet, content, record["recordType"])
        payload["message"]["nonce"] = int(payload["message"]["nonce"]) + k
        form = {"recordType": record["recordType"], "name": record["name"], "walletSignature": key_signature,
                "salt": salt_for(content), **signed_fields(wallet, payload)}
        forms.append((form, content, record))
    uploaded = []
    for form, content, record in forms:
        response = client.post("/api/medical-records/upload", data=form, files={"file": (record["name"], content, record["contentType"])},
                               headers=wallet.headers)
        uploaded.append(expect_ok(response, 201))
    return uploaded


@pytest.mark.asyncio
async def test_create_export_import_export_round_trip(
    client: httpx.Client, patient_wallet: Wallet, writer: Wallet, db: Database
) -> None:
    first = patient_wallet
    register_key(client, first)
    expect_ok(access.write_grant(client, first, writer.address, DAY))
    for record_type, example in (("prescription", medication_request), ("report", diagnostic_report), ("bill", invoice)):
        content = encoded(example(first.address, writer.address))
        expect_ok(doctor_upload(client, writer, first.address, content, record_type, f"{record_type}.json", content_type=FHIR_JSON), 201)
    pdf = b"%PDF-1.4 referral letter " + os.urandom(300)
    expect_ok(upload(client, first, pdf, "report", "referral.pdf"), 201)
    exported = export(client, first)
    assert len(exported["entry"]) == 4

    second = Wallet.random()
    assert second.login(client)["role"] == "patient"
    register_key(client, second)
    plan = expect_ok(client.post(PREPARE, content=_json(exported), headers={**second.headers, "Content-Type": FHIR_JSON}))
    assert plan["refused"] == []
    assert sorted(r["resourceType"] for r in plan["records"]) == ["DiagnosticReport", "DocumentReference", "Invoice", "MedicationRequest"]
    nothing_stored = db["records"].count_documents({"patient": second.address.lower()})
    assert nothing_stored == 0  # preparing stores nothing

    uploaded = sign_and_upload(client, second, plan["records"])
    assert all(record["author"] is None and record["patient"] == second.address.lower() for record in uploaded)

    again = export(client, second)
    before = sorted((content_of(e["resource"]) for e in exported["entry"]), key=repr)
    after = sorted((content_of(e["resource"]) for e in again["entry"]), key=repr)
    assert after == before
    for entry in again["entry"]:
        resource = entry["resource"]
        if resource["resourceType"] == "DocumentReference":
            assert base64.b64decode(resource["content"][0]["attachment"]["data"]) == pdf
            continue
        # Authored by the second patient, about the second patient; the source noted with the original author.
        people = [resource.get("requester"), *(resource.get("performer") or []), resource.get("issuer"), resource["subject"]]
        assert {p["identifier"]["value"].lower() for p in people if p} == {second.address.lower()}
        (source,) = [e for e in resource["extension"] if e["url"] == "urn:healthledger:fhir:source"]
        parts = {part["url"]: part for part in source["extension"]}
        assert parts["fullUrl"]["valueUri"].startswith("urn:healthledger:record:")
        assert parts["author"]["valueReference"]["identifier"]["value"].lower() == writer.address.lower()
        # The first vault's anchors are not carried over: only the second vault's own.
        anchors = [i["value"] for i in resource["identifier"] if i["system"] == "urn:healthledger:anchor"]
        assert len(anchors) == 1 and anchors[0].split(":")[2].split("/")[0].lower() != exported_vault(exported)


def exported_vault(bundle: dict[str, Any]) -> str:
    resource = bundle["entry"][0]["resource"]
    value = next(i["value"] for i in resource["identifier"] if i["system"] == "urn:healthledger:anchor")
    return value.split(":")[2].split("/")[0].lower()


def test_entries_that_cannot_be_imported_are_listed(client: httpx.Client, patient_wallet: Wallet) -> None:
    me = patient_wallet.address
    report = diagnostic_report(me, me)
    report["result"] = [{"reference": "Observation/elsewhere"}]  # a result that is not in the document
    document = {
        "resourceType": "DocumentReference",
        "status": "current",
        "content": [{"attachment": {"contentType": "text/plain", "data": base64.b64encode(b"hello").decode(), "hash": "AAAA"}}],
    }
    linked = {"resourceType": "DocumentReference", "status": "current", "content": [{"attachment": {"url": "https://example.org/x.pdf"}}]}
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"fullUrl": "urn:uuid:1", "resource": {"resourceType": "Patient"}},
            {"fullUrl": "urn:uuid:2", "resource": report},
            {"fullUrl": "urn:uuid:3", "resource": document},
            {"fullUrl": "urn:uuid:4", "resource": linked},
            {"fullUrl": "urn:uuid:5", "resource": invoice("0x" + "11" * 20, "0x" + "22" * 20)},
        ],
    }
    answer = client.post(PREPARE, content=_json(bundle), headers={**patient_wallet.headers, "Content-Type": FHIR_JSON})
    plan = expect_ok(answer)
    assert answer.headers["content-type"] == "application/json"
    assert ImportPlan.model_validate_json(answer.content).model_dump(mode="json") == plan  # the documented answer, field for field
    assert [(r["index"], r["code"]) for r in plan["refused"]] == [
        (0, "unsupported_resource"), (1, "invalid_fhir"), (2, "attachment_hash_mismatch"), (3, "attachment_not_inline"),
    ]
    # An invoice between two other parties becomes the patient's own (subject and issuer rewritten).
    (record,) = plan["records"]
    assert record["index"] == 4 and record["recordType"] == "bill" and record["contentType"] == FHIR_JSON
    assert me.lower() in base64.b64decode(record["content"]).decode().lower()

    expect_error(client.post(PREPARE, content=b"[]", headers=patient_wallet.headers), 400, "invalid_fhir")
    expect_error(client.post(PREPARE, content=b"{}", headers=patient_wallet.headers), 400, "invalid_fhir")


def _json(document: dict[str, Any]) -> bytes:
    import json

    return json.dumps(document).encode()
