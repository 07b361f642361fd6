"""The directory: registering doctors, finding doctors and patients, and people's own profiles.

The operations behind `api/directory.py` and the CLI's `register-doctor`: the chain says who is a
doctor (`isDoctor`, read live), the profile store keeps names off chain. Answers are the API's JSON
bodies, so the CLI prints exactly what the API returns.
"""

from __future__ import annotations

from typing import Any

from eth_utils import to_checksum_address

from ..chain.relayer import TransactionReverted
from ..container import Services
from ..db.profiles import DoctorProfile, PatientProfile
from ..domain_errors import (
    Conflict,
    DomainError,
    ServiceUnavailable,
    bad_request,
    conflict,
    not_found,
)
from ..validation import (
    MAX_LICENCE_LENGTH,
    MAX_PERSON_NAME_LENGTH,
    looks_like_address,
    paging,
    search_query,
    text,
)
from ..validation import address as checked_address

# ----------------------------------------------------------------------------- JSON bodies


def _page_body(page: int, page_size: int, total: int, results: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "page": page,
        "page_size": page_size,
        "total": total,
        "pages": (total + page_size - 1) // page_size,
        "results": results,
    }


def _doctor_json(profile: DoctorProfile, registered: bool) -> dict[str, Any]:
    return {
        "address": to_checksum_address(profile.address),
        "name": profile.name,
        "licence_id": profile.licence_id,
        "registered": registered,
        "updated_at": profile.updated_at.isoformat(),
    }


def _patient_json(address: str, profile: PatientProfile | None, *, own: bool = False) -> dict[str, Any]:
    published = bool(profile and profile.published)
    body: dict[str, Any] = {
        "address": to_checksum_address(address),
        # Others see a name only while it is published.
        "display_name": profile.display_name if profile and (published or own) else None,
        "published": published,
    }
    if own:
        body["updated_at"] = profile.updated_at.isoformat() if profile else None
    return body


# ----------------------------------------------------------------------------- registry


async def _require_relayer_is_registrar(services: Services) -> None:
    if not await services.chain.has_registrar_role(services.relayer.address):
        raise _relayer_not_registrar(services)


def _relayer_not_registrar(services: Services) -> DomainError:
    return ServiceUnavailable(
        "relayer_not_registrar",
        f"the API's relayer account {services.relayer.address} does not hold REGISTRAR_ROLE on the "
        "HealthRecordFactory, so it cannot register doctors: an admin must call "
        "grantRole(REGISTRAR_ROLE, relayer) first",
        relayer=services.relayer.address,
    )


def _registry_error(services: Services, exc: TransactionReverted, doctor: str) -> DomainError:
    name = exc.error_name or "reverted"
    if name == "AccessControlUnauthorizedAccount":
        return _relayer_not_registrar(services)
    if name == "DoctorAlreadyRegistered":
        return conflict("doctor_already_registered", f"{doctor} is already a registered doctor")
    if name == "DoctorNotRegistered":
        return not_found("doctor_not_found", f"{doctor} is not a registered doctor")
    if name == "ZeroAddress":
        return bad_request("invalid_address", "the zero address cannot be a doctor")
    return Conflict("transaction_rejected", f"the chain rejected the registry change ({name})")


async def register_doctor(services: Services, doctor_address: str, name: str, licence_id: str) -> dict[str, Any]:
    """Register on chain through the registry, then keep name and licence off chain (API and CLI)."""
    doctor = checked_address(doctor_address)
    name = text(name, "name", MAX_PERSON_NAME_LENGTH)
    licence_id = text(licence_id, "licenceId", MAX_LICENCE_LENGTH)
    if int(doctor, 16) == 0:
        raise bad_request("invalid_address", "the zero address cannot be a doctor")
    await _require_relayer_is_registrar(services)
    if await services.chain.is_doctor(doctor):
        raise conflict("doctor_already_registered", f"{doctor} is already a registered doctor")
    try:
        result = await services.relay_queue.register_doctor(doctor, timeout=services.settings.tx_timeout_seconds)
    except TransactionReverted as exc:
        raise _registry_error(services, exc, doctor) from exc
    services.roles.forget(doctor)
    profile = await services.profiles.upsert_doctor(doctor, name, licence_id, registered=True)
    return {**_doctor_json(profile, True), "tx_hash": result.tx_hash, "block_number": result.block_number}


async def unregister_doctor(services: Services, doctor_address: str) -> dict[str, Any]:
    """Unregister on chain (or bring a profile in line with a chain that already did), keeping the profile."""
    doctor = checked_address(doctor_address)
    profile = await services.profiles.get_doctor(doctor)
    if not await services.chain.is_doctor(doctor):
        services.roles.forget(doctor)
        if profile is not None and profile.registered:
            # Unregistered on chain by other means: bring the profile in line.
            profile = await services.profiles.set_doctor_registered(doctor, False)
            return {**_doctor_json(profile, False), "tx_hash": None, "block_number": None}
        raise not_found("doctor_not_found", f"{doctor} is not a registered doctor")
    await _require_relayer_is_registrar(services)
    try:
        result = await services.relay_queue.unregister_doctor(doctor, timeout=services.settings.tx_timeout_seconds)
    except TransactionReverted as exc:
        raise _registry_error(services, exc, doctor) from exc
    services.roles.forget(doctor)
    profile = await services.profiles.set_doctor_registered(doctor, False)
    body = (
        _doctor_json(profile, False)
        if profile
        else {"address": doctor, "name": None, "licence_id": None, "registered": False, "updated_at": None}
    )
    return {**body, "tx_hash": result.tx_hash, "block_number": result.block_number}


# ----------------------------------------------------------------------------- search


async def search_doctors(services: Services, q: str, page: int, page_size: int) -> dict[str, Any]:
    """Doctors by name (substring) or address (prefix), with `registered` read live from the chain."""
    skip, limit = paging(page, page_size)
    profiles, total = await services.profiles.search_doctors(search_query(q), skip, limit)
    live = await services.chain.is_doctor_many([p.address for p in profiles]) if profiles else []
    return _page_body(page, page_size, total, [_doctor_json(p, r) for p, r in zip(profiles, live, strict=True)])


async def _known_patient(services: Services, address: str) -> bool:
    """Whether `address` is someone the service knows as a patient (profile, records or a clone)."""
    if await services.profiles.get_patient(address) is not None:
        return True
    if await services.records.has_records(address):
        return True
    return await services.chain.vault_exists(address)


async def search_patients(services: Services, q: str, page: int, page_size: int) -> dict[str, Any]:
    """A patient by exact address (any known patient), or by a published name."""
    skip, limit = paging(page, page_size)
    query = search_query(q)
    if looks_like_address(query):
        patient = to_checksum_address(query)
        found = await _known_patient(services, patient) and not await services.chain.is_doctor(patient)
        results = [_patient_json(patient, await services.profiles.get_patient(patient))] if found else []
        return _page_body(page, page_size, len(results), results[skip : skip + limit])
    if len(query) < 2:
        raise bad_request("invalid_query", "search by an exact address, or by at least 2 characters of a name")
    profiles, total = await services.profiles.search_published_patients(query, skip, limit)
    return _page_body(page, page_size, total, [_patient_json(p.address, p) for p in profiles])


# ----------------------------------------------------------------------------- own profile


async def own_profile(services: Services, caller_address: str, role: str) -> dict[str, Any]:
    """The caller's profile as they see it (a patient sees their name even unpublished)."""
    if role == "doctor":
        profile = await services.profiles.get_doctor(caller_address)
        if profile is None:
            return {"address": caller_address, "role": "doctor", "name": None, "licence_id": None, "registered": True}
        return {**_doctor_json(profile, True), "role": "doctor"}
    if role == "patient":
        patient = await services.profiles.get_patient(caller_address)
        return {**_patient_json(caller_address, patient, own=True), "role": "patient"}
    return {"address": caller_address, "role": role}


async def set_patient_profile(services: Services, patient: str, display_name: str, published: bool) -> dict[str, Any]:
    """Choose a display name and whether doctors can find the patient by it (a name is needed to publish)."""
    name = text(display_name, "displayName", MAX_PERSON_NAME_LENGTH, required=published)
    profile = await services.profiles.set_patient_profile(patient, name, published)
    return {**_patient_json(patient, profile, own=True), "role": "patient"}
