"""healthledger/concurrency.py: waits that keep a cancellation, gathers that fail predictably.

`wait_until_set` replaced `asyncio.wait_for(event.wait(), t)` in the relayer worker's loop and the
queue's waiters. On Python 3.11 wait_for swallows a cancellation that arrives in the loop tick the
event is set in (CPython issue 86296): the worker's loop, stopped at such a moment, ran on for ever
and the API's shutdown never finished (seen first as a test that hung in `services.close()`).
"""

from __future__ import annotations

import asyncio

import pytest
from healthledger.concurrency import cancel_and_wait, gather_in_order, wait_until_set


async def _poll_loop(event: asyncio.Event) -> None:
    """The relayer worker's loop, reduced to its wait: pass, wait for a nudge or the poll, repeat."""
    while True:
        event.clear()
        await wait_until_set(event, 0.5)


@pytest.mark.asyncio
@pytest.mark.parametrize("ticks_before", [0, 1, 2, 3])
async def test_a_loop_stopped_in_the_tick_its_event_is_set_stops(ticks_before: int) -> None:
    event = asyncio.Event()
    task = asyncio.create_task(_poll_loop(event))
    for _ in range(1 + ticks_before):
        await asyncio.sleep(0)  # the loop is waiting on the event now
    event.set()  # a nudge (a job queued) ...
    task.cancel()  # ... and the process stopping, in the same tick
    done, _ = await asyncio.wait([task], timeout=2.0)
    # With asyncio.wait_for on Python 3.11 the cancellation was swallowed: the loop ran on.
    assert task in done and task.cancelled()


@pytest.mark.asyncio
async def test_wait_until_set_says_whether_the_event_came_or_the_time_ran_out() -> None:
    event = asyncio.Event()
    assert await wait_until_set(event, 0.01) is False
    asyncio.get_running_loop().call_later(0.01, event.set)
    assert await wait_until_set(event, 5.0) is True


@pytest.mark.asyncio
async def test_gather_in_order_raises_the_first_failure_by_position_after_all_have_ended() -> None:
    ended: list[str] = []

    async def fail_late() -> None:
        await asyncio.sleep(0.02)
        ended.append("late")
        raise KeyError("late")

    async def fail_early() -> None:
        ended.append("early")
        raise ValueError("early")

    with pytest.raises(KeyError):
        await gather_in_order(fail_late(), fail_early())
    assert sorted(ended) == ["early", "late"]  # nothing still running when the error is raised
    assert await gather_in_order(asyncio.sleep(0, "a"), asyncio.sleep(0, "b")) == ["a", "b"]


@pytest.mark.asyncio
async def test_cancel_and_wait_ends_a_loop_that_swallowed_its_first_cancellation() -> None:
    """PyMongo's async reads sometimes swallow a cancellation (seen: 5 of 160 cancels of a loop of
    reads against SecantusDB); the relayer worker's and the maintenance loop's stop hung on that."""
    swallowed = []

    async def loop_whose_library_swallows_once() -> None:
        while True:
            try:
                await asyncio.sleep(0.01)
            except asyncio.CancelledError:
                if swallowed:
                    raise
                swallowed.append(True)  # what the library did: carried on as if nothing happened

    task = asyncio.create_task(loop_whose_library_swallows_once())
    await asyncio.sleep(0.02)
    await asyncio.wait_for(cancel_and_wait(task, again_after=0.05), 5.0)
    assert swallowed == [True] and task.cancelled()
