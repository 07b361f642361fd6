"""Write grants: a patient lets a registered doctor add records to their vault for a time.

The chain decides (HealthRecord `approveWrite` / `revokeWrite`, `getWriteGrant`): this module
checks the patient's signature, relays it, and lists live grants. Lists start from WriteApproved
events (the only trace of who was ever granted) and keep what `getWriteGrant` confirms now, in one
JSON-RPC batch: an expired, revoked or registry-dead grant (doctor unregistered since) is left out.
No off-chain copy is kept, so there is nothing to fall out of step.
"""

from __future__ import annotations

from typing import Any

from ..container import Services
from ..domain_errors import bad_request, conflict
from ..validation import address
from .access import check_duration
from .relay import find_signed_payload, relay


class WriteAccessService:
    def __init__(self, services: Services) -> None:
        self._s = services

    async def grant(
        self,
        patient: str,
        doctor: Any,
        duration_seconds: Any,
        signature: str,
        nonce: int,
        deadline: int,
        client_ip: str | None = None,
    ) -> dict[str, Any]:
        """Relay the patient's ApproveWrite; the grant's expiry as the chain now says."""
        doctor = address(doctor, "doctorAddress", strict=False)
        duration = check_duration(duration_seconds, "durationSeconds")
        if doctor.lower() == patient.lower():
            raise bad_request("invalid_address", "doctorAddress is your own address")
        if not await self._s.chain.is_doctor(doctor):
            raise conflict("doctor_not_registered", "this address is not a doctor in the provider registry")
        payload, raw = await find_signed_payload(
            self._s, action="approveWrite", patient=patient, signer=patient,
            fields={"doctor": doctor, "duration": duration}, signature=signature, nonce=nonce, deadline=deadline,
        )
        if not await self._s.chain.vault_exists(patient):
            # A patient with no record yet: the doctor's first record needs the vault.
            await self._s.rate_limits.hit("new_vault", ip=client_ip, address=patient)
            await self._s.relay_queue.ensure_vault(patient, timeout=self._s.settings.tx_timeout_seconds)
        result = await relay(self._s, patient, payload, raw)
        expires_at = await self._s.chain.get_write_grant(patient, doctor)
        return {"doctorAddress": doctor, "expiresAt": expires_at, "txHash": result.tx_hash}

    async def revoke(self, patient: str, doctor: Any, signature: str, nonce: int, deadline: int) -> dict[str, Any]:
        """Relay the patient's RevokeWrite; 409 `no_write_grant` when the doctor has no live one."""
        doctor = address(doctor, "doctorAddress", strict=False)
        if await self._s.chain.get_write_grant(patient, doctor) == 0:
            raise conflict("no_write_grant", "this doctor has no live write grant on your records")
        payload, raw = await find_signed_payload(
            self._s, action="revokeWrite", patient=patient, signer=patient, fields={"doctor": doctor},
            signature=signature, nonce=nonce, deadline=deadline,
        )
        result = await relay(self._s, patient, payload, raw)
        return {"doctorAddress": doctor, "txHash": result.tx_hash}

    async def grants_of_patient(self, patient: str) -> dict[str, Any]:
        """Doctors who may add records to `patient`'s vault now, with the doctor's name when known."""
        events = await self._s.chain.get_events(patient, names=["WriteApproved"], with_timestamps=False)
        doctors = list(dict.fromkeys(str(e.args["doctor"]) for e in events))
        expiries = await self._s.chain.write_grants_many([(patient, d) for d in doctors]) if doctors else []
        grants = []
        for doctor, expires_at in zip(doctors, expiries, strict=True):
            if expires_at == 0:
                continue
            profile = await self._s.profiles.get_doctor(doctor)
            grants.append(
                {"doctorAddress": doctor, "doctorName": profile.name if profile and profile.name else None,
                 "expiresAt": expires_at}
            )
        return {"grants": grants}

    async def grants_of_doctor(self, doctor: str) -> dict[str, Any]:
        """Vaults `doctor` may add records to now (the patient's name only when they publish it)."""
        emitters = await self._s.chain.emitters_of("WriteApproved", doctor)
        patients = list((await self._s.chain.patients_of_vaults(emitters)).values())
        expiries = await self._s.chain.write_grants_many([(p, doctor) for p in patients]) if patients else []
        grants = []
        for patient, expires_at in zip(patients, expiries, strict=True):
            if expires_at == 0:
                continue
            profile = await self._s.profiles.get_patient(patient)
            name = profile.display_name if profile and profile.published and profile.display_name else None
            grants.append({"patientAddress": patient, "patientName": name, "expiresAt": expires_at})
        return {"grants": grants}
