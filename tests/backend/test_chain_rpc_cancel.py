"""A chain request given up midway (cancelled: a timeout, an upload refused while its nonce read was
in flight) must never wedge the process's later chain requests.

web3 7's session manager takes a thread lock through a thread pool before every async request; a
request cancelled while that acquire was pending left the lock taken for good, and every later
request waited for ever (`make test` hung on the next sign-in). chain/rpc.py's provider uses its
own loop-local session lookup instead; this drives many cancellations at different points against
a real Anvil, then asks once more.
"""

from __future__ import annotations

import asyncio

import pytest
from healthledger.chain.rpc import make_web3
from web3 import AsyncHTTPProvider


async def _cancel_many_then_ask(provider: AsyncHTTPProvider, rounds: int = 60) -> dict:
    """Rounds of 10 requests at once (so they queue for web3's lock), every other one given up at a
    different point; then one more request, which must be answered."""
    for i in range(rounds):
        tasks = [asyncio.ensure_future(provider.make_request("eth_blockNumber", [])) for _ in range(10)]
        for _ in range(i % 7):
            await asyncio.sleep(0)
        for task in tasks[::2]:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return await asyncio.wait_for(provider.make_request("eth_blockNumber", []), 10.0)


@pytest.mark.asyncio
async def test_requests_cancelled_midway_never_wedge_later_ones(anvil) -> None:
    w3 = make_web3(anvil.rpc_url, 5.0)
    try:
        # On web3's own session manager this never returns: the requests still queued for the leaked
        # lock wait for ever (hence the outer bound).
        answer = await asyncio.wait_for(_cancel_many_then_ask(w3.provider), 60.0)
        assert int(answer["result"], 16) >= 0
    finally:
        await w3.provider.disconnect()
