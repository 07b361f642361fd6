"""stages.py: the per-request stage clock behind `Server-Timing` and the stage histogram."""

from __future__ import annotations

import asyncio

import pytest

from healthledger.stages import StageClock, stage, stage_clock_var


def test_stages_add_up_in_the_order_first_finished() -> None:
    clock = StageClock()
    clock.add("store", 0.030)
    clock.add("check", 0.002)
    clock.add("store", 0.001)
    assert clock.items() == [("store", pytest.approx(0.031)), ("check", 0.002)]
    assert clock.server_timing() == "store;dur=31.0, check;dur=2.0"


def test_a_stage_is_timed_into_the_current_requests_clock_and_dropped_outside_one() -> None:
    with stage("store"):  # no request: nothing to record into, no error
        pass

    async def request() -> StageClock:
        clock = StageClock()
        stage_clock_var.set(clock)

        async def in_a_task() -> None:  # tasks started by the request copy its context
            with stage("save"):
                await asyncio.sleep(0)

        with stage("anchor"):
            await asyncio.create_task(in_a_task())
        return clock

    clock = asyncio.run(request())
    assert [name for name, _ in clock.items()] == ["save", "anchor"]
    assert all(seconds >= 0 for _, seconds in clock.items())
    assert stage_clock_var.get() is None  # asyncio.run's context was its own


def test_a_stage_records_even_when_its_block_fails() -> None:
    clock = StageClock()
    token = stage_clock_var.set(clock)
    try:
        with pytest.raises(RuntimeError), stage("check"):
            raise RuntimeError("refused")
    finally:
        stage_clock_var.reset(token)
    assert [name for name, _ in clock.items()] == ["check"]


@pytest.mark.parametrize("name", ["", "Store", "two words", "a,b", "x;dur=1", "s" * 33])
def test_stage_names_are_header_tokens(name: str) -> None:
    with pytest.raises(ValueError), stage(name):
        pass
