"""Named rate-limit policies, checked per client IP, per account address and (optionally) overall.

Why: some requests make the relayer spend ETH (a first upload deploys the patient's record
contract for about 182k gas; every upload and access request relays a transaction) and others
write to MongoDB on behalf of anyone (sign-in nonces). Without limits one client could drain the
relayer or fill the database.

Use from a route (policy names in `POLICY_NAMES`)::

    ip = request.client.host if request.client else None
    await services.rate_limits.hit("upload", ip=ip, address=user.address)

`hit` returns nothing when the request may go on and raises a domain error (the API answers):
- RateLimited, 429 `rate_limited` with `Retry-After` (seconds) when a limit is used up;
- ServiceUnavailable, 503 `database_unavailable` with `Retry-After` when MongoDB cannot be asked and the policy
  fails closed (policies that spend the relayer's ETH). Fail-open policies let the request
  through instead, and the request then depends on MongoDB on its own (sign-in does).

Strategy: `limits`' fixed window (`FixedWindowRateLimiter`). Its counter is one MongoDB document
per key with an atomic `$inc` (see `db.rate_limits`), exact under any number of API processes, and
its Retry-After is simply the window's end. A moving window would keep one timestamp per hit
(arrays as long as the limit) for little gain here: the fixed window's known weakness, up to twice
the limit in a short burst around a window boundary, still bounds the long-run rate to the limit,
and that is what protects the relayer's balance.

Every scope of a policy is counted in turn (IP, then address, then overall) and the first one used
up answers 429; a request refused by a later scope has still used up a hit of the earlier ones.
Counting is by IP address as the ASGI server reports it: behind a reverse proxy, uvicorn must be
told to trust its `X-Forwarded-For` (`--forwarded-allow-ips`), or every client shares the proxy's
address. IPv6 clients are counted per /64 network, the block one subscriber usually holds.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass

import pymongo
from limits import RateLimitItem, parse
from limits.aio.storage import Storage
from limits.aio.strategies import FixedWindowRateLimiter
from limits.errors import StorageError
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import PyMongoError

from ..db.rate_limits import MongoRateLimitStorage
from ..domain_errors import RateLimited, ServiceUnavailable
from ..settings import Settings

log = logging.getLogger(__name__)

POLICY_NAMES = ("nonce", "login", "upload", "new_vault", "access_request")

# A fail-closed policy's 503 asks the client to come back after this many seconds.
UNAVAILABLE_RETRY_SECONDS = 30
# IPv6 clients are counted per network of this prefix length (a subscriber's usual allocation).
IPV6_PREFIX = 64


@dataclass(frozen=True)
class Policy:
    """One kind of request and its limits; a scope whose limit is None is not counted."""

    name: str
    # What is counted, for the client's message, e.g. "uploads".
    what: str
    per_ip: RateLimitItem | None
    per_address: RateLimitItem | None = None
    # Across all clients: caps what the relayer can be made to spend whatever the number of IPs.
    overall: RateLimitItem | None = None
    # True: let requests through while MongoDB cannot be asked; False: refuse them with a 503.
    fail_open: bool = True


def _item(text: str) -> RateLimitItem | None:
    return parse(text) if text.strip() else None


def policies_from_settings(settings: Settings) -> dict[str, Policy]:
    """The policies with the limits configured in `settings` (see `Settings.rate_limit_*`).

    Fail-open where no money is at stake (nonce, login: those requests need MongoDB themselves,
    so the limiter adds no outage of its own); fail-closed where the relayer pays gas (upload,
    new_vault, access_request): an unchecked request there costs ETH.
    """
    s = settings
    policies = [
        Policy("nonce", "sign-in nonce requests", _item(s.rate_limit_nonce_per_ip), fail_open=True),
        Policy(
            "login",
            "sign-in attempts",
            _item(s.rate_limit_login_per_ip),
            _item(s.rate_limit_login_per_address),
            fail_open=True,
        ),
        Policy(
            "upload",
            "uploads",
            _item(s.rate_limit_upload_per_ip),
            _item(s.rate_limit_upload_per_address),
            fail_open=False,
        ),
        Policy(
            "new_vault",
            "new vaults",
            _item(s.rate_limit_new_vault_per_ip),
            _item(s.rate_limit_new_vault_per_address),
            overall=_item(s.rate_limit_new_vault_global),
            fail_open=False,
        ),
        Policy(
            "access_request",
            "access requests",
            _item(s.rate_limit_access_request_per_ip),
            _item(s.rate_limit_access_request_per_address),
            fail_open=False,
        ),
    ]
    return {policy.name: policy for policy in policies}


def client_key(ip: str) -> str:
    """The identity an IP address is counted under: IPv4 as is (also when IPv4-mapped in IPv6),
    IPv6 by its /64 network, anything unparsable (a test client's name) lower-cased."""
    text = ip.strip()
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return text.lower()
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, IPV6_PREFIX), strict=False))
    return str(address)


def _describe(item: RateLimitItem) -> str:
    """'30 per minute', '3 per 2 seconds'."""
    unit = item.GRANULARITY.name
    if item.multiples == 1:
        return f"{item.amount} per {unit}"
    return f"{item.amount} per {item.multiples} {unit}s"


class RateLimits:
    """Checks requests against the named policies; counters live in a `limits` async storage."""

    def __init__(
        self,
        storage: Storage,
        policies: Mapping[str, Policy],
        *,
        enabled: bool = True,
        timeout_seconds: float = 1.0,
    ) -> None:
        self._storage = storage
        self._limiter = FixedWindowRateLimiter(storage)
        self._policies = dict(policies)
        self._enabled = enabled
        self._timeout = timeout_seconds

    @classmethod
    def from_settings(cls, db: AsyncDatabase, settings: Settings) -> RateLimits:
        """The service the API uses: counters in `db`'s `rate_limits` collection, policies from settings."""
        return cls(
            MongoRateLimitStorage(db),
            policies_from_settings(settings),
            enabled=settings.rate_limits_enabled,
            timeout_seconds=settings.rate_limit_timeout_seconds,
        )

    @property
    def policies(self) -> Mapping[str, Policy]:
        return self._policies

    async def hit(self, policy: str, *, ip: str | None, address: str | None = None) -> None:
        """Count one request under `policy`; raise RateLimited (or ServiceUnavailable, see module doc) to refuse it.

        `ip` is the client's IP address (None when the server does not know it: the per-IP limit
        is then skipped); `address` the wallet address of the signed-in account whose request
        causes the work (None before sign-in). Addresses are compared case-insensitively.
        """
        chosen = self._policies.get(policy)
        if chosen is None:
            raise ValueError(f"unknown rate-limit policy {policy!r}")
        if not self._enabled:
            return
        scopes: list[tuple[str, RateLimitItem, str]] = []
        if chosen.per_ip is not None and ip:
            scopes.append(("ip", chosen.per_ip, client_key(ip)))
        if chosen.per_address is not None and address:
            scopes.append(("address", chosen.per_address, address.strip().lower()))
        if chosen.overall is not None:
            scopes.append(("overall", chosen.overall, "all"))
        try:
            with pymongo.timeout(self._timeout):
                for scope, item, identity in scopes:
                    await self._count(chosen, scope, item, identity)
        except (StorageError, PyMongoError) as exc:
            self._storage_failed(chosen, exc)

    async def _count(self, policy: Policy, scope: str, item: RateLimitItem, identity: str) -> None:
        """Count one hit in one scope; raise the 429 when that scope's limit is used up."""
        if await self._limiter.hit(item, policy.name, scope, identity):
            return
        stats = await self._limiter.get_window_stats(item, policy.name, scope, identity)
        retry_after = max(1, math.ceil(stats.reset_time - time.time()))
        # Which policy and scope only: client IPs and addresses stay out of the logs.
        log.info("rate limit reached", extra={"action": policy.name, "reason": scope})
        whose = {
            "ip": "from your network",
            "address": "for your account",
            "overall": "for this service",
        }[scope]
        raise RateLimited(
            "rate_limited",
            f"too many {policy.what} {whose}: at most {_describe(item)}; retry in {retry_after} seconds",
            retry_after_seconds=retry_after,
        )

    def _storage_failed(self, policy: Policy, exc: Exception) -> None:
        """MongoDB could not be asked: let the request through (fail-open) or refuse it with a 503."""
        cause = exc.__cause__ if isinstance(exc, StorageError) and exc.__cause__ else exc
        mode = "open" if policy.fail_open else "closed"
        log.warning(
            "rate-limit storage unavailable",
            extra={"error_type": type(cause).__name__, "action": policy.name, "reason": f"fails {mode}"},
        )
        if policy.fail_open:
            return
        # It is the database that is down: the same code as any other request that needs it.
        raise ServiceUnavailable(
            "database_unavailable",
            f"the database did not answer, so {policy.what} are paused (their rate limits cannot be "
            f"checked); retry in {UNAVAILABLE_RETRY_SECONDS} seconds",
            retry_after_seconds=UNAVAILABLE_RETRY_SECONDS,
        )
