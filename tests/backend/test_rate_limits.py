"""Rate limits: the MongoDB counter storage and the policy service, against a real SecantusDB.

Limits hold exactly at the boundary per IP and per address, windows reset, concurrent hits (also
from two limiter instances with their own clients, as two API processes) never exceed a limit,
the refusal is the API's JSON error with a Retry-After that reaches the HTTP response, and an
unreachable MongoDB gives the documented fail-open / fail-closed answer, never a 500.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI, Request
from limits import parse
from pydantic import ValidationError
from pymongo.asynchronous.database import AsyncDatabase

from healthledger.db.mongo import RATE_LIMITS, connect
from healthledger.db.rate_limits import MongoRateLimitStorage
from healthledger.devstack.mongo import SecantusServer
from healthledger.devstack.process import free_port
from healthledger.domain_errors import DomainError
from healthledger.errors import ApiError, install_error_handlers, to_api_error
from healthledger.services.rate_limits import POLICY_NAMES, Policy, RateLimits, client_key, policies_from_settings
from healthledger.settings import Settings
from tests.backend.fixtures.mongo import fresh_database

ADDRESS = "0x" + "ab" * 20
OTHER_ADDRESS = "0x" + "cd" * 20


@pytest_asyncio.fixture
async def db(mongo_server: SecantusServer) -> AsyncIterator[AsyncDatabase]:
    """A fresh database with the app's indexes (the TTL index on the counters among them)."""
    async with fresh_database(mongo_server, "healthledger_rl") as database:
        yield database


@pytest_asyncio.fixture
async def second_db(mongo_server: SecantusServer, db: AsyncDatabase) -> AsyncIterator[AsyncDatabase]:
    """The same database through a second client: what another API process would use."""
    client = connect(mongo_server.uri, 5.0)
    try:
        yield client[db.name]
    finally:
        await client.close()


def limiter(db: AsyncDatabase, *policies: Policy, timeout_seconds: float = 2.0) -> RateLimits:
    return RateLimits(MongoRateLimitStorage(db), {p.name: p for p in policies}, timeout_seconds=timeout_seconds)


def per_ip(limit: str, name: str = "upload", fail_open: bool = False) -> Policy:
    return Policy(name, "uploads", parse(limit), None, fail_open=fail_open)


def per_address(limit: str) -> Policy:
    return Policy("upload", "uploads", parse("1000/minute"), parse(limit), fail_open=False)


async def outcome(rate_limits: RateLimits, policy: str, ip: str | None, address: str | None = None) -> int:
    """200 when the hit was allowed, else the refusal's status."""
    try:
        await rate_limits.hit(policy, ip=ip, address=address)
    except DomainError as exc:
        return to_api_error(exc).status
    return 200


async def refusal(rate_limits: RateLimits, policy: str, ip: str | None, address: str | None = None) -> ApiError:
    with pytest.raises(DomainError) as raised:
        await rate_limits.hit(policy, ip=ip, address=address)
    return to_api_error(raised.value)


# --- the storage -------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_ttl_index_on_expiry(db: AsyncDatabase) -> None:
    indexes = await db[RATE_LIMITS].index_information()
    ttl = [spec for spec in indexes.values() if spec["key"] == [("expires_at", 1)]]
    assert len(ttl) == 1 and ttl[0]["expireAfterSeconds"] == 0


@pytest.mark.asyncio
async def test_storage_counts_expires_and_clears(db: AsyncDatabase) -> None:
    storage = MongoRateLimitStorage(db)
    before = time.time()
    assert [await storage.incr("k", 60) for _ in range(3)] == [1, 2, 3]
    assert await storage.incr("k", 60, amount=2) == 5
    assert await storage.get("k") == 5
    assert before + 59 <= await storage.get_expiry("k") <= time.time() + 61
    assert await storage.get("missing") == 0
    assert abs(await storage.get_expiry("missing") - time.time()) < 5
    await storage.clear("k")
    assert await storage.get("k") == 0
    assert await storage.check() is True
    await storage.incr("a", 60)
    await storage.incr("b", 60)
    assert await storage.reset() == 2


@pytest.mark.asyncio
async def test_storage_starts_a_new_window_over_an_expired_one(db: AsyncDatabase) -> None:
    storage = MongoRateLimitStorage(db)
    # An ended window the TTL monitor has not deleted yet must not count.
    await db[RATE_LIMITS].insert_one({"_id": "k", "count": 99, "expires_at": datetime.now(UTC) - timedelta(seconds=1)})
    assert await storage.get("k") == 0
    assert await storage.incr("k", 60) == 1
    assert await storage.incr("k", 60) == 2
    assert await storage.get_expiry("k") > time.time() + 55


@pytest.mark.asyncio
@pytest.mark.parametrize("start", ["missing", "expired", "live"])
async def test_concurrent_increments_from_two_clients_are_exact(
    db: AsyncDatabase, second_db: AsyncDatabase, start: str
) -> None:
    """Every hit gets its own count, whether the window is being created, restarted or counted."""
    counters = db[RATE_LIMITS]
    if start == "expired":
        await counters.insert_one({"_id": "k", "count": 99, "expires_at": datetime.now(UTC) - timedelta(seconds=1)})
    elif start == "live":
        await counters.insert_one({"_id": "k", "count": 10, "expires_at": datetime.now(UTC) + timedelta(minutes=1)})
    first = 11 if start == "live" else 1
    storages = [MongoRateLimitStorage(db), MongoRateLimitStorage(second_db)]
    counts = await asyncio.gather(*(storages[i % 2].incr("k", 60) for i in range(40)))
    assert sorted(counts) == list(range(first, first + 40))
    assert (await counters.find_one({"_id": "k"}))["count"] == first + 39


# --- the service: limits ------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_per_ip_limit_holds_exactly_at_the_boundary(db: AsyncDatabase) -> None:
    rate_limits = limiter(db, per_ip("3/minute"))
    assert [await outcome(rate_limits, "upload", "203.0.113.7") for _ in range(3)] == [200, 200, 200]
    error = await refusal(rate_limits, "upload", "203.0.113.7")
    assert (error.status, error.code) == (429, "rate_limited")
    retry_after = int(error.headers["Retry-After"])
    assert 1 <= retry_after <= 60 and error.details == {"retry_after_seconds": retry_after}
    assert "uploads" in error.message and "3 per minute" in error.message
    assert f"retry in {retry_after} seconds" in error.message
    assert "203.0.113.7" not in error.message
    # Another client is not affected; the same one stays refused.
    assert await outcome(rate_limits, "upload", "203.0.113.8") == 200
    assert await outcome(rate_limits, "upload", "203.0.113.7") == 429


@pytest.mark.asyncio
async def test_ipv6_clients_are_counted_per_64_network(db: AsyncDatabase) -> None:
    rate_limits = limiter(db, per_ip("2/minute"))
    assert await outcome(rate_limits, "upload", "2001:db8:1:2::1") == 200
    assert await outcome(rate_limits, "upload", "2001:db8:1:2:ffff::9") == 200
    assert await outcome(rate_limits, "upload", "2001:db8:1:2::77") == 429
    assert await outcome(rate_limits, "upload", "2001:db8:1:3::1") == 200
    assert client_key("::ffff:198.51.100.4") == client_key("198.51.100.4") == "198.51.100.4"


@pytest.mark.asyncio
async def test_per_address_limit_holds_across_ips_and_letter_case(db: AsyncDatabase) -> None:
    rate_limits = limiter(db, per_address("2/minute"))
    assert await outcome(rate_limits, "upload", "198.51.100.1", ADDRESS) == 200
    assert await outcome(rate_limits, "upload", "198.51.100.2", ADDRESS.upper().replace("0X", "0x")) == 200
    error = await refusal(rate_limits, "upload", "198.51.100.3", ADDRESS)
    assert error.status == 429 and "for your account" in error.message
    assert ADDRESS not in error.message
    assert await outcome(rate_limits, "upload", "198.51.100.3", OTHER_ADDRESS) == 200


@pytest.mark.asyncio
async def test_overall_limit_counts_every_client(db: AsyncDatabase) -> None:
    policy = Policy(
        "new_vault", "new vaults", parse("5/minute"), parse("5/minute"), overall=parse("2/minute")
    )
    rate_limits = limiter(db, policy)
    assert await outcome(rate_limits, "new_vault", "198.51.100.1", ADDRESS) == 200
    assert await outcome(rate_limits, "new_vault", "198.51.100.2", OTHER_ADDRESS) == 200
    error = await refusal(rate_limits, "new_vault", "198.51.100.3", "0x" + "ef" * 20)
    assert error.status == 429 and "for this service" in error.message


@pytest.mark.asyncio
async def test_unknown_ip_skips_only_the_ip_limit(db: AsyncDatabase) -> None:
    rate_limits = limiter(db, Policy("login", "sign-in attempts", parse("1/minute"), parse("2/minute")))
    assert [await outcome(rate_limits, "login", None, ADDRESS) for _ in range(3)] == [200, 200, 429]


@pytest.mark.asyncio
async def test_window_resets(db: AsyncDatabase) -> None:
    rate_limits = limiter(db, per_ip("3/2 seconds"))
    ip = "192.0.2.10"
    assert [await outcome(rate_limits, "upload", ip) for _ in range(3)] == [200, 200, 200]
    error = await refusal(rate_limits, "upload", ip)
    retry_after = int(error.headers["Retry-After"])
    assert 1 <= retry_after <= 2
    refused_at = time.monotonic()
    # Poll (no fixed sleep): the window must end within Retry-After, with a margin for a busy machine.
    while await outcome(rate_limits, "upload", ip) == 429:
        assert time.monotonic() - refused_at < retry_after + 2.0, "the window did not reset"
        await asyncio.sleep(0.05)
    # The new window holds exactly 3 again (one used by the poll that got through).
    assert [await outcome(rate_limits, "upload", ip) for _ in range(3)] == [200, 200, 429]


@pytest.mark.asyncio
async def test_concurrent_hits_never_exceed_the_limit(db: AsyncDatabase) -> None:
    rate_limits = limiter(db, per_ip("10/minute"))
    results = await asyncio.gather(*(outcome(rate_limits, "upload", "192.0.2.20") for _ in range(50)))
    assert results.count(200) == 10 and results.count(429) == 40


@pytest.mark.asyncio
async def test_two_limiters_on_one_database_agree(db: AsyncDatabase, second_db: AsyncDatabase) -> None:
    first, second = limiter(db, per_ip("3/minute")), limiter(second_db, per_ip("3/minute"))
    ip = "192.0.2.30"
    assert await outcome(first, "upload", ip) == 200
    assert await outcome(second, "upload", ip) == 200
    assert await outcome(first, "upload", ip) == 200
    assert await outcome(second, "upload", ip) == 429
    assert await outcome(first, "upload", ip) == 429
    # Concurrently, too.
    ip = "192.0.2.31"
    hits = ((first, second)[i % 2].hit("upload", ip=ip) for i in range(30))
    results = await asyncio.gather(*hits, return_exceptions=True)
    results = [to_api_error(r) if isinstance(r, DomainError) else r for r in results]
    assert sum(r is None for r in results) == 3
    assert all(isinstance(r, ApiError) and r.status == 429 for r in results if r is not None)


@pytest.mark.asyncio
async def test_disabled_counts_nothing(db: AsyncDatabase) -> None:
    rate_limits = RateLimits(MongoRateLimitStorage(db), {"upload": per_ip("1/minute")}, enabled=False)
    assert [await outcome(rate_limits, "upload", "192.0.2.40") for _ in range(5)] == [200] * 5
    assert await db[RATE_LIMITS].count_documents({}) == 0


@pytest.mark.asyncio
async def test_unknown_policy_is_a_programming_error(db: AsyncDatabase) -> None:
    with pytest.raises(ValueError):
        await limiter(db, per_ip("1/minute")).hit("uplaod", ip="192.0.2.50")


# --- settings -----------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_settings_build_every_policy(db: AsyncDatabase) -> None:
    settings = Settings(rate_limit_login_per_address="", rate_limit_upload_per_ip="2/minute")
    policies = policies_from_settings(settings)
    assert set(policies) == set(POLICY_NAMES) >= {"login", "nonce", "upload", "new_vault"}
    assert all(p.per_ip is not None for p in policies.values())
    assert policies["nonce"].per_address is None  # no address before sign-in
    assert policies["login"].per_address is None  # turned off by the empty string
    assert policies["new_vault"].overall is not None
    assert [p.name for p in policies.values() if not p.fail_open] == ["upload", "new_vault", "access_request"]
    rate_limits = RateLimits.from_settings(db, settings)
    assert [await outcome(rate_limits, "upload", "192.0.2.60") for _ in range(3)] == [200, 200, 429]


@pytest.mark.parametrize("bad", ["lots", "0/minute", "1/second;5/minute"])
def test_settings_reject_malformed_limits(bad: str) -> None:
    with pytest.raises(ValidationError, match="rate_limit_upload_per_ip"):
        Settings(rate_limit_upload_per_ip=bad)


# --- over HTTP ----------------------------------------------------------------------------------


def _app(rate_limits: RateLimits) -> FastAPI:
    """A small app with the project's error handlers and a route that hits the named policy."""
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/{policy}")
    async def guarded(policy: str, request: Request) -> dict[str, bool]:
        await rate_limits.hit(policy, ip=request.client.host if request.client else None, address=ADDRESS)
        return {"ok": True}

    return app


def _http(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=("192.0.2.70", 5000)), base_url="http://t")


@pytest.mark.asyncio
async def test_429_reaches_the_http_response_with_retry_after(db: AsyncDatabase) -> None:
    app = _app(limiter(db, per_ip("2/minute")))
    async with _http(app) as http:
        assert [(await http.post("/upload")).status_code for _ in range(2)] == [200, 200]
        response = await http.post("/upload")
    assert response.status_code == 429
    retry_after = int(response.headers["retry-after"])
    assert 1 <= retry_after <= 60
    body = response.json()
    assert set(body) == {"error"} and body["error"]["code"] == "rate_limited"
    assert body["error"]["retry_after_seconds"] == retry_after
    assert f"retry in {retry_after} seconds" in body["error"]["message"]


@pytest.mark.asyncio
async def test_api_error_headers_reach_the_response() -> None:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/teapot")
    async def teapot() -> None:
        raise ApiError(418, "teapot", "short and stout", headers={"X-Spout": "1"})

    async with _http(app) as http:
        response = await http.get("/teapot")
    assert response.status_code == 418 and response.headers["x-spout"] == "1"
    assert response.json() == {"error": {"code": "teapot", "message": "short and stout"}}


# --- MongoDB unreachable ------------------------------------------------------------------------


def _both_policies() -> tuple[Policy, Policy]:
    return per_ip("5/minute", name="login", fail_open=True), per_ip("5/minute", name="upload", fail_open=False)


async def _assert_fail_open_and_closed(rate_limits: RateLimits, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="healthledger.services.rate_limits")
    started = time.monotonic()
    assert await outcome(rate_limits, "login", "192.0.2.80", ADDRESS) == 200  # fail-open
    error = await refusal(rate_limits, "upload", "192.0.2.80", ADDRESS)  # fail-closed
    assert (error.status, error.code) == (503, "database_unavailable")
    assert error.headers == {"Retry-After": "30"} and "uploads" in error.message
    # Bounded by the limiter's own timeout (0.5 s each), not MongoDB's 5 s.
    assert time.monotonic() - started < 4.0
    reasons = {getattr(record, "reason", None) for record in caplog.records}
    assert {"fails open", "fails closed"} <= reasons
    logged = caplog.text + "".join(str(record.__dict__) for record in caplog.records)
    assert "192.0.2.80" not in logged and ADDRESS.lower() not in logged.lower()


@pytest.mark.asyncio
async def test_unreachable_mongodb_fails_open_or_closed_per_policy(caplog: pytest.LogCaptureFixture) -> None:
    client = connect(f"mongodb://127.0.0.1:{free_port()}/?directConnection=true", 5.0)
    try:
        rate_limits = limiter(client["nowhere"], *_both_policies(), timeout_seconds=0.5)
        await _assert_fail_open_and_closed(rate_limits, caplog)
        async with _http(_app(rate_limits)) as http:
            assert (await http.post("/login")).status_code == 200
            response = await http.post("/upload")
        assert response.status_code == 503 and response.headers["retry-after"] == "30"
        assert response.json()["error"]["code"] == "database_unavailable"
    finally:
        await client.close()


@pytest.mark.asyncio
async def test_mongodb_going_away_fails_open_or_closed_per_policy(tmp_path, caplog: pytest.LogCaptureFixture) -> None:
    """A limiter whose MongoDB worked and then stopped (pooled connections now dead)."""
    server = SecantusServer(tmp_path / "data", log_path=tmp_path / "secantus.log").start()
    client = connect(server.uri, 5.0)
    try:
        rate_limits = limiter(client["healthledger"], *_both_policies(), timeout_seconds=0.5)
        assert await outcome(rate_limits, "upload", "192.0.2.80", ADDRESS) == 200
        server.stop()
        await _assert_fail_open_and_closed(rate_limits, caplog)
    finally:
        await client.close()
        server.stop()
