"""The error handlers alone, on a throwaway app: every failure leaves as the one JSON shape."""

from __future__ import annotations

import aiohttp
import httpx
import pytest
from fastapi import FastAPI

from healthledger.errors import ApiError, install_error_handlers


def _app() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/chain-down")
    async def chain_down() -> None:
        raise aiohttp.ClientConnectionError("Cannot connect to host 127.0.0.1:8545")

    @app.get("/bug")
    async def bug() -> None:
        raise RuntimeError("secret detail 0xdeadbeef")

    @app.get("/refused")
    async def refused() -> None:
        raise ApiError(403, "access_denied", "no live approval")

    return app


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("path", "status", "code"),
    [("/chain-down", 502, "chain_unavailable"), ("/bug", 500, "internal_error"), ("/refused", 403, "access_denied")],
)
async def test_failures_have_one_shape_and_reveal_nothing(path: str, status: int, code: str) -> None:
    transport = httpx.ASGITransport(app=_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.get(path)
    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert "0xdeadbeef" not in response.text and "8545" not in response.text
