"""Query input the directory and audit endpoints refuse with a 400 instead of failing deeper down."""

from __future__ import annotations

import pytest

from .support.wallet import Wallet


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("path", "role"),
    [("/api/doctors/search", "registrar"), ("/api/patients/search", "doctor"), ("/api/audit/all", "registrar")],
)
async def test_pages_beyond_any_result_are_a_400(client, dev_accounts, registrar_relayer, path: str, role: str) -> None:
    """Before: page >= 2^63 was a 500 (and the doctor search reset the connection)."""
    if role == "registrar":
        caller = Wallet.from_key(dev_accounts[0].private_key)
    else:
        caller = Wallet.random()
        await registrar_relayer.register_doctor(caller.address)
    caller.login(client)
    for page in (2**63, 10**30):
        response = client.get(path, params={"page": page, "q": "ab"}, headers=caller.headers)
        assert response.status_code == 400, response.text
        assert response.json()["error"]["code"] == "invalid_page"


@pytest.mark.asyncio
@pytest.mark.parametrize("text", ["\x00", "Grace\x00Hopper", "a\x1bb"])
async def test_control_characters_in_searches_and_names_are_a_400(client, registrar_relayer, text: str) -> None:
    """Real MongoDB refuses NUL in a $regex (a 503 for a bad query); names never carry control characters."""
    doctor = Wallet.random()
    await registrar_relayer.register_doctor(doctor.address)
    doctor.login(client)
    patient = Wallet.random()
    patient.login(client)
    for path, caller in (("/api/doctors/search", patient), ("/api/patients/search", doctor)):
        response = client.get(path, params={"q": text}, headers=caller.headers)
        assert (response.status_code, response.json()["error"]["code"]) == (400, "invalid_query"), path
    named = client.put("/api/profile", json={"displayName": text, "published": True}, headers=patient.headers)
    assert (named.status_code, named.json()["error"]["code"]) == (400, "invalid_displayName")
