"""A wallet's role comes from the chain, never from the client."""

from __future__ import annotations

from typing import Protocol

from .tokens import Role


class RoleSource(Protocol):
    async def is_doctor(self, address: str) -> bool: ...

    async def has_registrar_role(self, address: str) -> bool: ...


async def resolve_role(chain: RoleSource, address: str) -> Role:
    """`doctor` if the factory's registry lists the address, `registrar` if it holds the registrar
    role, else `patient`."""
    if await chain.is_doctor(address):
        return "doctor"
    if await chain.has_registrar_role(address):
        return "registrar"
    return "patient"
