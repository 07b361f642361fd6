"""Running independent awaitables together, with errors the caller can predict.

`asyncio.gather` alone raises whichever failure happened first in time and leaves the other
awaitables running; `asyncio.TaskGroup` wraps failures in an ExceptionGroup, which the callers'
`except` clauses (domain errors, chain transport errors) would no longer match. This is the small
rule the services need instead, hence hand-written.
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
    passes, and a stop at such a moment let it run on: the API's shutdown then waited for ever.
    `asyncio.timeout` tells its own timeout from a cancellation and never absorbs the latter.
    """
    try:
        async with asyncio.timeout(seconds):
            await event.wait()
    except TimeoutError:
        pass
    return event.is_set()
