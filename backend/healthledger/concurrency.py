"""Running awaitables together and stopping background tasks, with outcomes the caller can predict.

- `gather_in_order`: `asyncio.gather` alone raises whichever failure happened first in time and
  leaves the other awaitables running; `asyncio.TaskGroup` wraps failures in an ExceptionGroup,
  which the callers' `except` clauses (domain errors, chain transport errors) would no longer match.
- `wait_until_set` and `cancel_and_wait`: a background loop (the relayer worker, the maintenance
  loop) must end when it is cancelled, and on Python 3.11 with PyMongo a cancellation can be lost
  in two places (see each function). A loop that lost it ran on, and the API's shutdown waited.

No library covers these rules, hence hand-written.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any


async def gather_in_order(*steps: Awaitable[Any]) -> list[Any]:
    """Run `steps` together and wait for all of them; raise the first failure in argument order
    (not in time), so a caller hears the same error whichever step happened to fail first, and no
    step is still running when it does."""
    results = await asyncio.gather(*steps, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return list(results)


async def wait_until_set(event: asyncio.Event, seconds: float) -> bool:
    """Wait until `event` is set or `seconds` have passed; whether it is set.

    Not `asyncio.wait_for(event.wait(), seconds)`: on Python 3.11 that swallows a cancellation
    arriving in the loop tick the event is set in (it returns the result instead of raising;
    CPython issue 86296, fixed by 3.12's rewrite). The relayer worker's loop waits like this between
    passes: a stop at such a moment would let it run on.
    `asyncio.timeout` tells its own timeout from a cancellation and never absorbs the latter.
    """
    try:
        async with asyncio.timeout(seconds):
            await event.wait()
    except TimeoutError:
        pass
    return event.is_set()


async def cancel_and_wait(task: asyncio.Task[Any], *, again_after: float = 1.0) -> None:
    """Cancel `task` and wait until it has ended, cancelling it again every `again_after` seconds
    while it still runs.

    Why again: a cancellation can be swallowed inside a library. PyMongo's async reads do now and
    then (5 of 160 cancels of a loop of finds, counts and find_ones against SecantusDB went
    unnoticed), and a background loop that loses its cancellation runs on: the relayer worker's and
    the maintenance loop's `stop()` then waited for ever, and so did the API's shutdown. Never
    raises the task's own error (`asyncio.wait`), and never absorbs the caller's cancellation.
    """
    while not task.done():
        task.cancel()
        await asyncio.wait([task], timeout=again_after)
    if not task.cancelled():
        task.exception()  # retrieved: a loop's error at shutdown is moot
