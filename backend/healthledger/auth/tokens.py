"""Short-lived JWTs (PyJWT, HS256): an access token for API calls and a single-use refresh token."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Literal

import jwt

Role = Literal["patient", "doctor", "registrar"]
TokenType = Literal["access", "refresh"]
ISSUER = "healthledger"
ALGORITHM = "HS256"


class TokenError(Exception):
    """The token is missing, malformed, forged, expired or of the wrong type."""


@dataclass(frozen=True)
class TokenClaims:
    address: str
    role: Role
    token_type: TokenType
    jti: str
    expires_at: int


class TokenService:
    """Issues and checks tokens; the secret is held here only."""

    def __init__(self, secret: str, access_ttl_seconds: int, refresh_ttl_seconds: int) -> None:
        if len(secret) < 32:
            raise ValueError("JWT secret must be at least 32 characters")
        self._secret = secret
        self._ttl: dict[TokenType, int] = {"access": access_ttl_seconds, "refresh": refresh_ttl_seconds}

    def __repr__(self) -> str:
        return "TokenService(<secret hidden>)"

    def issue(self, address: str, role: Role, token_type: TokenType) -> str:
        now = int(time.time())
        claims = {
            "iss": ISSUER,
            "sub": address,
            "role": role,
            "typ": token_type,
            "iat": now,
            "exp": now + self._ttl[token_type],
            "jti": secrets.token_hex(16),
        }
        return jwt.encode(claims, self._secret, algorithm=ALGORITHM)

    def decode(self, token: str, expected_type: TokenType) -> TokenClaims:
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                issuer=ISSUER,
                options={"require": ["exp", "iat", "sub", "jti", "iss"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise TokenError("token expired") from exc
        except jwt.PyJWTError as exc:
            raise TokenError("invalid token") from exc
        if claims.get("typ") != expected_type:
            raise TokenError(f"not an {expected_type} token")
        if claims.get("role") not in ("patient", "doctor", "registrar"):
            raise TokenError("invalid token")
        return TokenClaims(
            address=claims["sub"],
            role=claims["role"],
            token_type=expected_type,
            jti=claims["jti"],
            expires_at=int(claims["exp"]),
        )
