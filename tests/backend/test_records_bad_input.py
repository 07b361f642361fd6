"""Bad input gets a clear 4xx JSON error and writes nothing: no metadata, no on-chain record."""

from __future__ import annotations

import os
import time

import httpx
import jwt
import pytest
from pymongo.collection import Collection

from tests.backend.fixtures.api import ApiServer

from .support.records import (
    add_record_payload,
    content_hash as commitment,
    multipart_parts,
    signed_fields,
    upload,
    upload_form,
    view,
)
from .support.wallet import Wallet


def assert_error(response: httpx.Response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert error["message"]
    return error


def assert_nothing_written(records: Collection, wallet: Wallet) -> None:
    assert records.count_documents({"patient": wallet.address.lower()}) == 0


def test_unknown_record_type(client, patient_wallet, records_collection) -> None:
    response = upload(client, patient_wallet, b"data", overrides={"recordType": "xray"})
    assert_error(response, 400, "invalid_record_type")
    assert_nothing_written(records_collection, patient_wallet)


def test_empty_file(client, patient_wallet, records_collection) -> None:
    assert_error(upload(client, patient_wallet, b""), 400, "empty_file")
    assert_nothing_written(records_collection, patient_wallet)


def test_oversized_file(client, patient_wallet, records_collection, api_server: ApiServer) -> None:
    too_big = os.urandom(api_server.settings.max_upload_bytes + 1)
    assert_error(upload(client, patient_wallet, too_big), 413, "file_too_large")
    assert_nothing_written(records_collection, patient_wallet)


@pytest.mark.parametrize(
    "content_type",
    ["text/plain\x00x", "text/plain\x7f", "image/p\u00e9ng", "a/" + "b" * 254],
    ids=["nul", "del", "non-ascii", "too-long"],
)
def test_content_type_a_response_cannot_carry(client, patient_wallet, records_collection, content_type: str) -> None:
    # It comes back as /view's Content-Type: a control character in it used to be stored, and every
    # view of the record then ended with the server dropping the connection.
    response = upload(client, patient_wallet, b"data", content_type=content_type)
    assert_error(response, 400, "invalid_content_type")
    assert_nothing_written(records_collection, patient_wallet)


@pytest.mark.parametrize("field", ["walletSignature", "recordSignature"])
def test_malformed_signature(client, patient_wallet, records_collection, field: str) -> None:
    assert_error(upload(client, patient_wallet, b"data", overrides={field: "0x1234"}), 400, "malformed_signature")
    assert_nothing_written(records_collection, patient_wallet)


def test_wallet_signature_from_another_wallet(client, patient_wallet, records_collection) -> None:
    stranger = Wallet.random()
    response = upload(client, patient_wallet, b"data", overrides={"walletSignature": stranger.key_signature(client)})
    assert_error(response, 400, "invalid_wallet_signature")
    assert_nothing_written(records_collection, patient_wallet)


def test_record_signature_for_other_content(client, patient_wallet, records_collection) -> None:
    payload = add_record_payload(client, patient_wallet, b"other file")
    response = upload(client, patient_wallet, b"this file", overrides=signed_fields(patient_wallet, payload))
    assert_error(response, 400, "invalid_record_signature")
    assert_nothing_written(records_collection, patient_wallet)


def _pins(ipfs_node) -> set[str]:
    answer = httpx.post(f"{ipfs_node.api_url}/api/v0/pin/ls", params={"type": "recursive"}, timeout=30.0)
    assert answer.status_code == 200, answer.text
    return set(answer.json().get("Keys") or {})


def test_signed_hash_mismatch_leaves_nothing_pinned_nor_stored(
    client, patient_wallet, records_collection, ipfs_node, api_server: ApiServer
) -> None:
    # The file is hashed on its one pass to IPFS (services/upload_stream.py), so its ciphertext has
    # reached the node before the signed hash can be checked: the refusal must leave no pin behind.
    pins_before = _pins(ipfs_node)
    payload = add_record_payload(client, patient_wallet, b"the file that was signed")
    several_chunks = os.urandom(api_server.settings.max_upload_bytes - 7)  # 2 MiB here: more than one chunk
    response = upload(client, patient_wallet, several_chunks, overrides=signed_fields(patient_wallet, payload))
    assert_error(response, 400, "invalid_record_signature")
    assert_nothing_written(records_collection, patient_wallet)
    assert _pins(ipfs_node) == pins_before


def test_record_signature_by_another_wallet(client, patient_wallet, records_collection) -> None:
    content = b"data"
    payload = add_record_payload(client, patient_wallet, content)
    forged = Wallet.random().sign_typed_data(payload)
    response = upload(client, patient_wallet, content, overrides={"recordSignature": forged})
    assert_error(response, 400, "invalid_record_signature")
    assert_nothing_written(records_collection, patient_wallet)


def test_expired_deadline(client, patient_wallet, records_collection, anvil) -> None:
    content = b"data"
    payload = add_record_payload(client, patient_wallet, content)
    payload["message"]["deadline"] = anvil.latest_timestamp() - 1
    response = upload(client, patient_wallet, content, overrides=signed_fields(patient_wallet, payload))
    assert_error(response, 400, "signature_expired")
    assert_nothing_written(records_collection, patient_wallet)


def test_deadline_beyond_what_the_database_holds(client, patient_wallet, records_collection) -> None:
    # A valid uint256 deadline, signed, but past MongoDB's int64: refused before anything is pinned
    # or stored (it used to fail at the insert with a 500).
    content = b"data"
    payload = add_record_payload(client, patient_wallet, content)
    payload["message"]["deadline"] = 2**64
    overrides = signed_fields(patient_wallet, payload)
    error = assert_error(upload(client, patient_wallet, content, overrides=overrides), 400, "invalid_params")
    assert "deadline" in error["message"]
    assert_nothing_written(records_collection, patient_wallet)


def test_replayed_nonce(client, patient_wallet, records_collection) -> None:
    content = os.urandom(100)
    payload = patient_wallet.typed_data(
        client, "addRecord", {"recordType": "report", "contentHash": commitment(content)}
    )
    fields = {
        "recordSignature": patient_wallet.sign_typed_data(payload),
        "nonce": str(payload["message"]["nonce"]),
        "deadline": str(payload["message"]["deadline"]),
    }
    first = upload(client, patient_wallet, content, overrides=fields)
    assert first.status_code == 201
    # The same upload again (a client whose answer was lost): its record, not a second one.
    again = upload(client, patient_wallet, content, overrides=fields)
    assert again.status_code == 200 and again.json()["cid"] == first.json()["cid"]
    # Another file signed with the used nonce: refused.
    other = os.urandom(100)
    stale = dict(payload, message={**payload["message"], "contentHash": commitment(other)})
    reused = {**fields, "recordSignature": patient_wallet.sign_typed_data(stale)}
    assert_error(upload(client, patient_wallet, other, overrides=reused), 409, "stale_nonce")
    assert records_collection.count_documents({"patient": patient_wallet.address.lower()}) == 1


def test_missing_and_forged_tokens(client, api_server: ApiServer) -> None:
    assert_error(client.get("/api/medical-records/patient-records"), 401, "missing_token")
    forged = jwt.encode(
        {"iss": "healthledger", "sub": Wallet.random().address, "role": "patient", "typ": "access",
         "iat": int(time.time()), "exp": int(time.time()) + 60, "jti": "x"},
        "not-the-server-secret-but-long-enough-to-pass",
        algorithm="HS256",
    )
    headers = {"Authorization": f"Bearer {forged}"}
    assert_error(client.get("/api/medical-records/patient-records", headers=headers), 401, "invalid_token")


def test_expired_token(client, api_server: ApiServer) -> None:
    secret = api_server.settings.jwt_secret.get_secret_value()
    expired = jwt.encode(
        {"iss": "healthledger", "sub": Wallet.random().address, "role": "patient", "typ": "access",
         "iat": int(time.time()) - 120, "exp": int(time.time()) - 60, "jti": "x"},
        secret,
        algorithm="HS256",
    )
    response = client.get("/api/medical-records/patient-records", headers={"Authorization": f"Bearer {expired}"})
    error = assert_error(response, 401, "invalid_token")
    assert "expired" in error["message"]


def test_another_patients_cid_unknown_cid_and_garbage(client, patient_wallet) -> None:
    owner = Wallet.random()
    owner.login(client)
    record = upload(client, owner, os.urandom(64)).json()
    headers = {**patient_wallet.headers, "X-Wallet-Signature": patient_wallet.key_signature(client)}
    assert_error(client.get(f"/api/medical-records/view/{record['cid']}", headers=headers), 403, "not_allowed")
    assert_error(client.get(f"/api/medical-records/verify/{record['cid']}", headers=headers), 403, "not_allowed")
    unknown = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"
    assert_error(client.get(f"/api/medical-records/view/{unknown}", headers=headers), 404, "record_not_found")
    assert_error(client.get("/api/medical-records/view/not-a-cid!", headers=headers), 400, "invalid_cid")


def test_view_with_wrong_key_signature(client, patient_wallet) -> None:
    record = upload(client, patient_wallet, os.urandom(64)).json()
    headers = {**patient_wallet.headers, "X-Wallet-Signature": Wallet.random().key_signature(client)}
    assert_error(client.get(f"/api/medical-records/view/{record['cid']}", headers=headers), 400, "invalid_wallet_signature")
    headers = {**patient_wallet.headers}
    assert_error(client.get(f"/api/medical-records/view/{record['cid']}", headers=headers), 400, "missing_wallet_signature")


def test_a_double_submit_never_races_its_first_try(client, patient_wallet, records_collection) -> None:
    """The same signed upload while its first try is still on its way (created moments ago, nothing
    sent yet): refused with 409 `upload_in_progress`, and the first try is left alone."""
    from datetime import UTC, datetime

    content = os.urandom(100)
    content_hash = commitment(content)
    payload = patient_wallet.typed_data(client, "addRecord", {"recordType": "report", "contentHash": content_hash})
    signature = patient_wallet.sign_typed_data(payload)
    first_try = {
        "patient": patient_wallet.address.lower(), "record_type": "report", "name": "first", "content_type": "application/pdf",
        "cid": "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku", "content_hash": content_hash,
        "ciphertext_hash": "0x" + "00" * 32, "size": 100, "ciphertext_size": 180, "wrapped_key": "x",
        "record_contract": "0x", "state": "pending", "tx_hashes": [], "created_at": datetime.now(UTC),
        "relay": {"kind": 2, "nonce": payload["message"]["nonce"], "deadline": payload["message"]["deadline"], "signature": signature},
    }
    records_collection.insert_one(first_try)
    try:
        fields = {"recordSignature": signature, "nonce": str(payload["message"]["nonce"]), "deadline": str(payload["message"]["deadline"])}
        assert_error(upload(client, patient_wallet, content, overrides=fields), 409, "upload_in_progress")
        assert records_collection.count_documents({"cid": first_try["cid"]}) == 1
    finally:
        records_collection.delete_one({"cid": first_try["cid"]})


# The file streams to IPFS as it arrives (api/multipart_stream.py): the fields must come first.


def test_a_file_sent_before_the_fields_is_still_stored(client, patient_wallet, records_collection) -> None:
    content = os.urandom(300_000)
    fields, head, end, content_type = multipart_parts(upload_form(client, patient_wallet, content), content)
    body = head + content + b"\r\n" + b"".join(fields) + end  # file first: spooled until the fields arrive
    response = client.post(
        "/api/medical-records/upload", content=body, headers={**patient_wallet.headers, "Content-Type": content_type}
    )
    assert response.status_code == 201, response.text
    assert response.json()["content_hash"] == commitment(content)
    viewed = view(client, patient_wallet, response.json()["cid"])
    assert viewed.status_code == 200 and viewed.content == content


def test_a_form_field_after_the_streamed_file_is_refused_and_nothing_is_written(
    client, patient_wallet, records_collection
) -> None:
    content = os.urandom(100_000)
    form = upload_form(client, patient_wallet, content)
    late = {"duplicateTag": "0x" + "ab" * 32}
    fields, head, end, content_type = multipart_parts(form, content)
    trailing, _, _, _ = multipart_parts(late, b"")
    body = b"".join(fields) + head + content + b"\r\n" + b"".join(trailing) + end
    headers = {**patient_wallet.headers, "Content-Type": content_type}
    response = client.post("/api/medical-records/upload", content=body, headers=headers)
    error = assert_error(response, 400, "field_after_file")
    assert "duplicateTag" in error["message"]
    assert_nothing_written(records_collection, patient_wallet)
    # Nothing was used up: the same signed upload, file last, goes through.
    fields, head, end, _ = multipart_parts({**form, **late}, content)
    ok = client.post("/api/medical-records/upload", content=b"".join(fields) + head + content + b"\r\n" + end,
                     headers=headers)
    assert ok.status_code == 201, ok.text


def test_a_body_that_is_not_multipart_is_refused(client, patient_wallet, records_collection) -> None:
    response = client.post(
        "/api/medical-records/upload", json={"recordType": "report"}, headers=patient_wallet.headers
    )
    assert_error(response, 400, "malformed_multipart")
    assert_nothing_written(records_collection, patient_wallet)


def test_a_large_upload_refused_before_its_file_is_read_still_gets_its_answer(
    client, patient_wallet, records_collection, api_server: ApiServer
) -> None:
    # The file streams: a refusal that comes before it is read (here the record type) answers while
    # the client is still sending, and the server must take (and drop) the rest, not stall the client.
    content = os.urandom(min(api_server.settings.max_upload_bytes, 20 * 1024 * 1024))
    for _ in range(2):  # and the connection serves the next request
        response = upload(client, patient_wallet, content, overrides={"recordType": "xray"})
        assert_error(response, 400, "invalid_record_type")
    assert_nothing_written(records_collection, patient_wallet)
