"""Sign-in under hostile input and from either loopback name, over real HTTP.

Before: the `siwe` ABNF parser ran on the event loop in time super-linear in the message (a
4,096-character message held every request for 59 s) and cached every message (10,000 distinct
garbage logins grew the API from 110 MB to 813 MB); URI and Issued At were not checked; the
domain was fixed, so the app opened at http://localhost:PORT could not sign in.
"""

from __future__ import annotations

import concurrent.futures
import secrets
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from pymongo import MongoClient

from .support.wallet import Wallet

GARBAGE = "7" * 4096
# Crafted for siwe's regular-expression parser, which backtracks exponentially on it.
CRAFTED = (
    "localhost:8000 wants you to sign in with your Ethereum account:\n0x" + "A" * 40
    + "\n\nx\n\nURI: http://x\nVersion: 1\nChain ID: 1\nNonce: abcdefgh\nIssued At: 2020-01-01T00:00:00Z\nResources:"
    + "\n- //" * 700 + " "
)


def _login(client: httpx.Client, message: str, signature: str = "0x" + "00" * 65) -> httpx.Response:
    return client.post("/api/auth/login", json={"message": message, "signature": signature})


@pytest.mark.parametrize("message", [GARBAGE, CRAFTED], ids=["digits", "crafted-resources"])
def test_hostile_messages_are_refused_at_once(client: httpx.Client, message: str) -> None:
    started = time.perf_counter()
    response = _login(client, message)
    elapsed = time.perf_counter() - started
    assert response.status_code == 401 and response.json()["error"]["code"] == "login_failed"
    assert "malformed" in response.json()["error"]["message"]
    # Milliseconds in practice (`make bench` reports the median); the bound only catches the old
    # behaviour (59 s for the digits, never finishing for the crafted one) on a loaded machine.
    assert elapsed < 2.0, f"{elapsed:.2f} s"


def test_hostile_logins_do_not_hold_other_requests(client: httpx.Client, api_server) -> None:
    with concurrent.futures.ThreadPoolExecutor(max_workers=6) as pool:
        def hammer() -> int:
            with httpx.Client(base_url=api_server.url, timeout=60) as own:
                return _login(own, CRAFTED + secrets.token_hex(4)).status_code

        attacks = [pool.submit(hammer) for _ in range(12)]
        waits = []
        for _ in range(10):
            started = time.perf_counter()
            assert client.get("/api/system/config").status_code == 200
            waits.append(time.perf_counter() - started)
        assert all(f.result() == 401 for f in attacks)
    assert sorted(waits)[len(waits) // 2] < 0.5, waits


def test_garbage_logins_do_not_grow_the_api(start_api_process) -> None:
    """2,000 distinct garbage messages (`make bench` runs 10,000): the API's memory stays flat."""
    api = start_api_process()
    with httpx.Client(base_url=api.url, timeout=30) as client:
        for i in range(200):  # warm-up: allocator pools, code paths
            _login(client, f"{i}-" + GARBAGE[:4000])
        api.reset_peak_rss()
        before = api.rss_bytes()
        for i in range(2000):
            assert _login(client, f"{i}:" + secrets.token_hex(16) + GARBAGE[:4000]).status_code == 401
        grown = api.peak_rss_bytes() - before
    assert grown < 20 * 1024 * 1024, f"grew by {grown / 2**20:.1f} MB"


def _signed_login(client: httpx.Client, wallet: Wallet, nonce_info: dict, **overrides) -> httpx.Response:
    message = wallet.siwe_message(nonce_info, **overrides)
    return client.post("/api/auth/login", json={"message": message, "signature": wallet.personal_sign(message)})


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


@pytest.mark.parametrize(
    ("overrides", "says"),
    [
        ({"uri": "ipfs://bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi"}, "URI"),
        ({"uri": "http://evil.example/"}, "URI"),
        ({"issued_at": "2001-09-11T08:46:00Z"}, "too long ago"),
        ({"issued_at": _iso(datetime.now(UTC) + timedelta(hours=1))}, "future"),
        ({"not_before": _iso(datetime.now(UTC) + timedelta(hours=1))}, "not valid yet"),
    ],
    ids=["ipfs-uri", "other-origin-uri", "issued-2001", "issued-in-an-hour", "not-before-later"],
)
def test_uri_and_times_are_checked(client: httpx.Client, overrides: dict, says: str) -> None:
    wallet = Wallet.random()
    response = _signed_login(client, wallet, client.get("/api/auth/nonce").json(), **overrides)
    assert response.status_code == 401, response.text
    assert says in response.json()["error"]["message"]


def test_either_loopback_name_signs_in(client: httpx.Client, api_server) -> None:
    port = api_server.settings.port
    for host in (f"127.0.0.1:{port}", f"localhost:{port}"):
        nonce_info = client.get("/api/auth/nonce", headers={"Host": host}).json()
        assert (nonce_info["domain"], nonce_info["uri"]) == (host, f"http://{host}")
        wallet = Wallet.random()
        assert _signed_login(client, wallet, nonce_info).status_code == 200
    # The browser's Origin header wins over Host; an origin we do not serve gets the main one.
    assert client.get("/api/auth/nonce", headers={"Origin": f"http://localhost:{port}"}).json()["domain"] == f"localhost:{port}"
    assert client.get("/api/auth/nonce", headers={"Host": "evil.example"}).json()["domain"] == f"127.0.0.1:{port}"


def test_a_nonce_works_only_for_the_origin_it_was_issued_to(client: httpx.Client, api_server) -> None:
    port = api_server.settings.port
    nonce_info = client.get("/api/auth/nonce", headers={"Host": f"localhost:{port}"}).json()
    wallet = Wallet.random()
    swapped = {**nonce_info, "domain": f"127.0.0.1:{port}", "uri": f"http://127.0.0.1:{port}"}
    response = _signed_login(client, wallet, swapped)
    assert response.status_code == 401 and "another domain" in response.json()["error"]["message"]


def test_expiring_entries_have_ttl_indexes(api_server) -> None:
    with MongoClient(api_server.settings.mongodb_uri, serverSelectionTimeoutMS=5000) as mongo:
        _check_ttl_indexes(mongo[api_server.settings.mongodb_database])


def _check_ttl_indexes(db) -> None:  # type: ignore[no-untyped-def]
    for collection in ("login_nonces", "refresh_tokens", "rate_limits"):
        indexes = db[collection].index_information()
        assert any(
            spec.get("expireAfterSeconds") == 0 and spec["key"][0][0] in ("expires_at",) for spec in indexes.values()
        ), (collection, indexes)
