"""FastAPI dependencies: the service container and the authenticated caller."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Callable

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

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


# The OpenAPI security scheme of every signed-in operation. `auto_error=False`: this module, not
# FastAPI, answers a missing or malformed header, with the API's own codes and messages.
bearer = HTTPBearer(
    auto_error=False,
    bearerFormat="JWT",
    description="The access token from POST /api/auth/login (or /api/auth/refresh)",
)


async def current_caller(
    request: Request,
    services: ServicesDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Caller:
    """The token's holder, if the role the token names is still the role the chain gives them.

    A doctor struck off the registry (or a registrar whose role was revoked) loses access to data at
    once, not when the access token expires (the chain is read at most every ROLE_CACHE_SECONDS).
    """
    # HTTPBearer gives None alike for no header, another scheme and blanks after "Bearer": the raw
    # header tells them apart, so each keeps its own code and message.
    authorization = request.headers.get("authorization")
    if not authorization:
        raise unauthorized("missing_token", "sign in first: Authorization: Bearer <access token> is missing")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise unauthorized("invalid_token", "Authorization header must be 'Bearer <access token>'")
    try:
        # No credentials here means blanks after "Bearer ": an empty token, rejected as such.
        claims = services.tokens.decode(credentials.credentials if credentials else "", "access")
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
