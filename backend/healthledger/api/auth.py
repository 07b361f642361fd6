"""Wallet login: nonce, SIWE sign-in, token refresh."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from ..services import sessions
from .deps import ClientIpDep, ServicesDep

router = APIRouter(prefix="/api/auth", tags=["auth"])


class NonceResponse(BaseModel):
    nonce: str
    expires_at: datetime
    domain: str
    uri: str
    chain_id: int
    statement: str


class LoginRequest(BaseModel):
    message: str = Field(min_length=1, max_length=4096, description="The EIP-4361 message, as signed")
    signature: str = Field(min_length=1, max_length=1024, description="personal_sign signature of the message")


class RefreshRequest(BaseModel):
    refresh_token: str = Field(min_length=1, max_length=4096)


class TokenResponse(BaseModel):
    access_token: str
    refresh_token: str
    token_type: str = "bearer"
    role: str
    address: str


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


@router.get("/nonce", response_model=NonceResponse, summary="A fresh single-use nonce for a SIWE message")
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


@router.post("/login", response_model=TokenResponse, summary="Exchange a signed SIWE message for tokens")
async def login(body: LoginRequest, services: ServicesDep, ip: ClientIpDep) -> TokenResponse:
    return _token_response(await sessions.sign_in(services, body.message, body.signature, ip))


@router.post("/refresh", response_model=TokenResponse, summary="Trade a refresh token (once) for new tokens")
async def refresh(body: RefreshRequest, services: ServicesDep) -> TokenResponse:
    return _token_response(await sessions.refresh(services, body.refresh_token))


def _token_response(tokens: sessions.Tokens) -> TokenResponse:
    return TokenResponse(
        access_token=tokens.access_token,
        refresh_token=tokens.refresh_token,
        role=tokens.role,
        address=tokens.address,
    )
