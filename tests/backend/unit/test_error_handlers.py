"""The error handling alone, on a throwaway app: every failure leaves as the one JSON shape with its
own code, and nothing internal (messages, addresses, URLs) reaches the client or the log."""

from __future__ import annotations

import io
import json
import logging

import aiohttp
import httpx
import pytest
from fastapi import FastAPI
from pymongo.errors import DuplicateKeyError, ServerSelectionTimeoutError

from healthledger.api.error_handling import install_error_handling
from healthledger.chain.client import ChainError, ChainUnavailable
from healthledger.chain.relayer import RelayerUnavailable, TransactionTimeout
from healthledger.domain_errors import Conflict, InvalidInput, NotFound, RateLimited, ServiceUnavailable, Unavailable
from healthledger.errors import ApiError
from healthledger.logging_setup import AllowListFormatter
from healthledger.storage.ipfs import IpfsUnavailable

SECRET = "0xdeadbeef mongodb://user:hunter2@db.example https://sepolia.example/v3/KEY123"


def _app() -> FastAPI:
    app = FastAPI()
    install_error_handling(app)
    failures: dict[str, Exception] = {
        "/chain-down": aiohttp.ClientConnectionError(f"Cannot connect to host {SECRET}"),
        "/chain-timeout": TimeoutError(SECRET),
        "/bug": RuntimeError(f"secret detail {SECRET}"),
        "/mongo-down": ServerSelectionTimeoutError(SECRET),
        "/duplicate": DuplicateKeyError(SECRET),
        "/ipfs-down": IpfsUnavailable(SECRET),
        "/relayer-down": RelayerUnavailable(SECRET, maybe_sent=False),
        "/not-mined": TransactionTimeout("0x" + "ab" * 32, 5.0),
        "/refused": ApiError(403, "access_denied", "no live approval"),
        "/limited": ApiError(429, "rate_limited", "slow down", headers={"Retry-After": "7"}),
        "/chain-unavailable": ChainUnavailable(f"no answer from {SECRET}"),
        "/chain-error": ChainError(f"eth_call: {SECRET}"),
        "/domain-bad-input": InvalidInput("invalid_address", "address is not an Ethereum address"),
        "/domain-not-found": NotFound("record_not_found", "no record with this CID"),
        "/domain-conflict": Conflict("integrity_mismatch", "changed", mismatched=["ipfs"]),
        "/domain-ipfs": Unavailable("ipfs_unavailable", "IPFS did not answer; try again"),
        "/domain-limited": RateLimited("rate_limited", "slow down", retry_after_seconds=7),
        "/domain-paused": ServiceUnavailable("database_unavailable", "paused", retry_after_seconds=30),
    }
    for path, failure in failures.items():
        app.add_api_route(path, _raiser(failure))
    return app


def _raiser(failure: Exception):  # type: ignore[no-untyped-def]
    async def fail() -> None:
        raise failure

    return fail


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/chain-down", 502, "chain_unavailable"),
        ("/chain-timeout", 502, "chain_unavailable"),
        ("/bug", 500, "internal_error"),
        ("/mongo-down", 503, "database_unavailable"),
        ("/duplicate", 409, "conflict"),
        ("/ipfs-down", 502, "ipfs_unavailable"),
        ("/relayer-down", 502, "relayer_unavailable"),
        ("/not-mined", 504, "transaction_timeout"),
        ("/refused", 403, "access_denied"),
        ("/limited", 429, "rate_limited"),
        ("/chain-unavailable", 502, "chain_unavailable"),
        ("/chain-error", 502, "chain_unavailable"),
        ("/domain-bad-input", 400, "invalid_address"),
        ("/domain-not-found", 404, "record_not_found"),
        ("/domain-conflict", 409, "integrity_mismatch"),
        ("/domain-ipfs", 502, "ipfs_unavailable"),
        ("/domain-limited", 429, "rate_limited"),
        ("/domain-paused", 503, "database_unavailable"),
    ],
)
async def test_failures_have_one_shape_and_reveal_nothing(path: str, status: int, code: str, caplog) -> None:
    transport = httpx.ASGITransport(app=_app(), raise_app_exceptions=False)
    with caplog.at_level(logging.DEBUG):
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            response = await client.get(path)
    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert response.headers["x-content-type-options"] == "nosniff"
    for secret in ("0xdeadbeef", "hunter2", "KEY123", "db.example"):
        assert secret not in response.text
        # What the allow-list formatter would write for every record logged meanwhile.
        assert not any(secret in AllowListFormatter().format(record) for record in caplog.records)


@pytest.mark.asyncio
async def test_retry_after_reaches_the_client() -> None:
    transport = httpx.ASGITransport(app=_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.get("/limited")
    assert response.headers["retry-after"] == "7"


@pytest.mark.asyncio
async def test_domain_errors_carry_details_and_retry_after() -> None:
    transport = httpx.ASGITransport(app=_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        limited = await client.get("/domain-limited")
        conflict = await client.get("/domain-conflict")
    assert limited.headers["retry-after"] == "7" and limited.json()["error"]["retry_after_seconds"] == 7
    assert conflict.json() == {"error": {"code": "integrity_mismatch", "message": "changed", "mismatched": ["ipfs"]}}


def test_formatter_keeps_only_allowed_fields() -> None:
    logger = logging.getLogger("test.allowlist")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(AllowListFormatter())
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning(
            "patient %s uploaded", "0x" + "12" * 20, extra={"patient": "0x" + "34" * 20, "tx_hash": "0xabc", "nonce": 3}
        )
        try:
            raise ValueError(SECRET)
        except ValueError:
            logger.exception("failed")
    finally:
        logger.removeHandler(handler)
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["event"] == "patient %s uploaded" and (first["tx_hash"], first["nonce"]) == ("0xabc", 3)
    assert "patient" not in first and "12" * 20 not in stream.getvalue() and "34" * 20 not in stream.getvalue()
    assert second["error_type"] == "ValueError" and second["frames"]
    assert "hunter2" not in stream.getvalue()
