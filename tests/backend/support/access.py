"""The doctor-access flows as a client performs them: get the payload, sign it, post."""

from __future__ import annotations

from typing import Any

import httpx

from .keys import register_key
from .wallet import Wallet


def signed(wallet: Wallet, payload: dict[str, Any], field: str = "signature") -> dict[str, Any]:
    """The body fields of a signed action: the signature, and the nonce and deadline it covers."""
    return {field: wallet.sign_typed_data(payload), "nonce": payload["message"]["nonce"], "deadline": payload["message"]["deadline"]}


def request_access(
    client: httpx.Client,
    doctor: Wallet,
    patient: str,
    reason: str = "follow-up",
    *,
    with_key: bool = True,
    wants_write: Any = None,
) -> httpx.Response:
    """The doctor asks for access. Like the app (which sets up the key at first sign-in), the
    doctor's encryption key is registered first unless `with_key=False`: approving needs it.
    `wants_write` is sent as the body's `wantsWrite` as given (any JSON value) unless None."""
    if with_key:
        register_key(client, doctor)
    payload = doctor.typed_data(client, "requestAccess", {"patientAddress": patient})
    body: dict[str, Any] = {"patientAddress": patient, "requestReason": reason, **signed(doctor, payload)}
    if wants_write is not None:
        body["wantsWrite"] = wants_write
    return client.post("/api/access-requests/doctor/request", json=body, headers=doctor.headers)


def pending_requests(client: httpx.Client, patient: Wallet) -> list[dict[str, Any]]:
    response = client.get("/api/access-requests/patient/requests", headers=patient.headers)
    response.raise_for_status()
    return response.json()["requests"]


def approve(
    client: httpx.Client, patient: Wallet, request_id: str, doctor: str, record_ids: list[int], days: float
) -> httpx.Response:
    payload = patient.typed_data(
        client, "approveRecords", {"doctor": doctor, "recordIds": record_ids, "duration": round(days * 86400)}
    )
    return client.post(
        "/api/access-requests/patient/respond",
        json={
            "requestId": request_id,
            "action": "approve",
            "selectedRecords": record_ids,
            "durationSeconds": round(days * 86400),
            "walletSignature": patient.key_signature(client),
            **signed(patient, payload, "approvalSignature"),
        },
        headers=patient.headers,
    )


def deny(client: httpx.Client, patient: Wallet, request_id: str, doctor: str) -> httpx.Response:
    payload = patient.typed_data(client, "denyAccess", {"doctor": doctor})
    return client.post(
        "/api/access-requests/patient/respond",
        json={"requestId": request_id, "action": "deny", **signed(patient, payload, "approvalSignature")},
        headers=patient.headers,
    )


def revoke(client: httpx.Client, patient: Wallet, doctor: str, record_ids: list[int] | None = None) -> httpx.Response:
    params: dict[str, Any] = {"doctor": doctor}
    if record_ids is not None:
        params["recordIds"] = record_ids
    payload = patient.typed_data(client, "revokeAccess" if record_ids is None else "revokeRecords", params)
    body: dict[str, Any] = {"doctorAddress": doctor, **signed(patient, payload)}
    if record_ids is not None:
        body["recordIds"] = record_ids
    return client.post("/api/access-requests/patient/revoke", json=body, headers=patient.headers)


def request_extension(client: httpx.Client, doctor: Wallet, patient: str, seconds: int) -> httpx.Response:
    payload = doctor.typed_data(client, "requestExtension", {"patientAddress": patient, "extra": seconds})
    return client.post(
        "/api/access-requests/doctor/extend",
        json={"patientAddress": patient, "extraSeconds": seconds, **signed(doctor, payload)},
        headers=doctor.headers,
    )


def approve_extension(client: httpx.Client, patient: Wallet, doctor: str, seconds: int) -> httpx.Response:
    payload = patient.typed_data(client, "approveExtension", {"doctor": doctor, "extra": seconds})
    return client.post(
        "/api/access-requests/patient/approve-extension",
        json={"doctorAddress": doctor, **signed(patient, payload)},
        headers=patient.headers,
    )


def doctor_view(client: httpx.Client, doctor: Wallet, cid: str, *, with_signature: bool = True) -> httpx.Response:
    """A doctor's view of a record, with their key signature (keys v2: every reader's own key)."""
    headers = {**doctor.headers, "X-Wallet-Signature": doctor.key_signature(client)} if with_signature else doctor.headers
    return client.get(f"/api/medical-records/view/{cid}", headers=headers)


def write_grant(
    client: httpx.Client, patient: Wallet, doctor: str, seconds: int, *, as_days: bool = False
) -> httpx.Response:
    """A signed approveWrite for `seconds`; sent as `durationDays` (whole days, as the web app does) when `as_days`."""
    payload = patient.typed_data(client, "approveWrite", {"doctor": doctor, "duration": seconds})
    duration = {"durationDays": seconds // 86400} if as_days else {"durationSeconds": seconds}
    return client.post(
        "/api/access-requests/patient/write-grant",
        json={"doctorAddress": doctor, **duration, **signed(patient, payload)},
        headers=patient.headers,
    )


def write_revoke(client: httpx.Client, patient: Wallet, doctor: str) -> httpx.Response:
    payload = patient.typed_data(client, "revokeWrite", {"doctor": doctor})
    return client.post(
        "/api/access-requests/patient/write-revoke",
        json={"doctorAddress": doctor, **signed(patient, payload)},
        headers=patient.headers,
    )


def invalidate_nonce(client: httpx.Client, wallet: Wallet, patient: str | None = None) -> httpx.Response:
    """Cancel `wallet`'s unsent signatures: a patient's own vault, or (doctors) `patient`'s."""
    params = {} if patient is None else {"patientAddress": patient}
    payload = wallet.typed_data(client, "invalidateNonce", params)
    return client.post("/api/signing/invalidate-nonce", json={**params, **signed(wallet, payload)}, headers=wallet.headers)
