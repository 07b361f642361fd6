"""Real-chain behaviour through the API: rollbacks, reorganisations, confirmations, idle-chain clocks.

Each test runs on a chain of its own (fixtures/private_chain.py) because it rolls the chain back,
reorganises it or moves its clock. What must hold after each: no record lost, none that looks valid
but is not, and the API keeps serving (and starts again) without anyone editing the database.
"""

from __future__ import annotations

import os
import time
from typing import Any


import httpx
import pytest

from healthledger.container import build_services
from healthledger.db.records import RecordDoc
from healthledger.devstack.process import wait_until
from healthledger.services.anchoring import reconcile_records

from .support.access import approve, doctor_view, pending_requests, request_access
from .support.records import content_hash as commitment, upload
from .support.wallet import Wallet

def _ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def _report_rows(client: httpx.Client, wallet: Wallet) -> dict[str, dict[str, Any]]:
    report = _ok(client.get("/api/system/integrity-report", headers=wallet.headers))
    return {row["cid"]: row for row in report["records"]}


def test_rollback_past_a_confirmed_record_then_the_next_upload(private_stack) -> None:
    """The chain forgets a confirmed record (a dev chain restored from an older state, a deep reorg).

    Before: the relayer kept counting nonces from memory, so the next upload was sent with a nonce
    the node could not use and hung for the whole transaction timeout; once mined, its record id
    collided with the stale document (unique index: 500), and every later start-up failed on it.
    Now the lost record is sent again with the patient's own signature before the next one is
    signed, the next upload takes the next id, and a restart comes up healthy.
    """
    with private_stack(reconcile_interval_seconds=3600.0) as stack, stack.client() as client:
        patient = Wallet.random()
        patient.login(client)
        before = stack.anvil.snapshot()
        lost = _ok(upload(client, patient, os.urandom(300)), 201)
        assert (lost["state"], lost["record_id"]) == ("confirmed", 0)
        stack.anvil.revert(before)  # the chain no longer has the record, nor the patient's contract

        started = time.monotonic()
        body = _ok(upload(client, patient, os.urandom(400)), 201)
        elapsed = time.monotonic() - started
        assert (body["state"], body["record_id"]) == ("confirmed", 1)
        assert elapsed < 10, f"the upload after the rollback took {elapsed:.1f} s"

        rows = _report_rows(client, patient)
        assert rows[body["cid"]]["status"] == "verified"
        repaired = rows[lost["cid"]]
        assert (repaired["status"], repaired["record_id"], repaired["reanchored"]) == ("verified", 0, 1)

        # A restart on the same database and chain comes up healthy with the same answers.
        with stack.restarted() as restarted, httpx.Client(base_url=restarted.url, timeout=60) as second:
            assert _ok(second.get("/api/system/status"))["status"] == "ok"
            again = _report_rows(second, patient)
            assert {again[lost["cid"]]["status"], again[body["cid"]]["status"]} == {"verified"}


def test_a_signature_made_before_the_rollback_cannot_take_a_lost_records_place(private_stack) -> None:
    """A client that signed with the nonce a lost record needs is told to sign again; the lost
    record (already acknowledged with a 201) keeps its place."""
    with private_stack(reconcile_interval_seconds=3600.0) as stack, stack.client() as client:
        patient = Wallet.random()
        patient.login(client)
        content = os.urandom(500)
        early = patient.typed_data(
            client, "addRecord", {"recordType": "report", "contentHash": commitment(content)}
        )
        assert early["message"]["nonce"] == 0
        before = stack.anvil.snapshot()
        lost = _ok(upload(client, patient, os.urandom(300)), 201)  # takes nonce 0
        stack.anvil.revert(before)  # nonce 0 is free again, and `early` is valid again on chain

        overrides = {
            "nonce": "0",
            "deadline": str(early["message"]["deadline"]),
            "recordSignature": patient.sign_typed_data(early),
        }
        refused = upload(client, patient, content, overrides=overrides)
        assert refused.status_code == 409, refused.text
        assert refused.json()["error"]["code"] == "stale_nonce" and "sign again" in refused.json()["error"]["message"]
        rows = _report_rows(client, patient)
        assert (rows[lost["cid"]]["status"], rows[lost["cid"]]["record_id"]) == ("verified", 0)
        assert _ok(upload(client, patient, content), 201)["record_id"] == 1


@pytest.mark.asyncio
async def test_a_stale_claim_on_a_record_id_is_settled_never_a_500(private_stack) -> None:
    """Documents from before this version carry no signature to send again: a lost one becomes
    `unanchored` with its reason; and two claims on one id are settled by the receipt."""
    with private_stack(reconcile_interval_seconds=3600.0) as stack, stack.client() as client:
        patient = Wallet.random()
        patient.login(client)
        services = await build_services(stack.settings)
        try:
            legacy = RecordDoc(
                patient=patient.address.lower(), record_type="report", name="old", content_type="application/pdf",
                cid="bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku", content_hash="0x" + "77" * 32,
                ciphertext_hash="0x" + "00" * 32, size=1, ciphertext_size=1, wrapped_key="x", vault_address="0x",
                state="confirmed", record_id=0, tx_hash="0x" + "99" * 32,
            )
            await services.records.insert_pending(legacy)
            fresh = _ok(upload(client, patient, os.urandom(100)), 201)
            assert fresh["record_id"] == 0
            row = _report_rows(client, patient)[legacy.cid]
            assert row["status"] == "unanchored" and "no signature was kept" in row["problems"][0]

            # Two documents, one on-chain id: the one whose transaction made the record keeps it.
            squatter = RecordDoc(**{**legacy.__dict__, "cid": "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy",
                                    "state": "confirmed", "record_id": 1, "unanchored_reason": None})
            await services.records.insert_pending(squatter)
            second = _ok(upload(client, patient, os.urandom(100)), 201)  # mined as record 1
            assert second["record_id"] == 1
            assert (await services.records.get_by_cid(squatter.cid)).state == "unanchored"
        finally:
            await services.close()


def test_rollback_is_repaired_with_the_patients_own_signature(private_stack) -> None:
    """The reconciler sends a lost record again: the patient's nonce rolled back with the chain, so
    the AddRecord they signed is valid again; the next upload then takes the next id."""
    with private_stack(reconcile_interval_seconds=0.5) as stack, stack.client() as client:
        patient = Wallet.random()
        patient.login(client)
        before = stack.anvil.snapshot()
        lost = _ok(upload(client, patient, os.urandom(300)), 201)
        stack.anvil.revert(before)

        def repaired() -> dict[str, Any] | None:
            row = _report_rows(client, patient)[lost["cid"]]
            return row if row["status"] == "verified" and row["reanchored"] >= 1 else None

        row = wait_until(repaired, 20, interval=0.2, description="the lost record to be sent again")
        assert (row["record_id"], row["state"]) == (0, "confirmed")
        following = _ok(upload(client, patient, os.urandom(200)), 201)
        assert following["record_id"] == 1
        viewed = client.get(
            f"/api/medical-records/view/{lost['cid']}",
            headers={**patient.headers, "X-Wallet-Signature": patient.key_signature(client)},
        )
        assert viewed.status_code == 200 and viewed.headers["x-blockchain-hash-verified"] == "true"


@pytest.mark.asyncio
async def test_a_pass_over_many_lost_records_reads_the_event_log_once(private_stack) -> None:
    """The chain loses all of a patient's records; one reconcile pass sends each again in nonce
    order. Before: it read the patient's whole event log (and every claimed id) once per lost
    record, quadratic in the record count; now once per patient and pass."""
    with private_stack(reconcile_interval_seconds=3600.0) as stack, stack.client() as client:
        patient = Wallet.random()
        patient.login(client)
        before = stack.anvil.snapshot()
        lost = [_ok(upload(client, patient, os.urandom(200 + i)), 201) for i in range(5)]
        assert [r["record_id"] for r in lost] == [0, 1, 2, 3, 4]
        stack.anvil.revert(before)

        services = await build_services(stack.settings)
        try:
            reads: list[str] = []
            get_events = services.chain.get_events

            async def counted(patient_address: str, *args: Any, **kwargs: Any) -> Any:
                reads.append(patient_address)
                return await get_events(patient_address, *args, **kwargs)

            services.chain.get_events = counted  # type: ignore[method-assign]
            report = await reconcile_records(services)
        finally:
            await services.close()
        assert report.resubmitted == 5, report
        assert len(reads) == 1
        rows = _report_rows(client, patient)
        assert [(rows[r["cid"]]["status"], rows[r["cid"]]["record_id"]) for r in lost] == [
            ("verified", i) for i in range(5)
        ]


def test_reorgs_under_interval_mining_with_confirmations(private_stack) -> None:
    """A public-network-like chain: a block a second, CONFIRMATIONS=2, reorganisations of depth 1-3.

    An upload is `anchored` when mined and `confirmed` two blocks later; a reorg that drops its
    block puts it back to pending and it is sent again; nothing is lost and no document claims a
    record the chain does not hold.
    """
    with private_stack(
        anvil_args=["--block-time", "1"], confirmations=2, reconcile_interval_seconds=0.5, tx_resend_seconds=3.0
    ) as stack, stack.client() as client:
        patient = Wallet.random()
        patient.login(client)
        uploads = []
        for depth in (1, 2, 3):
            body = _ok(upload(client, patient, os.urandom(200 + depth)), 201)
            assert body["state"] in ("anchored", "confirmed") and body["block_number"] is not None
            uploads.append(body)
            stack.anvil.rpc("anvil_reorg", [depth, []])  # drops the blocks, and the record's transaction

        def all_settled() -> dict[str, dict[str, Any]] | None:
            rows = _report_rows(client, patient)
            wanted = [rows.get(u["cid"]) for u in uploads]
            if all(r and r["status"] == "verified" and r["state"] == "confirmed" for r in wanted):
                return rows
            return None

        rows = wait_until(all_settled, 60, interval=0.5, description="every upload confirmed again")
        ids = sorted(rows[u["cid"]]["record_id"] for u in uploads)
        assert ids == [0, 1, 2]
        assert any(rows[u["cid"]]["reanchored"] >= 1 for u in uploads)

        with stack.restarted() as restarted, httpx.Client(base_url=restarted.url, timeout=60) as second:
            assert _ok(second.get("/api/system/status"))["status"] == "ok"


def test_a_reorged_approval_gives_the_doctor_nothing(private_stack) -> None:
    """An approval whose block is dropped: the doctor's read is refused at once (the chain decides),
    and the patient's and doctor's lists show what the chain holds, not what the database recorded."""
    with private_stack(anvil_args=["--block-time", "1"], reconcile_interval_seconds=3600.0) as stack, stack.client() as client:
        patient, doctor = Wallet.random(), Wallet.random()
        stack.register_doctor(doctor.address)
        patient.login(client)
        doctor.login(client)
        record = _ok(upload(client, patient, os.urandom(256)), 201)
        _ok(request_access(client, doctor, patient.address), 201)
        (request,) = pending_requests(client, patient)
        _ok(approve(client, patient, request["id"], doctor.address, [record["record_id"]], 1))
        assert doctor_view(client, doctor, record["cid"]).status_code == 200

        stack.anvil.rpc("anvil_reorg", [1, []])  # the approval's block is gone
        refused = doctor_view(client, doctor, record["cid"])
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "access_denied"
        grants = _ok(client.get("/api/access-requests/patient/grants", headers=patient.headers))["grants"]
        assert grants == []
        authorized = _ok(client.get("/api/access-requests/doctor/authorized-records", headers=doctor.headers))
        assert authorized["grants"] == [] and authorized["consistent_with_chain"] is False


def test_payloads_signed_after_an_idle_spell_are_not_born_expired(private_stack) -> None:
    """A chain that makes blocks only for transactions: its latest block can be an hour old.

    Before: the deadline was that block's time + the TTL, already in the past when the next block
    (at the wall clock's time) came, so the first action after a quiet spell failed on chain.
    """
    now = int(time.time())
    with private_stack(anvil_args=["--timestamp", str(now - 3600)], signature_ttl_seconds=900) as stack, stack.client() as client:
        assert now - stack.anvil.latest_timestamp() > 3000  # the latest block is about an hour old
        stack.anvil.set_next_block_timestamp(int(time.time()) + 1)  # the next block: now, as on an idle chain
        patient = Wallet.random()
        patient.login(client)
        payload = patient.typed_data(client, "addRecord", {"recordType": "report", "contentHash": "0x" + "11" * 32})
        assert payload["message"]["deadline"] >= time.time() + 850
        _ok(upload(client, patient, os.urandom(100)), 201)


def test_a_deadline_too_close_is_refused_before_anything_is_paid(private_stack) -> None:
    """Before: refused only after the relayer had deployed the patient's contract and mined a
    reverting AddRecord (gas paid twice, 409 `transaction_failed`). Now: 400 `signature_expired`,
    "sign again", and the relayer sent nothing."""
    with private_stack(deadline_margin_seconds=60) as stack, stack.client() as client:
        patient = Wallet.random()
        patient.login(client)
        relayer = stack.anvil.accounts[9].address
        sent_before = int(stack.anvil.rpc("eth_getTransactionCount", [relayer, "latest"]), 16)
        soon = str(int(time.time()) + 20)  # would pass a check against the last block, cannot land safely
        content = os.urandom(100)
        content_hash = commitment(content)
        payload = patient.typed_data(client, "addRecord", {"recordType": "report", "contentHash": content_hash})
        payload["message"]["deadline"] = int(soon)
        response = upload(
            client, patient, content, overrides={"deadline": soon, "recordSignature": patient.sign_typed_data(payload)}
        )
        assert response.status_code == 400, response.text
        error = response.json()["error"]
        assert error["code"] == "signature_expired" and "sign again" in error["message"]
        assert int(stack.anvil.rpc("eth_getTransactionCount", [relayer, "latest"]), 16) == sent_before
        assert _ok(client.get("/api/medical-records/patient-records", headers=patient.headers))["records"] == []
