"""The optional `duplicateTag` of an upload: checked (0x + 64 hex, else 400 `invalid_duplicate_tag`
with nothing written), stored with the record, and shown only in the patient's own record list,
never in the upload answer or to a doctor the record is shared with.

Real Anvil, js-ipfs and SecantusDB through the API.
"""

from __future__ import annotations

import hashlib
import hmac
import os

import httpx
import pytest
import pytest_asyncio
from pymongo.collection import Collection

from .fixtures.wallets import registered_doctor
from .support import access
from .support.records import upload
from .support.wallet import Wallet


def _tag(key_signature: str, content: bytes) -> str:
    """The web app's tag: HMAC-SHA256(SHA-256("healthledger/duplicate-tag/v1" ‖ signature bytes), file)."""
    key = hashlib.sha256(b"healthledger/duplicate-tag/v1" + bytes.fromhex(key_signature[2:])).digest()
    return "0x" + hmac.new(key, content, hashlib.sha256).hexdigest()


def _listed(client: httpx.Client, wallet: Wallet) -> dict[str, dict]:
    response = client.get("/api/medical-records/patient-records", headers=wallet.headers)
    assert response.status_code == 200, response.text
    return {record["cid"]: record for record in response.json()["records"]}


@pytest.mark.parametrize(
    "tag",
    ["0x1234", "ab" * 32, "0x" + "g" * 64, "0x" + "a" * 65, " "],
    ids=["short", "no-0x", "not-hex", "too-long", "blank"],
)
def test_a_malformed_tag_is_refused_before_anything_is_written(
    client: httpx.Client, patient_wallet: Wallet, records_collection: Collection, tag: str
) -> None:
    response = upload(client, patient_wallet, os.urandom(64), overrides={"duplicateTag": tag})
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_duplicate_tag" and "64 hex" in error["message"]
    assert records_collection.count_documents({"patient": patient_wallet.address.lower()}) == 0


def test_the_tag_is_stored_and_listed_for_the_patient_only_in_their_list(
    client: httpx.Client, patient_wallet: Wallet, records_collection: Collection
) -> None:
    content = os.urandom(300)
    tag = _tag(patient_wallet.key_signature(client), content)
    response = upload(client, patient_wallet, content, overrides={"duplicateTag": tag.upper().replace("0X", "0x")})
    assert response.status_code == 201, response.text
    record = response.json()
    assert "duplicate_tag" not in record  # the upload answer is the shared RecordOut shape

    stored = records_collection.find_one({"cid": record["cid"]})
    assert stored is not None and stored["duplicate_tag"] == tag  # lower-cased

    untagged = upload(client, patient_wallet, os.urandom(300))
    assert untagged.status_code == 201, untagged.text
    listed = _listed(client, patient_wallet)
    assert listed[record["cid"]]["duplicate_tag"] == tag
    assert listed[untagged.json()["cid"]]["duplicate_tag"] is None


@pytest_asyncio.fixture
async def doctor(client: httpx.Client, registrar_relayer) -> Wallet:
    return await registered_doctor(client, registrar_relayer)


@pytest.mark.asyncio
async def test_a_doctor_the_record_is_shared_with_never_sees_the_tag(
    client: httpx.Client, patient_wallet: Wallet, doctor: Wallet
) -> None:
    content = os.urandom(200)
    tag = _tag(patient_wallet.key_signature(client), content)
    uploaded = upload(client, patient_wallet, content, overrides={"duplicateTag": tag})
    assert uploaded.status_code == 201, uploaded.text
    record_id = uploaded.json()["record_id"]

    request = access.request_access(client, doctor, patient_wallet.address)
    assert request.status_code == 201, request.text
    approved = access.approve(client, patient_wallet, request.json()["id"], doctor.address, [record_id], 1)
    assert approved.status_code == 200, approved.text

    for path in ("authorized-records", "blockchain-authorized-records"):
        response = client.get(f"/api/access-requests/doctor/{path}", headers=doctor.headers)
        assert response.status_code == 200, response.text
        assert uploaded.json()["cid"] in response.text  # the record is there...
        assert "duplicate_tag" not in response.text and tag[2:] not in response.text  # ...its tag is not
