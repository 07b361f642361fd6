"""FastAPI dependencies: the service container and the authenticated caller."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Callable

from fastapi import Depends, Header, Request

from ..auth.tokens import Role, TokenError
from ..container import Services
from ..errors import forbidden, unauthorized


def get_services(request: Request) -> Services:
    return request.app.state.services


ServicesDep = Annotated[Services, Depends(get_services)]


def client_ip(request: Request) -> str | None:
    """The client's IP as the ASGI server reports it (behind a proxy: see uvicorn --forwarded-allow-ips)."""
    return request.client.host if request.client else None


ClientIpDep = Annotated[str | None, Depends(client_ip)]


@dataclass(frozen=True)
class Caller:
    """The authenticated wallet behind a request."""

    address: str
    role: Role


async def current_caller(services: ServicesDep, authorization: Annotated[str | None, Header()] = None) -> Caller:
    """The token's holder, if the role the token names is still the role the chain gives them.

    A doctor struck off the registry (or a registrar whose role was revoked) loses access to data at
    once, not when the access token expires (the chain is read at most every ROLE_CACHE_SECONDS).
    """
    if not authorization:
        raise unauthorized("missing_token", "sign in first: Authorization: Bearer <access token> is missing")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise unauthorized("invalid_token", "Authorization header must be 'Bearer <access token>'")
    try:
        claims = services.tokens.decode(token.strip(), "access")
    except TokenError as exc:
        raise unauthorized("invalid_token", f"access token rejected: {exc}") from exc
    current = await services.roles.role_of(claims.address)
    if current != claims.role:
        if claims.role == "doctor":
            raise forbidden("not_registered_doctor", "your address is no longer in the provider registry: sign in again")
        if claims.role == "registrar":
            raise forbidden("not_registrar", "your address no longer holds the registrar role: sign in again")
        raise unauthorized("role_changed", f"your account is now a {current} account: sign in again")
    return Caller(address=claims.address, role=claims.role)


CallerDep = Annotated[Caller, Depends(current_caller)]


def require_role(*roles: Role) -> Callable[[Caller], Caller]:
    """A dependency that lets only the given roles through (403 for the others)."""

    def check(caller: CallerDep) -> Caller:
        if caller.role not in roles:
            raise forbidden("wrong_role", f"this endpoint is for {' or '.join(roles)} accounts; you are signed in as {caller.role}")
        return caller

    return check


PatientDep = Annotated[Caller, Depends(require_role("patient"))]
DoctorDep = Annotated[Caller, Depends(require_role("doctor"))]
RegistrarDep = Annotated[Caller, Depends(require_role("registrar"))]
