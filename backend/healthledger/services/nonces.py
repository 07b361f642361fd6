"""Cancelling signatures: the caller consumes their current nonce in a vault (InvalidateNonce).

Why: a signed action that was never relayed stays valid until its deadline, and anyone holding it
could still submit it (e.g. an ApproveRecords signed before the patient changed their mind).
Consuming the signer's nonce makes every such signature of theirs for that vault unusable; the
web app offers it after a full revoke. Patients act on their own vault, doctors name the patient.
"""

from __future__ import annotations

from typing import Any

from ..container import Services
from ..domain_errors import bad_request
from ..validation import address
from .relay import find_signed_payload, relay


async def invalidate_nonce(
    services: Services,
    caller: str,
    role: str,
    patient_address: str | None,
    signature: str,
    nonce: int,
    deadline: int,
    client_ip: str | None = None,
) -> dict[str, Any]:
    """Relay the caller's InvalidateNonce on the vault; which nonce was consumed, and the transaction."""
    if role == "doctor":
        if not patient_address:
            raise bad_request("invalid_address", "patientAddress is required: whose vault your signatures were for")
        patient = address(patient_address, "patientAddress", strict=False)
    else:
        if patient_address and address(patient_address, "patientAddress", strict=False).lower() != caller.lower():
            raise bad_request("invalid_address", "a patient cancels signatures on their own vault: leave patientAddress out")
        patient = caller
    payload, raw = await find_signed_payload(
        services, action="invalidateNonce", patient=patient, signer=caller, fields={"account": caller},
        signature=signature, nonce=nonce, deadline=deadline,
    )
    if not await services.chain.vault_exists(patient):
        # Signatures for a vault that does not exist yet become usable once it does: create it.
        await services.rate_limits.hit("new_vault", ip=client_ip, address=caller)
        await services.relay_queue.ensure_vault(patient, timeout=services.settings.tx_timeout_seconds)
    result = await relay(services, patient, payload, raw)
    return {"account": caller, "nonce": int(payload["message"]["nonce"]), "txHash": result.tx_hash}
