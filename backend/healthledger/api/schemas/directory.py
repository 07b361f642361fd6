"""Shapes of the directory: doctors, patients, search pages and your own profile."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field, RootModel


class DoctorOut(BaseModel):
    address: str
    name: str | None
    licence_id: str | None
    registered: bool = Field(description="Live from the chain's registry")
    updated_at: str | None = Field(description="ISO-8601")


class RegistryChange(DoctorOut):
    """A doctor after a registry change; the transaction is null when the chain already agreed."""

    tx_hash: str | None
    block_number: int | None


class PatientOut(BaseModel):
    address: str
    display_name: str | None = Field(description="Shown to others only while published")
    published: bool


class DoctorPage(BaseModel):
    page: int
    page_size: int
    total: int
    pages: int
    results: list[DoctorOut]


class PatientPage(BaseModel):
    page: int
    page_size: int
    total: int
    pages: int
    results: list[PatientOut]


class PatientProfile(PatientOut):
    role: Literal["patient"]
    updated_at: str | None


class DoctorProfile(BaseModel):
    """`updated_at` is absent while the registrar has not stored a profile for this doctor."""

    address: str
    role: Literal["doctor"]
    name: str | None
    licence_id: str | None
    registered: bool
    updated_at: str | None = None


class RegistrarProfile(BaseModel):
    address: str
    role: Literal["registrar"]


class Profile(RootModel[Annotated[PatientProfile | DoctorProfile | RegistrarProfile, Field(discriminator="role")]]):
    """Your profile; its fields depend on your `role`."""
