"""The doctor-access flows as a client performs them: get the payload, sign it, post."""

from __future__ import annotations

from typing import Any

import httpx

from .wallet import Wallet


def request_access(client: httpx.Client, doctor: Wallet, patient: str, reason: str = "follow-up") -> httpx.Response:
    payload = doctor.typed_data(client, "requestAccess", {"patientAddress": patient})
    return client.post(
        "/api/access-requests/doctor/request",
        json={"patientAddress": patient, "requestReason": reason, "signature": doctor.sign_typed_data(payload)},
        headers=doctor.headers,
    )


def pending_requests(client: httpx.Client, patient: Wallet) -> list[dict[str, Any]]:
    response = client.get("/api/access-requests/patient/requests", headers=patient.headers)
    response.raise_for_status()
    return response.json()["requests"]


def approve(
    client: httpx.Client, patient: Wallet, request_id: str, doctor: str, record_ids: list[int], days: float
) -> httpx.Response:
    payload = patient.typed_data(
        client, "approveAccess", {"doctor": doctor, "recordIds": record_ids, "duration": round(days * 86400)}
    )
    return client.post(
        "/api/access-requests/patient/respond",
        json={
            "requestId": request_id,
            "action": "approve",
            "selectedRecords": record_ids,
            "accessDuration": days,
            "walletSignature": patient.key_signature(client),
            "approvalSignature": patient.sign_typed_data(payload),
        },
        headers=patient.headers,
    )


def deny(client: httpx.Client, patient: Wallet, request_id: str, doctor: str) -> httpx.Response:
    payload = patient.typed_data(client, "denyAccess", {"doctor": doctor})
    return client.post(
        "/api/access-requests/patient/respond",
        json={"requestId": request_id, "action": "deny", "approvalSignature": patient.sign_typed_data(payload)},
        headers=patient.headers,
    )


def revoke(client: httpx.Client, patient: Wallet, doctor: str, record_ids: list[int] | None = None) -> httpx.Response:
    params: dict[str, Any] = {"doctor": doctor}
    if record_ids is not None:
        params["recordIds"] = record_ids
    payload = patient.typed_data(client, "revokeAccess", params)
    body: dict[str, Any] = {"doctorAddress": doctor, "signature": patient.sign_typed_data(payload)}
    if record_ids is not None:
        body["recordIds"] = record_ids
    return client.post("/api/access-requests/patient/revoke", json=body, headers=patient.headers)


def request_extension(client: httpx.Client, doctor: Wallet, patient: str, seconds: int) -> httpx.Response:
    payload = doctor.typed_data(client, "requestExtension", {"patientAddress": patient, "extra": seconds})
    return client.post(
        "/api/access-requests/doctor/extend",
        json={"patientAddress": patient, "extraSeconds": seconds, "signature": doctor.sign_typed_data(payload)},
        headers=doctor.headers,
    )


def approve_extension(client: httpx.Client, patient: Wallet, doctor: str, seconds: int) -> httpx.Response:
    payload = patient.typed_data(client, "approveExtension", {"doctor": doctor, "extra": seconds})
    return client.post(
        "/api/access-requests/patient/approve-extension",
        json={"doctorAddress": doctor, "signature": patient.sign_typed_data(payload)},
        headers=patient.headers,
    )


def doctor_view(client: httpx.Client, doctor: Wallet, cid: str) -> httpx.Response:
    return client.get(f"/api/medical-records/view/{cid}", headers=doctor.headers)
