"""`current_caller` on a throwaway app: the bearer token comes through the declared HTTPBearer scheme,
and a missing, malformed or rejected Authorization header keeps its own code and message."""

from __future__ import annotations

from types import SimpleNamespace

import httpx
import pytest
from fastapi import FastAPI

from healthledger.api.deps import CallerDep
from healthledger.auth.tokens import TokenClaims, TokenError
from healthledger.errors import install_error_handlers

ADDRESS = "0x" + "ab" * 20
FORMAT = "Authorization header must be 'Bearer <access token>'"


class Tokens:
    """Accepts the token "good" only, and remembers what it was asked to decode."""

    def __init__(self) -> None:
        self.decoded: list[str] = []

    def decode(self, token: str, token_type: str) -> TokenClaims:
        self.decoded.append(token)
        if token != "good":
            raise TokenError("signature is invalid" if token else "not enough segments")
        return TokenClaims(ADDRESS, "patient", "access", "jti", 0)


class Roles:
    async def role_of(self, address: str) -> str:
        return "patient"


def _app(tokens: Tokens) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)
    app.state.services = SimpleNamespace(tokens=tokens, roles=Roles())

    @app.get("/me")
    async def me(caller: CallerDep) -> dict[str, str]:
        return {"address": caller.address, "role": caller.role}

    return app


@pytest.mark.parametrize(
    ("header", "code", "message"),
    [
        (None, "missing_token", "sign in first: Authorization: Bearer <access token> is missing"),
        ("", "missing_token", "sign in first: Authorization: Bearer <access token> is missing"),
        ("Basic abc", "invalid_token", FORMAT),
        ("Bearer", "invalid_token", FORMAT),
        (" good", "invalid_token", FORMAT),
        ("Bearer   ", "invalid_token", "access token rejected: not enough segments"),
        ("Bearer forged", "invalid_token", "access token rejected: signature is invalid"),
    ],
)
@pytest.mark.asyncio
async def test_bad_headers_keep_their_code_and_message(header: str | None, code: str, message: str) -> None:
    headers = {} if header is None else {"Authorization": header}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=_app(Tokens())), base_url="http://t") as client:
        response = await client.get("/me", headers=headers)
    assert response.status_code == 401
    assert response.json() == {"error": {"code": code, "message": message}}


@pytest.mark.asyncio
async def test_the_token_is_taken_from_the_bearer_scheme() -> None:
    tokens = Tokens()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=_app(tokens)), base_url="http://t") as client:
        response = await client.get("/me", headers={"Authorization": "bearer   good "})
    assert response.status_code == 200
    assert response.json() == {"address": ADDRESS, "role": "patient"}
    assert tokens.decoded == ["good"]


def test_openapi_declares_the_scheme_not_a_header_parameter() -> None:
    document = _app(Tokens()).openapi()
    assert document["components"]["securitySchemes"]["HTTPBearer"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "The access token from POST /api/auth/login (or /api/auth/refresh)",
    }
    operation = document["paths"]["/me"]["get"]
    assert operation["security"] == [{"HTTPBearer": []}]
    assert "parameters" not in operation
