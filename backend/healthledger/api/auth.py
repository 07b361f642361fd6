"""Wallet login: nonce, SIWE sign-in, token refresh."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request

from ..auth.roles import resolve_role
from ..auth.siwe_login import LoginError
from ..auth.tokens import TokenError
from ..errors import unauthorized
from .deps import ClientIpDep, ServicesDep
from .schemas.auth import LoginRequest, NonceResponse, RefreshRequest, TokenResponse
from .schemas.errors import BODY, CHAIN, DATABASE, RATE_LIMITED, WRITE, errors

router = APIRouter(prefix="/api/auth", tags=["auth"])


SIGN_IN_STATEMENT = "Sign in to HealthLedger. This proves you hold this wallet; it costs nothing and approves nothing."


def requested_origin(request: Request) -> str:
    """The origin the browser used: its `Origin` header, else this request's scheme and `Host`.

    Browsers send `Origin` on cross-origin and POST requests but not on a same-origin GET, so the
    Host header is the fallback. Either is only a choice among the configured origins, never trusted
    as a new one.
    """
    origin = request.headers.get("origin")
    if origin and origin != "null":
        return origin
    host = request.headers.get("host", "")
    return f"{request.url.scheme}://{host}" if host else ""


@router.get(
    "/nonce",
    response_model=NonceResponse,
    summary="A fresh single-use nonce for a SIWE message",
    responses=errors(RATE_LIMITED, DATABASE, validation=False),
)
async def nonce(request: Request, services: ServicesDep, ip: ClientIpDep) -> NonceResponse:
    await services.rate_limits.hit("nonce", ip=ip)
    grant = await services.login.issue_nonce(requested_origin(request))
    return NonceResponse(
        nonce=grant.nonce,
        expires_at=grant.expires_at,
        domain=grant.domain,
        uri=grant.origin,
        chain_id=services.login.chain_id,
        statement=SIGN_IN_STATEMENT,
    )


@router.post(
    "/login",
    response_model=TokenResponse,
    summary="Exchange a signed SIWE message for tokens",
    responses=errors(BODY, {401: ("login_failed",)}, RATE_LIMITED, DATABASE, CHAIN),
)
async def login(body: LoginRequest, services: ServicesDep, ip: ClientIpDep) -> TokenResponse:
    await services.rate_limits.hit("login", ip=ip, address=claimed_address(body.message))
    try:
        address = await services.login.verify(body.message, body.signature)
    except LoginError as exc:
        raise unauthorized("login_failed", str(exc)) from exc
    return await _tokens_for(services, address)


@router.post(
    "/refresh",
    response_model=TokenResponse,
    summary="Trade a refresh token (once) for new tokens",
    responses=errors(BODY, {401: ("invalid_token",)}, DATABASE, WRITE, CHAIN),
)
async def refresh(body: RefreshRequest, services: ServicesDep) -> TokenResponse:
    try:
        claims = services.tokens.decode(body.refresh_token, "refresh")
    except TokenError as exc:
        raise unauthorized("invalid_token", f"refresh token rejected: {exc}") from exc
    if not await services.refresh_tokens.spend(claims.jti, datetime.fromtimestamp(claims.expires_at, UTC)):
        raise unauthorized("invalid_token", "refresh token rejected: already used")
    return await _tokens_for(services, claims.address)


def claimed_address(message: str) -> str | None:
    """The address a sign-in message names (its second line), for rate limiting before it is verified."""
    lines = message.split("\n", 2)
    candidate = lines[1].strip() if len(lines) > 1 else ""
    return candidate if len(candidate) == 42 and candidate.startswith("0x") else None


async def _tokens_for(services, address: str) -> TokenResponse:
    # The role is read from the chain at every sign-in and refresh, so a doctor removed from the
    # registry loses the role within one access-token lifetime.
    role = await resolve_role(services.chain, address)
    return TokenResponse(
        access_token=services.tokens.issue(address, role, "access"),
        refresh_token=services.tokens.issue(address, role, "refresh"),
        role=role,
        address=address,
    )
