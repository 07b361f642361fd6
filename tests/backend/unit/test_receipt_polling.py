"""Receipt polling starts fast and backs off to about a block (chain/relayer.py `receipt_poll_delays`).

A fixed 100 ms sleep used to add up to 100 ms to each upload on a fast chain; polling every 20 ms
for a 12 s block would cost hundreds of RPC calls per transaction. The delays must do neither.
"""

from __future__ import annotations

from itertools import islice

from healthledger.chain.relayer import RECEIPT_POLL_MAX_SECONDS, receipt_poll_delays


def test_delays_start_short_grow_and_stop_at_the_ceiling() -> None:
    delays = list(islice(receipt_poll_delays(), 40))
    assert delays[0] <= 0.02
    assert all(later >= earlier for earlier, later in zip(delays, delays[1:]))
    assert max(delays) == RECEIPT_POLL_MAX_SECONDS
    # Twelve seconds (a Sepolia block) of waiting costs few polls.
    waited, polls = 0.0, 0
    for delay in receipt_poll_delays():
        waited += delay
        polls += 1
        if waited >= 12.0:
            break
    assert polls <= 25


def test_custom_bounds() -> None:
    assert list(islice(receipt_poll_delays(0.01, 2.0, 0.05), 5)) == [0.01, 0.02, 0.04, 0.05, 0.05]
