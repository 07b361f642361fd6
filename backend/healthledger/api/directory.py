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

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from ..services import directory
from ..validation import DEFAULT_PAGE_SIZE
from .deps import CallerDep, DoctorDep, PatientDep, RegistrarDep, ServicesDep
from .schemas.directory import DoctorPage, PatientPage, Profile, RegistryChange
from .schemas.errors import AUTH, BODY, CHAIN, DATABASE, ROLE, WRITE, errors

router = APIRouter(tags=["directory"])


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
    return await directory.register_doctor(services, body.address, body.name, body.licenceId)


@router.delete(
    "/api/admin/doctors/{address}",
    response_model=RegistryChange,
    summary="Unregister a doctor on chain (registrar)",
    responses=errors(AUTH, ROLE, _REGISTRY, CHAIN, DATABASE),
)
async def unregister_doctor(address: str, caller: RegistrarDep, services: ServicesDep) -> dict[str, Any]:
    return await directory.unregister_doctor(services, address)


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
    return await directory.search_doctors(services, q, page, page_size)


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
    return await directory.search_patients(services, q, page, page_size)


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
    return await directory.own_profile(services, caller.address, caller.role)


@router.put(
    "/api/profile",
    response_model=Profile,
    summary="Choose your display name and whether doctors can find you by it (patients)",
    responses=errors(BODY, AUTH, ROLE, {400: ("invalid_displayName",)}, DATABASE, WRITE),
)
async def put_profile(body: ProfileBody, caller: PatientDep, services: ServicesDep) -> dict[str, Any]:
    return await directory.set_patient_profile(services, caller.address, body.displayName, body.published)
