"""Sessions: sign-in with a wallet (SIWE), and refresh tokens that can be spent once.

What `api/auth.py` does beyond HTTP: rate limits, the sign-in check, the role read from the chain
at every sign-in and refresh (so a doctor removed from the registry loses the role within one
access-token lifetime), and the single use of each refresh token.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from ..auth.roles import resolve_role
from ..auth.siwe_login import LoginError, NonceGrant
from ..auth.tokens import Role, TokenError
from ..container import Services
from ..domain_errors import unauthorized


@dataclass(frozen=True)
class Tokens:
    """A fresh pair of tokens for `address` acting as `role`."""

    access_token: str
    refresh_token: str
    role: Role
    address: str


def claimed_address(message: str) -> str | None:
    """The address a sign-in message names (its second line), for rate limiting before it is verified."""
    lines = message.split("\n", 2)
    candidate = lines[1].strip() if len(lines) > 1 else ""
    return candidate if len(candidate) == 42 and candidate.startswith("0x") else None


async def issue_nonce(services: Services, origin: str, ip: str | None) -> NonceGrant:
    """A single-use nonce for a sign-in message to `origin` (one of the configured origins)."""
    await services.rate_limits.hit("nonce", ip=ip)
    return await services.login.issue_nonce(origin)


async def sign_in(services: Services, message: str, signature: str, ip: str | None) -> Tokens:
    """Tokens for the wallet that signed `message`; NotAuthenticated if the sign-in does not check out."""
    await services.rate_limits.hit("login", ip=ip, address=claimed_address(message))
    try:
        address = await services.login.verify(message, signature)
    except LoginError as exc:
        raise unauthorized("login_failed", str(exc)) from exc
    return await tokens_for(services, address)


async def refresh(services: Services, refresh_token: str) -> Tokens:
    """New tokens for a refresh token, which is spent: a second use is refused."""
    try:
        claims = services.tokens.decode(refresh_token, "refresh")
    except TokenError as exc:
        raise unauthorized("invalid_token", f"refresh token rejected: {exc}") from exc
    if not await services.refresh_tokens.spend(claims.jti, datetime.fromtimestamp(claims.expires_at, UTC)):
        raise unauthorized("invalid_token", "refresh token rejected: already used")
    return await tokens_for(services, claims.address)


async def tokens_for(services: Services, address: str) -> Tokens:
    """Tokens for `address`, with the role the chain gives it now."""
    role = await resolve_role(services.chain, address)
    return Tokens(
        access_token=services.tokens.issue(address, role, "access"),
        refresh_token=services.tokens.issue(address, role, "refresh"),
        role=role,
        address=address,
    )
