"""A wallet's role comes from the chain, never from the client."""

from __future__ import annotations

import time
from collections import OrderedDict
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


class RoleCache:
    """`resolve_role` with a short memory, so every request can check the caller's role on chain.

    A token says which role its holder had at sign-in; what matters for data is the role now. Each
    authenticated request compares the two; the chain is asked at most once per `ttl_seconds` per
    address (two eth_calls), and the answer is forgotten at once when this process changes the
    registry itself. Bounded (least recently used entries go first), so many addresses cannot grow it.
    """

    def __init__(self, chain: RoleSource, ttl_seconds: float, max_entries: int = 10_000) -> None:
        self._chain = chain
        self._ttl = ttl_seconds
        self._max = max_entries
        self._entries: OrderedDict[str, tuple[float, Role]] = OrderedDict()

    async def role_of(self, address: str) -> Role:
        key = address.lower()
        now = time.monotonic()
        entry = self._entries.get(key)
        if entry is not None and entry[0] > now:
            self._entries.move_to_end(key)
            return entry[1]
        role = await resolve_role(self._chain, address)
        if self._ttl > 0:
            self._entries[key] = (now + self._ttl, role)
            self._entries.move_to_end(key)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)
        return role

    def forget(self, address: str) -> None:
        self._entries.pop(address.lower(), None)
