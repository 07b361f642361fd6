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

router = APIRouter(tags=["directory"])


# ----------------------------------------------------------------------------- admin: doctors


class DoctorBody(BaseModel):
    address: str = Field(description="The doctor's wallet address")
    name: str = Field(description="Display name, e.g. 'Dr. Jane Doe'")
    licenceId: str = Field(description="Medical licence number")


@router.post("/api/admin/doctors", status_code=201, summary="Register a doctor on chain, with name and licence (registrar)")
async def register_doctor(body: DoctorBody, caller: RegistrarDep, services: ServicesDep) -> dict[str, Any]:
    return await directory.register_doctor(services, body.address, body.name, body.licenceId)


@router.delete("/api/admin/doctors/{address}", summary="Unregister a doctor on chain (registrar)")
async def unregister_doctor(address: str, caller: RegistrarDep, services: ServicesDep) -> dict[str, Any]:
    return await directory.unregister_doctor(services, address)


# ----------------------------------------------------------------------------- search


@router.get("/api/doctors/search", summary="Doctors by name (substring) or address (prefix)")
async def search_doctors(
    caller: CallerDep,
    services: ServicesDep,
    q: str = "",
    page: Annotated[int, Query()] = 1,
    page_size: Annotated[int, Query()] = DEFAULT_PAGE_SIZE,
) -> dict[str, Any]:
    return await directory.search_doctors(services, q, page, page_size)


@router.get("/api/patients/search", summary="A patient by exact address, or by published name (doctors)")
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


@router.get("/api/profile", summary="Your profile")
async def get_profile(caller: CallerDep, services: ServicesDep) -> dict[str, Any]:
    return await directory.own_profile(services, caller.address, caller.role)


@router.put("/api/profile", summary="Choose your display name and whether doctors can find you by it (patients)")
async def put_profile(body: ProfileBody, caller: PatientDep, services: ServicesDep) -> dict[str, Any]:
    return await directory.set_patient_profile(services, caller.address, body.displayName, body.published)
