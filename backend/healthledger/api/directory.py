"""The directory: registering doctors (registrar), finding doctors and patients, publishing a name.

- `POST /api/admin/doctors` / `DELETE /api/admin/doctors/{address}` (registrar): register or
  unregister a doctor on chain (the API's relayer sends the transaction, so it must hold
  REGISTRAR_ROLE) and keep the display name and licence id off chain;
- `GET /api/doctors/search?q=` (anyone signed in): doctors by name substring or address prefix, with
  `registered` read live from the chain;
- `GET /api/patients/search?q=` (doctors): a patient by exact address, or by a published name;
- `GET` / `PUT /api/profile`: your profile; patients choose a display name and whether to publish it.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from typing import Annotated, Any

from eth_abi import decode as abi_decode
from eth_utils import function_signature_to_4byte_selector, is_address, to_checksum_address
from fastapi import APIRouter, Query
from hexbytes import HexBytes
from pydantic import BaseModel, Field

from ..chain.relayer import TransactionReverted
from ..container import Services
from ..db.mongo import RECORDS
from ..db.profiles import DoctorProfile, PatientProfile
from ..errors import ApiError, bad_request, conflict, not_found
from .deps import CallerDep, DoctorDep, PatientDep, RegistrarDep, ServicesDep
from .schemas.directory import DoctorPage, PatientPage, Profile, RegistryChange
from .schemas.errors import AUTH, BODY, CHAIN, DATABASE, ROLE, WRITE, errors

router = APIRouter(tags=["directory"])

MAX_NAME_LENGTH = 100
MAX_LICENCE_LENGTH = 64
MAX_QUERY_LENGTH = 100
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200

_IS_DOCTOR_SELECTOR = function_signature_to_4byte_selector("isDoctor(address)")


# ----------------------------------------------------------------------------- helpers


def _address(value: str, field: str = "address") -> str:
    text = (value or "").strip()
    if not is_address(text) or not text.startswith("0x"):
        raise bad_request("invalid_address", f"{field} is not an Ethereum address (0x + 40 hex digits)")
    return to_checksum_address(text)


def _has_control_characters(text: str) -> bool:
    """NUL, escapes and other control characters: never part of a name, and MongoDB refuses NUL in a $regex."""
    return any(unicodedata.category(char) == "Cc" for char in text)


def _text(value: str, field: str, maximum: int, *, required: bool = True) -> str:
    text = " ".join((value or "").split())  # trim, and no runs of spaces
    if _has_control_characters(text):
        raise bad_request(f"invalid_{field}", f"{field} must not contain control characters")
    if required and not text:
        raise bad_request(f"invalid_{field}", f"{field} must not be empty")
    if len(text) > maximum:
        raise bad_request(f"invalid_{field}", f"{field} must be at most {maximum} characters")
    return text


MAX_PAGE = 1_000_000


def _paging(page: int, page_size: int) -> tuple[int, int]:
    if not 1 <= page <= MAX_PAGE:
        raise bad_request("invalid_page", f"page must be between 1 and {MAX_PAGE}")
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise bad_request("invalid_page_size", f"page_size must be between 1 and {MAX_PAGE_SIZE}")
    return (page - 1) * page_size, page_size


def _query(q: str) -> str:
    text = (q or "").strip()
    if len(text) > MAX_QUERY_LENGTH:
        raise bad_request("invalid_query", f"q must be at most {MAX_QUERY_LENGTH} characters")
    if _has_control_characters(text):
        raise bad_request("invalid_query", "q must not contain control characters")
    return text


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


async def registered_many(services: Services, addresses: Sequence[str]) -> list[bool]:
    """`isDoctor` for many addresses in one JSON-RPC batch (live from the chain)."""
    if not addresses:
        return []
    factory = services.chain.factory_address
    calls = [
        (
            "eth_call",
            [
                {
                    "to": factory,
                    "data": "0x" + (_IS_DOCTOR_SELECTOR + bytes(HexBytes(a)).rjust(32, b"\x00")).hex(),
                },
                "latest",
            ],
        )
        for a in addresses
    ]
    try:
        responses = await services.chain.w3.provider.make_batch_request(calls)  # type: ignore[arg-type]
    except Exception as exc:
        raise ApiError(502, "chain_unavailable", "the chain did not answer the registry lookup") from exc
    if not isinstance(responses, list) or len(responses) != len(calls):
        raise ApiError(502, "chain_unavailable", "the chain did not answer the registry lookup")
    out = []
    for response in responses:
        if not isinstance(response, dict) or response.get("error") or not response.get("result"):
            raise ApiError(502, "chain_unavailable", "the chain did not answer the registry lookup")
        (value,) = abi_decode(("bool",), HexBytes(response["result"]))
        out.append(bool(value))
    return out


async def _require_relayer_is_registrar(services: Services) -> None:
    if not await services.chain.has_registrar_role(services.relayer.address):
        raise _relayer_not_registrar(services)


def _relayer_not_registrar(services: Services) -> ApiError:
    return ApiError(
        503,
        "relayer_not_registrar",
        f"the API's relayer account {services.relayer.address} does not hold REGISTRAR_ROLE on the "
        "HealthRecordFactory, so it cannot register doctors: an admin must call "
        "grantRole(REGISTRAR_ROLE, relayer) first",
        relayer=services.relayer.address,
    )


def _registry_error(services: Services, exc: TransactionReverted, doctor: str) -> ApiError:
    name = exc.error_name or "reverted"
    if name == "AccessControlUnauthorizedAccount":
        return _relayer_not_registrar(services)
    if name == "DoctorAlreadyRegistered":
        return conflict("doctor_already_registered", f"{doctor} is already a registered doctor")
    if name == "DoctorNotRegistered":
        return not_found("doctor_not_found", f"{doctor} is not a registered doctor")
    if name == "ZeroAddress":
        return bad_request("invalid_address", "the zero address cannot be a doctor")
    return ApiError(409, "transaction_rejected", f"the chain rejected the registry change ({name})")


# ----------------------------------------------------------------------------- admin: doctors


class DoctorBody(BaseModel):
    address: str = Field(description="The doctor's wallet address")
    name: str = Field(description="Display name, e.g. 'Dr. Jane Doe'")
    licenceId: str = Field(description="Medical licence number")


# The registry changes: the API's relayer sends them, so it must hold REGISTRAR_ROLE (else 503).
_REGISTRY: dict[int, tuple[str, ...]] = {
    400: ("invalid_address",),
    404: ("doctor_not_found",),
    409: ("doctor_already_registered", "transaction_rejected"),
    502: ("relayer_unavailable",),
    503: ("relayer_not_registrar",),
    504: ("transaction_timeout",),
}
_PAGING: dict[int, tuple[str, ...]] = {400: ("invalid_page", "invalid_page_size", "invalid_query")}


@router.post(
    "/api/admin/doctors",
    status_code=201,
    response_model=RegistryChange,
    summary="Register a doctor on chain, with name and licence (registrar)",
    responses=errors(BODY, AUTH, ROLE, _REGISTRY, {400: ("invalid_name", "invalid_licenceId")}, CHAIN, DATABASE, WRITE),
)
async def register_doctor(body: DoctorBody, caller: RegistrarDep, services: ServicesDep) -> dict[str, Any]:
    return await register_doctor_with_profile(services, body.address, body.name, body.licenceId)


async def register_doctor_with_profile(services: Services, address: str, name: str, licence_id: str) -> dict[str, Any]:
    """Register on chain through the registry, then keep name and licence off chain (API and CLI)."""
    doctor = _address(address)
    name = _text(name, "name", MAX_NAME_LENGTH)
    licence_id = _text(licence_id, "licenceId", MAX_LICENCE_LENGTH)
    if int(doctor, 16) == 0:
        raise bad_request("invalid_address", "the zero address cannot be a doctor")
    await _require_relayer_is_registrar(services)
    if await services.chain.is_doctor(doctor):
        raise conflict("doctor_already_registered", f"{doctor} is already a registered doctor")
    try:
        result = await services.relayer.register_doctor(doctor, timeout=services.settings.tx_timeout_seconds)
    except TransactionReverted as exc:
        raise _registry_error(services, exc, doctor) from exc
    services.roles.forget(doctor)
    profile = await services.profiles.upsert_doctor(doctor, name, licence_id, registered=True)
    return {**_doctor_json(profile, True), "tx_hash": result.tx_hash, "block_number": result.block_number}


@router.delete(
    "/api/admin/doctors/{address}",
    response_model=RegistryChange,
    summary="Unregister a doctor on chain (registrar)",
    responses=errors(AUTH, ROLE, _REGISTRY, CHAIN, DATABASE),
)
async def unregister_doctor(address: str, caller: RegistrarDep, services: ServicesDep) -> dict[str, Any]:
    doctor = _address(address)
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
        result = await services.relayer.unregister_doctor(doctor, timeout=services.settings.tx_timeout_seconds)
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


@router.get(
    "/api/doctors/search",
    response_model=DoctorPage,
    summary="Doctors by name (substring) or address (prefix)",
    responses=errors(AUTH, _PAGING, CHAIN, DATABASE),
)
async def search_doctors(
    caller: CallerDep,
    services: ServicesDep,
    q: str = "",
    page: Annotated[int, Query()] = 1,
    page_size: Annotated[int, Query()] = DEFAULT_PAGE_SIZE,
) -> dict[str, Any]:
    skip, limit = _paging(page, page_size)
    profiles, total = await services.profiles.search_doctors(_query(q), skip, limit)
    live = await registered_many(services, [p.address for p in profiles])
    return _page_body(page, page_size, total, [_doctor_json(p, r) for p, r in zip(profiles, live, strict=True)])


async def _known_patient(services: Services, address: str) -> bool:
    """Whether `address` is someone the service knows as a patient (profile, records or a clone)."""
    if await services.profiles.get_patient(address) is not None:
        return True
    if await services.db[RECORDS].find_one({"patient": address.lower()}, {"_id": 1}) is not None:
        return True
    return await services.chain.record_exists(address)


@router.get(
    "/api/patients/search",
    response_model=PatientPage,
    summary="A patient by exact address, or by published name (doctors)",
    responses=errors(AUTH, ROLE, _PAGING, CHAIN, DATABASE),
)
async def search_patients(
    caller: DoctorDep,
    services: ServicesDep,
    q: str = "",
    page: Annotated[int, Query()] = 1,
    page_size: Annotated[int, Query()] = DEFAULT_PAGE_SIZE,
) -> dict[str, Any]:
    skip, limit = _paging(page, page_size)
    text = _query(q)
    if is_address(text) and text.startswith("0x"):
        address = to_checksum_address(text)
        found = await _known_patient(services, address) and not await services.chain.is_doctor(address)
        results = [_patient_json(address, await services.profiles.get_patient(address))] if found else []
        return _page_body(page, page_size, len(results), results[skip : skip + limit])
    if len(text) < 2:
        raise bad_request("invalid_query", "search by an exact address, or by at least 2 characters of a name")
    profiles, total = await services.profiles.search_published_patients(text, skip, limit)
    return _page_body(page, page_size, total, [_patient_json(p.address, p) for p in profiles])


# ----------------------------------------------------------------------------- own profile


class ProfileBody(BaseModel):
    displayName: str = Field(default="", description="The name doctors may find you by")
    published: bool = Field(description="Whether doctors can find you by this name")


@router.get(
    "/api/profile",
    response_model=Profile,
    # A doctor without a stored profile has no `updated_at` (the union's variants say what is there).
    response_model_exclude_unset=True,
    summary="Your profile",
    responses=errors(AUTH, DATABASE, validation=False),
)
async def get_profile(caller: CallerDep, services: ServicesDep) -> dict[str, Any]:
    if caller.role == "doctor":
        profile = await services.profiles.get_doctor(caller.address)
        if profile is None:
            return {"address": caller.address, "role": "doctor", "name": None, "licence_id": None, "registered": True}
        return {**_doctor_json(profile, True), "role": "doctor"}
    if caller.role == "patient":
        return {**_patient_json(caller.address, await services.profiles.get_patient(caller.address), own=True), "role": "patient"}
    return {"address": caller.address, "role": caller.role}


@router.put(
    "/api/profile",
    response_model=Profile,
    summary="Choose your display name and whether doctors can find you by it (patients)",
    responses=errors(BODY, AUTH, ROLE, {400: ("invalid_displayName",)}, DATABASE, WRITE),
)
async def put_profile(body: ProfileBody, caller: PatientDep, services: ServicesDep) -> dict[str, Any]:
    name = _text(body.displayName, "displayName", MAX_NAME_LENGTH, required=body.published)
    profile = await services.profiles.set_patient_profile(caller.address, name, body.published)
    return {**_patient_json(caller.address, profile, own=True), "role": "patient"}
