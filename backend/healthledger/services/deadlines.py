"""Signature deadlines measured against the time a transaction can land, not the last block.

Why not the latest block's timestamp alone: a chain that only makes blocks when there are
transactions (the local dev chain) can be minutes or hours behind the wall clock, so a deadline
counted from it is already in the past when issued, and a deadline checked against it looks valid
until the transaction is mined and reverts (gas paid, nothing done). A block made now carries a
timestamp no earlier than the wall clock and no earlier than the last block's, so:

- deadlines are issued from max(wall clock, latest block time) + the signature TTL;
- before anything is sent or created, a deadline must reach past max(wall clock, latest block
  time) + DEADLINE_MARGIN_SECONDS (a few blocks), or the request is refused with "sign again".
"""

from __future__ import annotations

import time
from typing import Protocol

from ..domain_errors import bad_request


class ChainClock(Protocol):
    async def latest_timestamp(self) -> int: ...


async def chain_now(chain: ChainClock) -> int:
    """The earliest timestamp the next block can carry (seconds)."""
    return max(int(time.time()), await chain.latest_timestamp())


async def issue_deadline(chain: ChainClock, ttl_seconds: int) -> int:
    """A deadline `ttl_seconds` from now, never behind the wall clock."""
    return await chain_now(chain) + ttl_seconds


async def can_still_land(chain: ChainClock, deadline: int, margin_seconds: int) -> bool:
    """Whether a transaction sent now with this deadline is mined before the deadline passes."""
    return deadline >= await chain_now(chain) + margin_seconds


async def require_landable(chain: ChainClock, deadline: int, margin_seconds: int, what: str = "signature") -> None:
    """400 `signature_expired` unless the deadline leaves time for the transaction to land."""
    if not await can_still_land(chain, deadline, margin_seconds):
        raise bad_request(
            "signature_expired",
            f"the {what}'s deadline has passed or is too close to land on chain: sign again",
        )
