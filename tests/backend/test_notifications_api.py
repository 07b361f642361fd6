"""GET /api/notifications against the real Anvil, js-ipfs and SecantusDB: counts and change tokens
move exactly when a request is made, answered or revoked, and when a doctor adds a record."""

from __future__ import annotations

import os
import time

import httpx
import pytest
import pytest_asyncio

from healthledger.chain.relayer import Relayer

from .fixtures.wallets import registered_doctor
from .support import access
from .support.doctor_records import doctor_upload, register_key
from .support.records import upload
from .support.responses import expect_error, expect_ok
from .support.wallet import Wallet

DAY = 86400
URL = "/api/notifications"


def notes(client: httpx.Client, wallet: Wallet, since: int | None = None) -> dict:
    params = {} if since is None else {"since": since}
    return expect_ok(client.get(URL, params=params, headers=wallet.headers))


@pytest_asyncio.fixture
async def doctor(client: httpx.Client, registrar_relayer: Relayer) -> Wallet:
    wallet = await registered_doctor(client, registrar_relayer)
    register_key(client, wallet)
    return wallet


@pytest.mark.asyncio
async def test_request_answer_and_revoke_move_counts_and_tokens(
    client: httpx.Client, patient_wallet: Wallet, doctor: Wallet
) -> None:
    patient = patient_wallet
    register_key(client, patient)
    expect_ok(upload(client, patient, os.urandom(500)), 201)
    expect_ok(upload(client, patient, os.urandom(500)), 201)

    p0, d0 = notes(client, patient), notes(client, doctor)
    assert p0["role"] == "patient" and d0["role"] == "doctor"
    assert p0["counts"] == {"pending_requests": 0, "answered_requests": 0, "new_authored_records": 0, "expiring_grants": 0}
    assert d0["counts"]["answered_requests"] == 0
    assert abs(p0["now"] - time.time()) < 60
    # Nothing changed: the same tokens twice.
    assert notes(client, patient)["token"] == p0["token"]
    assert notes(client, doctor)["token"] == d0["token"]

    # A request: the patient's pending count and requests token move; the doctor's requests token too.
    request = expect_ok(access.request_access(client, doctor, patient.address, "follow-up", with_key=False), 201)
    p1, d1 = notes(client, patient), notes(client, doctor)
    assert p1["counts"]["pending_requests"] == 1
    assert p1["changes"]["requests"] != p0["changes"]["requests"]
    assert p1["changes"]["grants"] == p0["changes"]["grants"]
    assert d1["changes"]["requests"] != d0["changes"]["requests"]
    assert d1["changes"]["records"] == d0["changes"]["records"]
    assert d1["counts"]["answered_requests"] == 0

    # Approved for one day: pending back to 0, the doctor sees one answer after `since` (and none
    # after the answer's own time), both sides count a grant ending within 24 hours.
    seen = d1["now"] - 1
    expect_ok(access.approve(client, patient, request["id"], doctor.address, [0, 1], 1))
    p2, d2 = notes(client, patient), notes(client, doctor, since=seen)
    assert p2["counts"]["pending_requests"] == 0 and p2["counts"]["expiring_grants"] == 1
    assert p2["changes"]["grants"] != p1["changes"]["grants"]
    assert d2["counts"]["answered_requests"] == 1 and d2["counts"]["expiring_grants"] == 1
    assert d2["since"] == seen
    assert d2["changes"]["requests"] != d1["changes"]["requests"]
    assert d2["changes"]["records"] != d1["changes"]["records"]
    assert notes(client, doctor, since=d2["now"] + 1)["counts"]["answered_requests"] == 0

    # Revoking one record: the doctor's records token moves (their list must drop it), counts stay.
    expect_ok(access.revoke(client, patient, doctor.address, [1]))
    d3 = notes(client, doctor, since=seen)
    assert d3["changes"]["records"] != d2["changes"]["records"]
    assert d3["changes"]["requests"] == d2["changes"]["requests"]
    assert d3["token"] != d2["token"]
    # Revoking everything: nothing left to expire.
    expect_ok(access.revoke(client, patient, doctor.address))
    p4, d4 = notes(client, patient), notes(client, doctor)
    assert p4["counts"]["expiring_grants"] == 0 and d4["counts"]["expiring_grants"] == 0
    assert d4["changes"]["records"] == d0["changes"]["records"]


@pytest.mark.asyncio
async def test_a_long_grant_is_not_expiring_and_a_denial_is_an_answer(
    client: httpx.Client, patient_wallet: Wallet, doctor: Wallet
) -> None:
    patient = patient_wallet
    register_key(client, patient)
    expect_ok(upload(client, patient, os.urandom(300)), 201)
    first = expect_ok(access.request_access(client, doctor, patient.address, with_key=False), 201)
    expect_ok(access.approve(client, patient, first["id"], doctor.address, [0], 3))
    assert notes(client, patient)["counts"]["expiring_grants"] == 0
    second = expect_ok(access.request_access(client, doctor, patient.address, with_key=False), 201)
    expect_ok(access.deny(client, patient, second["id"], doctor.address))
    assert notes(client, doctor, since=0)["counts"]["answered_requests"] == 2


@pytest.mark.asyncio
async def test_a_doctor_authored_record_is_new_until_seen(
    client: httpx.Client, patient_wallet: Wallet, doctor: Wallet
) -> None:
    patient = patient_wallet
    register_key(client, patient)
    expect_ok(access.write_grant(client, patient, doctor.address, DAY))
    before = notes(client, patient)
    expect_ok(doctor_upload(client, doctor, patient.address, os.urandom(400)), 201)
    after = notes(client, patient, since=before["now"] - 1)
    assert after["counts"]["new_authored_records"] == 1
    assert after["changes"]["records"] != before["changes"]["records"]
    assert notes(client, patient, since=after["now"] + 1)["counts"]["new_authored_records"] == 0
    # The patient's own uploads are not "new from a doctor".
    expect_ok(upload(client, patient, os.urandom(400)), 201)
    assert notes(client, patient, since=before["now"] - 1)["counts"]["new_authored_records"] == 1


@pytest.mark.asyncio
async def test_auth_role_and_input_errors(
    client: httpx.Client, patient_wallet: Wallet, registrar_wallet: Wallet
) -> None:
    expect_error(client.get(URL), 401, "missing_token")
    expect_error(client.get(URL, headers={"Authorization": "Bearer nonsense"}), 401, "invalid_token")
    expect_error(client.get(URL, headers=registrar_wallet.headers), 403, "wrong_role")
    expect_error(client.get(URL, params={"since": -1}, headers=patient_wallet.headers), 422, "invalid_request")
    expect_error(client.get(URL, params={"since": "yesterday"}, headers=patient_wallet.headers), 422, "invalid_request")
    # Beyond any date (year 9999): refused, not a 500.
    expect_error(client.get(URL, params={"since": 2**40}, headers=patient_wallet.headers), 422, "invalid_request")
    assert notes(client, patient_wallet, since=253_402_300_799)["counts"]["new_authored_records"] == 0


def _poll(what: str, check, timeout: float = 40.0):
    """Ask again until `check()` returns a truthy value (the API reads the chain's clock at most every
    CHAIN_CLOCK_SECONDS), or fail with `what`."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


@pytest.mark.asyncio
async def test_expiry_is_measured_in_chain_time(
    client: httpx.Client, patient_wallet: Wallet, doctor: Wallet, anvil
) -> None:
    """Regression: with the chain's clock two days ahead of the server's (a dev chain moved forward),
    a one-day grant still ends within 24 hours of chain time; compared with the wall clock it never did."""
    patient = patient_wallet
    register_key(client, patient)
    expect_ok(upload(client, patient, os.urandom(300)), 201)
    anvil.advance(2 * DAY)
    request = expect_ok(access.request_access(client, doctor, patient.address, with_key=False), 201)
    expect_ok(access.approve(client, patient, request["id"], doctor.address, [0], 1))
    _poll("a grant ending within 24 h of chain time", lambda: notes(client, patient)["counts"]["expiring_grants"] == 1)
    assert notes(client, doctor)["counts"]["expiring_grants"] == 1
