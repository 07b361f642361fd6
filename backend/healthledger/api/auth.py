"""Wallet login: nonce, SIWE sign-in, token refresh."""

from __future__ import annotations


from fastapi import APIRouter, Request

from ..services import sessions
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
    grant = await sessions.issue_nonce(services, requested_origin(request), ip)
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
    return _token_response(await sessions.sign_in(services, body.message, body.signature, ip))


@router.post(
    "/refresh",
    response_model=TokenResponse,
    summary="Trade a refresh token (once) for new tokens",
    responses=errors(BODY, {401: ("invalid_token",)}, DATABASE, WRITE, CHAIN),
)
async def refresh(body: RefreshRequest, services: ServicesDep) -> TokenResponse:
    return _token_response(await sessions.refresh(services, body.refresh_token))


def _token_response(tokens: sessions.Tokens) -> TokenResponse:
    return TokenResponse(
        access_token=tokens.access_token,
        refresh_token=tokens.refresh_token,
        role=tokens.role,
        address=tokens.address,
    )
