"""Roles that matter for data are the chain's, at each request; files are served so they cannot run.

Before: an unregistered doctor's access token (15 min) still read the records shared with them
(patient addresses, names, CIDs) and searched patients; a patient-chosen `Content-Type` (even
`text/html`) was served `inline` with no `nosniff`; the app's pages had no Content-Security-Policy.
"""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest

from healthledger.devstack.process import wait_until

from .support.records import upload
from .support.wallet import Wallet
from .test_directory_api import relayer_is_registrar  # noqa: F401  (fixture)


def _error(response: httpx.Response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
    return response.json()["error"]


DOCTOR_DATA = ("/api/access-requests/doctor/authorized-records", "/api/patients/search?q=0x" + "ab" * 20)


@pytest.mark.asyncio
async def test_a_doctor_struck_off_behind_the_apis_back_loses_data_within_the_cache_time(
    other_api_server, registrar_relayer
) -> None:
    with other_api_server(role_cache_seconds=2) as server, httpx.Client(base_url=server.url, timeout=60) as client:
        await _struck_off_behind_the_apis_back(client, registrar_relayer)


async def _struck_off_behind_the_apis_back(client: httpx.Client, registrar_relayer) -> None:  # type: ignore[no-untyped-def]
    doctor = Wallet.random()
    await registrar_relayer.register_doctor(doctor.address)
    doctor.login(client)
    for path in DOCTOR_DATA:
        assert client.get(path, headers=doctor.headers).status_code == 200
    await registrar_relayer.unregister_doctor(doctor.address)
    # The API was not told (unregistered behind its back): within ROLE_CACHE_SECONDS the chain's
    # answer reaches every request.
    def refused() -> bool:
        return all(client.get(path, headers=doctor.headers).status_code == 403 for path in DOCTOR_DATA)

    wait_until(refused, 30, interval=0.5, description="the struck-off doctor to be refused")
    _error(client.get(DOCTOR_DATA[0], headers=doctor.headers), 403, "not_registered_doctor")


@pytest.mark.asyncio
async def test_a_doctor_struck_off_by_the_registrar_is_refused_immediately(
    other_api_server, dev_accounts, relayer_is_registrar
) -> None:
    """Through the API's own DELETE, the role cache is cleared at once (a long cache shows it)."""
    with other_api_server(role_cache_seconds=30) as server, httpx.Client(base_url=server.url, timeout=60) as api:
        registrar = Wallet.from_key(dev_accounts[0].private_key)
        registrar.login(api)
        doctor = Wallet.random()
        added = api.post(
            "/api/admin/doctors",
            json={"address": doctor.address, "name": "Dr. Struck Off", "licenceId": "X-1"},
            headers=registrar.headers,
        )
        assert added.status_code == 201, added.text
        doctor.login(api)
        assert api.get(DOCTOR_DATA[0], headers=doctor.headers).status_code == 200
        assert api.delete(f"/api/admin/doctors/{doctor.address}", headers=registrar.headers).status_code == 200
        for path in DOCTOR_DATA:
            _error(api.get(path, headers=doctor.headers), 403, "not_registered_doctor")


@pytest.mark.parametrize(
    ("content_type", "disposition"),
    [
        ("application/pdf", "inline"),
        ("image/png", "inline"),
        ("image/jpeg", "inline"),
        ("text/html", "attachment"),
        ("image/svg+xml", "attachment"),
        ("application/octet-stream", "attachment"),
    ],
)
def test_files_are_inline_only_for_previews_and_never_sniffed(client, content_type: str, disposition: str) -> None:
    patient = Wallet.random()
    patient.login(client)
    body = upload(client, patient, b"<script>alert(1)</script>" + os.urandom(16), name="page.html", content_type=content_type)
    assert body.status_code == 201, body.text
    response = client.get(
        f"/api/medical-records/view/{body.json()['cid']}",
        headers={**patient.headers, "X-Wallet-Signature": patient.key_signature(client)},
    )
    assert response.status_code == 200
    assert response.headers["content-disposition"].startswith(disposition + ";")
    assert response.headers["x-content-type-options"] == "nosniff"


def test_app_pages_have_a_content_security_policy(other_api_server, tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text("<!doctype html><title>app</title>")
    with other_api_server(frontend_dist=str(tmp_path)) as server, httpx.Client(base_url=server.url) as api:
        page = api.get("/")
        assert page.status_code == 200
        policy = page.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy and "object-src 'none'" in policy
        assert page.headers["x-content-type-options"] == "nosniff"
        assert page.headers["x-frame-options"] == "DENY"
        api_answer = api.get("/api/system/config")
        assert api_answer.headers["x-content-type-options"] == "nosniff"
