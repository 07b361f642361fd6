"""A doctor-authored record the chain lost is sent again with the doctor's own signature.

Mirrors test_chain_rollbacks.py's patient case on a chain of the test's own: the chain is rolled
back past the record (a deep reorg, a dev chain restored), so the doctor's nonce in the patient's
vault rolls back with it and their AddRecordAsDoctor is valid again. Before doctor uploads kept
who signed, the reconciler checked and re-sent with the patient's nonce and AddRecord: the
record could never come back.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

import httpx

from healthledger.chain.client import ChainClient
from healthledger.devstack.process import wait_until

from .support import access
from .support.doctor_records import doctor_upload, register_key
from .support.wallet import Wallet


def _ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def test_a_lost_doctor_record_is_sent_again_with_the_doctors_signature(private_stack) -> None:
    with private_stack(reconcile_interval_seconds=0.5) as stack, stack.client() as client:
        patient, doctor = Wallet.random(), Wallet.random()
        stack.register_doctor(doctor.address)
        patient.login(client)
        doctor.login(client)
        register_key(client, patient)
        register_key(client, doctor)
        _ok(access.write_grant(client, patient, doctor.address, 86400))
        before = stack.anvil.snapshot()  # the write grant stays; what follows is lost
        content = os.urandom(1500)
        lost = _ok(doctor_upload(client, doctor, patient.address, content), 201)
        assert (lost["record_id"], lost["author"]) == (0, doctor.address.lower())
        stack.anvil.revert(before)

        def repaired() -> dict[str, Any] | None:
            report = _ok(client.get("/api/system/integrity-report", headers=patient.headers))
            row = {r["cid"]: r for r in report["records"]}[lost["cid"]]
            return row if row["status"] == "verified" and row["reanchored"] >= 1 else None

        row = wait_until(repaired, 30, interval=0.2, description="the lost doctor record to be sent again")
        assert (row["record_id"], row["state"]) == (0, "confirmed")

        async def on_chain() -> tuple[Any, int]:
            chain = ChainClient(stack.anvil.rpc_url, stack.deployment.factory, timeout_seconds=10.0)
            try:
                return await chain.get_record(patient.address, 0), await chain.nonce_of(patient.address, doctor.address)
            finally:
                await chain.aclose()

        record, doctor_nonce = asyncio.run(on_chain())
        assert record is not None and record.author == doctor.address
        assert record.content_hash == lost["content_hash"] and doctor_nonce == 1

        # The patient opens it, verified; the doctor's next record takes the next id.
        viewed = client.get(
            f"/api/medical-records/view/{lost['cid']}",
            headers={**patient.headers, "X-Wallet-Signature": patient.key_signature(client)},
        )
        assert viewed.status_code == 200 and viewed.content == content
        assert viewed.headers["x-blockchain-hash-verified"] == "true"
        assert _ok(doctor_upload(client, doctor, patient.address, os.urandom(300)), 201)["record_id"] == 1
