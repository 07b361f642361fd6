"""What changed for the signed-in account: counts for badges and a change token per area.

Why polling and not Server-Sent Events: the answer is a few indexed MongoDB reads, so a client
asking every few seconds while its tab is visible costs little; it works unchanged behind several
API instances (issue 15) with no shared pub/sub, holds no connection open, and needs nothing from
proxies. Every change the app shows ends in a database write here (a request stored or answered,
a grant copy stored, extended or deleted on revoke, a record stored or settled), so the database
alone tells what changed: no chain call is made per poll (the caller's role check is the cached one
every signed-in route makes, and the chain's clock, read at most every CHAIN_CLOCK_SECONDS).

The tokens are opaque digests, one per area of the app (`requests`, `records`, `grants`): when one
differs from the last the client saw, it refetches that area's lists. "New" counts are relative to
`since`, the time the client last showed that list (kept by the client, in server time from `now`),
so nothing per reader is stored and any instance answers alike.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import weakref
from datetime import UTC, datetime
from typing import Any

from ..auth.tokens import Role
from ..chain.client import ChainClient
from ..chain.rpc import ChainError
from ..container import Services
from ..db.activity import ActivityQueries
from ..domain_errors import forbidden

log = logging.getLogger(__name__)

# A grant "about to expire" ends within this many seconds, give or take the chain clock's error
# (a block's time is known to within a block or so): a one-day grant counts from the start.
EXPIRING_WITHIN_SECONDS = 24 * 3600
CLOCK_SLACK_SECONDS = 60
ANSWERED = ("approved", "denied")
# Grants end in chain time (`block.timestamp`), which can run apart from this server's clock (a dev
# chain moved forward, a slow block): the offset between them is read from the chain at most this often.
CHAIN_CLOCK_SECONDS = 10.0
# chain client -> (chain time minus wall time, time.monotonic() when read)
_clock_offsets: "weakref.WeakKeyDictionary[ChainClient, tuple[float, float]]" = weakref.WeakKeyDictionary()


async def chain_now(chain: ChainClient, wall: float) -> int:
    """The chain's time now, from a cached offset to the wall clock (one chain read per
    CHAIN_CLOCK_SECONDS per process). Only a chain ahead of the wall clock moves it: an idle chain's
    latest block is old, but its next one is stamped about now. A chain that does not answer keeps
    the last offset (or none): badges may be a little off meanwhile, but polling never fails for it."""
    cached = _clock_offsets.get(chain)
    if cached is None or time.monotonic() - cached[1] > CHAIN_CLOCK_SECONDS:
        try:
            offset = max(0.0, await chain.latest_timestamp() - time.time())
        except ChainError:
            log.warning("chain clock unavailable for notifications; using the last known offset")
            offset = cached[0] if cached else 0.0
        cached = (offset, time.monotonic())
        _clock_offsets[chain] = cached
    return int(wall + cached[0])


def _digest(value: Any) -> str:
    """A short stable digest of a JSON-able value (a change token; says nothing about the content)."""
    raw = json.dumps(value, sort_keys=True, default=str, separators=(",", ":")).encode()
    return hashlib.sha256(raw).hexdigest()[:20]


def _live_grants(copies: list[tuple[str, str, int, int]], now: int) -> list[tuple[str, str, int, int]]:
    return [copy for copy in copies if copy[3] > now]


def _expiring(copies: list[tuple[str, str, int, int]], now: int) -> int:
    """How many (patient, doctor) grants end within EXPIRING_WITHIN_SECONDS of `now`."""
    horizon = now + EXPIRING_WITHIN_SECONDS + CLOCK_SLACK_SECONDS
    return len({(patient, doctor) for patient, doctor, _, expires in copies if now < expires <= horizon})


class NotificationService:
    def __init__(self, services: Services) -> None:
        self._q = ActivityQueries(services.db)
        self._chain = services.chain

    async def summary(self, account: str, role: Role, since: int | None, now: float | None = None) -> dict[str, Any]:
        """Counts and change tokens for `account` in `role` (patients and doctors; 403 otherwise)."""
        account = account.lower()
        clock = time.time() if now is None else now
        since_at = datetime.fromtimestamp(since, UTC) if since is not None else None
        if role not in ("patient", "doctor"):
            raise forbidden("wrong_role", f"notifications are for patient or doctor accounts; you are signed in as {role}")
        # "since" and "now" compare with database times (wall clock); grant expiries with chain time.
        grant_clock = await chain_now(self._chain, clock)
        if role == "patient":
            counts, changes = await self._patient(account, since_at, grant_clock)
        else:
            counts, changes = await self._doctor(account, since_at, grant_clock)
        return {
            "role": role,
            "now": int(clock),
            "since": since,
            "counts": counts,
            "changes": changes,
            "token": _digest(changes),
        }

    async def _patient(self, patient: str, since: datetime | None, now: int) -> tuple[dict[str, int], dict[str, str]]:
        pending = await self._q.pending_request_ids(patient)
        copies = _live_grants(await self._q.grant_copies("patient", patient), now)
        records = await self._q.record_states(patient)
        counts = {
            "pending_requests": len(pending),
            "answered_requests": 0,
            "new_authored_records": await self._q.authored_since(patient, since),
            "expiring_grants": _expiring(copies, now),
        }
        changes = {"requests": _digest(pending), "records": _digest(records), "grants": _digest(copies)}
        return counts, changes

    async def _doctor(self, doctor: str, since: datetime | None, now: int) -> tuple[dict[str, int], dict[str, str]]:
        requests = await self._q.doctor_request_states(doctor)
        copies = _live_grants(await self._q.grant_copies("doctor", doctor), now)
        answered = sum(
            1
            for _, state, responded in requests
            if state in ANSWERED and (since is None or (responded is not None and responded > since))
        )
        counts = {
            "pending_requests": 0,
            "answered_requests": answered,
            "new_authored_records": 0,
            "expiring_grants": _expiring(copies, now),
        }
        # The doctor's shared records are their grant copies: a revoke deletes them, so the token moves.
        changes = {
            "requests": _digest([(request_id, state) for request_id, state, _ in requests]),
            "records": _digest(copies),
            "grants": _digest(copies),
        }
        return counts, changes
