"""Amendments of structured records, against the real Anvil, js-ipfs and SecantusDB over HTTP.

A doctor writes a prescription and amends it twice: three versions, each its own anchored record,
the history newest first, the old versions marked superseded (only once their successor is mined),
each verifiable; the Bundle holds the current version unless asked for the history. Amending a
superseded version, someone else's record, or with a link that names another anchor is refused
with nothing stored and no nonce spent.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from eth_utils import to_checksum_address
from healthledger.chain.client import ChainClient
from healthledger.chain.relayer import Relayer
from pymongo.database import Database

from .fixtures.wallets import registered_doctor
from .support import access
from .support.doctor_records import doctor_upload, register_key
from .support.fhir import encoded, medication_request
from .support.records import upload
from .support.responses import expect_error, expect_ok
from .support.wallet import Wallet

DAY = 86400
FHIR_JSON = "application/fhir+json"
REPLACES_URL = "urn:healthledger:fhir:replaces"


def anchor_of(record: dict[str, Any], chain_id: int) -> str:
    return f"eip155:{chain_id}:{to_checksum_address(record['vault_address'])}/{record['record_id']}"


def amended(resource: dict[str, Any], previous_anchor: str | None) -> dict[str, Any]:
    """`resource` naming `previous_anchor` as the version it replaces."""
    if previous_anchor is not None:
        resource["extension"] = [
            {"url": REPLACES_URL, "valueIdentifier": {"system": "urn:healthledger:anchor", "value": previous_anchor}}
        ]
    return resource


def prescription(patient: str, doctor: str, dose: int, previous_anchor: str | None = None) -> bytes:
    resource = medication_request(patient, doctor)
    resource["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"]["value"] = dose
    resource["dosageInstruction"][0]["text"] = f"{dose} mg three times a day"
    return encoded(amended(resource, previous_anchor))


def history(client: httpx.Client, wallet: Wallet, cid: str) -> dict[str, Any]:
    return expect_ok(client.get(f"/api/medical-records/{cid}/history", headers=wallet.headers))


def key_headers(client: httpx.Client, wallet: Wallet) -> dict[str, str]:
    return {**wallet.headers, "X-Wallet-Signature": wallet.key_signature(client)}


def bundle_cids(client: httpx.Client, wallet: Wallet, **params: str) -> dict[str, dict[str, Any]]:
    response = client.get("/api/fhir/bundle", params=params, headers=key_headers(client, wallet))
    assert response.status_code == 200, response.text
    return {e["fullUrl"].removeprefix("urn:healthledger:record:"): e["resource"] for e in response.json().get("entry", [])}


@pytest.mark.asyncio
async def test_three_versions_of_a_prescription(
    client: httpx.Client, keyed_patient: Wallet, writer: Wallet, chain_client: ChainClient, db: Database
) -> None:
    patient = keyed_patient
    chain_id = await chain_client.chain_id()
    expect_ok(access.write_grant(client, patient, writer.address, DAY))

    def amend(content: bytes, replaces: str | None) -> httpx.Response:
        overrides = {"replaces": replaces} if replaces else None
        return doctor_upload(
            client, writer, patient.address, content, "prescription", "rx.json", content_type=FHIR_JSON, overrides=overrides
        )

    v1 = expect_ok(amend(prescription(patient.address, writer.address, 500), None), 201)
    v2 = expect_ok(amend(prescription(patient.address, writer.address, 250, anchor_of(v1, chain_id)), v1["cid"]), 201)
    v3 = expect_ok(amend(prescription(patient.address, writer.address, 125, anchor_of(v2, chain_id)), v2["cid"]), 201)
    assert (v2["replaces"], v3["replaces"]) == (v1["cid"], v2["cid"])
    # Each version is its own record on chain: nothing was overwritten.
    assert len({v1["record_id"], v2["record_id"], v3["record_id"]}) == 3
    for version in (v1, v2, v3):
        on_chain = await chain_client.get_record(patient.address, version["record_id"])
        assert on_chain is not None and on_chain.content_hash.lower() == version["content_hash"].lower()

    # The history, from any version, newest first; the patient and the author both see it.
    for asker, cid in ((patient, v1["cid"]), (patient, v3["cid"]), (writer, v2["cid"])):
        shown = history(client, asker, cid)
        assert shown["current"] == v3["cid"]
        assert [v["cid"] for v in shown["versions"]] == [v3["cid"], v2["cid"], v1["cid"]]
        assert [v["superseded"] for v in shown["versions"]] == [False, True, True]
        assert [v["replaced_by"] for v in shown["versions"]] == [None, v3["cid"], v2["cid"]]
        assert [v["anchor"] for v in shown["versions"]] == [anchor_of(v, chain_id) for v in (v3, v2, v1)]
        assert all(v["state"] in ("anchored", "confirmed") for v in shown["versions"])
        assert {v["author_name"] for v in shown["versions"]} == {"Dr. Writer"}  # was null: bare addresses

    # The patient's list marks the superseded versions.
    listed = {r["cid"]: r for r in expect_ok(client.get("/api/medical-records/patient-records", headers=patient.headers))["records"]}
    assert [listed[v["cid"]]["superseded"] for v in (v1, v2, v3)] == [True, True, False]

    # Every version stays verifiable: the re-hash, and the integrity report.
    for version in (v1, v2, v3):
        checked = expect_ok(client.get(f"/api/medical-records/verify/{version['cid']}", headers=key_headers(client, patient)))
        assert checked["verified"] is True and checked["plaintext_rehashed"] is True
    report = expect_ok(client.get("/api/system/integrity-report", headers=patient.headers))
    statuses = {row["cid"]: row["status"] for row in report["records"]}
    assert [statuses[v["cid"]] for v in (v1, v2, v3)] == ["verified"] * 3

    # The Bundle: the current version only, unless the history is asked for (each links to its predecessor).
    assert set(bundle_cids(client, patient)) == {v3["cid"]}
    everything = bundle_cids(client, patient, history="true")
    assert set(everything) == {v1["cid"], v2["cid"], v3["cid"]}
    link = [e for e in everything[v3["cid"]]["extension"] if e["url"] == REPLACES_URL]
    assert link == [{"url": REPLACES_URL, "valueIdentifier": {"system": "urn:healthledger:anchor", "value": anchor_of(v2, chain_id)}}]

    # Refusals, all before anything is stored or any nonce spent.
    records_before = db["records"].count_documents({"patient": patient.address.lower()})
    nonce = await chain_client.nonce_of(patient.address, writer.address)
    body = expect_error(amend(prescription(patient.address, writer.address, 100, anchor_of(v1, chain_id)), v1["cid"]), 409, "record_superseded")
    assert body["error"]["current"] == v3["cid"]
    # A link naming another version than `replaces`, a link without `replaces`, `replaces` without a link.
    expect_error(amend(prescription(patient.address, writer.address, 100, anchor_of(v2, chain_id)), v3["cid"]), 400, "fhir_replaces_mismatch")
    expect_error(amend(prescription(patient.address, writer.address, 100, anchor_of(v3, chain_id)), None), 400, "fhir_replaces_mismatch")
    expect_error(amend(prescription(patient.address, writer.address, 100), v3["cid"]), 400, "fhir_replaces_mismatch")
    # A file cannot amend; a report cannot amend a prescription.
    pdf = doctor_upload(client, writer, patient.address, b"%PDF-1.4 x", "prescription", "rx.pdf", overrides={"replaces": v3["cid"]})
    expect_error(pdf, 400, "amendment_not_structured")
    assert db["records"].count_documents({"patient": patient.address.lower()}) == records_before
    assert await chain_client.nonce_of(patient.address, writer.address) == nonce
    assert history(client, patient, v1["cid"])["current"] == v3["cid"]


@pytest.mark.asyncio
async def test_amending_someone_elses_record_is_refused(
    client: httpx.Client, keyed_patient: Wallet, writer: Wallet, registrar_relayer: Relayer, chain_client: ChainClient,
    db: Database,
) -> None:
    patient = keyed_patient
    chain_id = await chain_client.chain_id()
    other = await registered_doctor(client, registrar_relayer)
    register_key(client, other)
    for doctor in (writer, other):
        expect_ok(access.write_grant(client, patient, doctor.address, DAY))
    written = expect_ok(
        doctor_upload(client, writer, patient.address, prescription(patient.address, writer.address, 500), "prescription",
                      "rx.json", content_type=FHIR_JSON), 201,
    )
    own = expect_ok(upload(client, patient, prescription(patient.address, patient.address, 10), "prescription", "own.json",
                           content_type=FHIR_JSON), 201)
    records_before = db["records"].count_documents({})

    # Another doctor, under their own live write grant, may not amend the first doctor's record.
    by_other = prescription(patient.address, other.address, 250, anchor_of(written, chain_id))
    response = doctor_upload(client, other, patient.address, by_other, "prescription", "rx.json", content_type=FHIR_JSON,
                             overrides={"replaces": written["cid"]})
    expect_error(response, 403, "not_record_author")
    # Nor the patient the doctor's record; nor the doctor the patient's own.
    by_patient = prescription(patient.address, patient.address, 250, anchor_of(written, chain_id))
    response = upload(client, patient, by_patient, "prescription", "rx.json", content_type=FHIR_JSON,
                      overrides={"replaces": written["cid"]})
    expect_error(response, 403, "not_record_author")
    by_writer = prescription(patient.address, writer.address, 20, anchor_of(own, chain_id))
    response = doctor_upload(client, writer, patient.address, by_writer, "prescription", "rx.json", content_type=FHIR_JSON,
                             overrides={"replaces": own["cid"]})
    expect_error(response, 403, "not_record_author")
    # A CID this vault does not hold (another vault's record answers alike).
    response = upload(client, patient, by_patient, "prescription", "rx.json", content_type=FHIR_JSON,
                      overrides={"replaces": "QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG"})
    expect_error(response, 404, "record_not_found")
    assert db["records"].count_documents({}) == records_before
    assert db["records"].count_documents({"cid": {"$in": [written["cid"], own["cid"]]}, "replaced_by": None}) == 2

    # The patient amends their own record.
    amended_own = prescription(patient.address, patient.address, 20, anchor_of(own, chain_id))
    second = expect_ok(upload(client, patient, amended_own, "prescription", "own.json", content_type=FHIR_JSON,
                              overrides={"replaces": own["cid"]}), 201)
    assert [v["cid"] for v in history(client, patient, own["cid"])["versions"]] == [second["cid"], own["cid"]]


@pytest.mark.asyncio
async def test_an_amendment_in_flight_claims_the_version_and_a_failed_one_marks_nothing(
    client: httpx.Client, keyed_patient: Wallet, writer: Wallet, chain_client: ChainClient, db: Database
) -> None:
    """The old version is marked replaced only by a mined successor. A pending amendment (its
    document stored, its transaction not mined) holds the version: a second amendment is 409. When
    the first fails (its document removed, as the pipeline and the reconciler do) the version is
    current again, never marked replaced."""
    patient = keyed_patient
    chain_id = await chain_client.chain_id()
    expect_ok(access.write_grant(client, patient, writer.address, DAY))
    first = expect_ok(
        doctor_upload(client, writer, patient.address, prescription(patient.address, writer.address, 500), "prescription",
                      "rx.json", content_type=FHIR_JSON), 201,
    )
    in_flight = {**db["records"].find_one({"cid": first["cid"]}, {"_id": 0})}
    in_flight.update(cid="QmPendingAmendment000000000000000000000000000001", replaces=first["cid"], state="pending",
                     record_id=None, block_number=None, block_hash=None)
    db["records"].insert_one(in_flight)

    def second_amendment() -> httpx.Response:
        content = prescription(patient.address, writer.address, 250, anchor_of(first, chain_id))
        return doctor_upload(client, writer, patient.address, content, "prescription", "rx.json", content_type=FHIR_JSON,
                             overrides={"replaces": first["cid"]})

    body = expect_error(second_amendment(), 409, "record_superseded")
    assert body["error"]["current"] == in_flight["cid"]
    assert db["records"].find_one({"cid": first["cid"]})["replaced_by"] is None  # pending: not superseded yet

    db["records"].delete_one({"cid": in_flight["cid"]})  # the first amendment failed and was removed
    second = expect_ok(second_amendment(), 201)
    assert db["records"].find_one({"cid": first["cid"]})["replaced_by"] == second["cid"]
