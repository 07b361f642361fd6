"""Where one request's time goes, stage by stage: the `Server-Timing` response header and the
`healthledger_request_stage_duration_seconds` histogram (metrics.py).

Why: an upload is one POST that receives, hashes and encrypts the file on its way into IPFS, checks
the signed hash, saves the document and pins, then waits for the chain. The request histogram has
its total only; an operator (or `make bench`) looking at a slow upload needs to know which of those
it waited in. Browsers' developer tools show `Server-Timing` next to the request, and the stages are
named for the pipeline, not for internals, so the header says nothing a client did not already send
or could not time itself.

The request's StageClock lives in a contextvar set by the HTTP edge (api/error_handling.py), as the
request id does (request_context.py): services mark a stage with `with stage("store"):` and need no
parameter through every layer; outside a request (the maintenance loop, the CLI) marks are dropped.
A stage entered twice in one request (a retried step) adds up.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

# Server-Timing metric names are HTTP tokens; ours are short lower-case words.
_STAGE_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")


class StageClock:
    """Seconds spent in each named stage of one request, in the order each first finished."""

    def __init__(self) -> None:
        self._seconds: dict[str, float] = {}

    def add(self, name: str, seconds: float) -> None:
        self._seconds[name] = self._seconds.get(name, 0.0) + seconds

    def items(self) -> list[tuple[str, float]]:
        return list(self._seconds.items())

    def server_timing(self) -> str:
        """`store;dur=31.2, check;dur=4.0`: durations in milliseconds (RFC: W3C Server Timing)."""
        return ", ".join(f"{name};dur={seconds * 1000:.1f}" for name, seconds in self._seconds.items())


stage_clock_var: ContextVar[StageClock | None] = ContextVar("healthledger_stage_clock", default=None)


@contextmanager
def stage(name: str) -> Iterator[None]:
    """Time the block as stage `name` of the current request (nothing outside a request)."""
    if not _STAGE_NAME.fullmatch(name):
        raise ValueError(f"stage names are short lower-case tokens, got {name!r}")
    clock = stage_clock_var.get()
    started = time.perf_counter()
    try:
        yield
    finally:
        if clock is not None:
            clock.add(name, time.perf_counter() - started)
