"""The API keeps its HTTP connections to the chain node alive between JSON-RPC requests.

An upload makes about fifteen requests to the node. The provider used to open and close a TCP
connection for each one (aiohttp's `force_close`, web3's default), which cost the API about 16 ms
of CPU per 1 MB upload and the node about 2.5 ms (scripts/bench_upload_speed.py's stack, measured
per process). These tests count the connections that reach a real Anvil through a proxy, and check
that a kept connection the node closed (a restart, an idle timeout) never fails the next request.
"""

from __future__ import annotations

import asyncio

import pytest
from healthledger.chain.rpc import make_web3

from tests.backend.support.gate_proxy import GateProxy

REQUESTS = 20


@pytest.fixture
def gate(anvil):
    proxy = GateProxy(anvil.port)
    try:
        yield proxy
    finally:
        proxy.close()


@pytest.mark.asyncio
async def test_requests_one_after_another_share_a_connection(gate: GateProxy) -> None:
    w3 = make_web3(f"http://127.0.0.1:{gate.port}", 5.0)
    try:
        for _ in range(REQUESTS):
            assert await w3.eth.block_number >= 0
    finally:
        await w3.provider.disconnect()
    # Closed after each request, this was one connection per request (20).
    assert gate.accepted == 1


@pytest.mark.asyncio
async def test_requests_at_once_use_a_few_connections_and_keep_them(gate: GateProxy) -> None:
    w3 = make_web3(f"http://127.0.0.1:{gate.port}", 5.0)
    try:
        for _ in range(5):
            answers = await asyncio.gather(*(w3.eth.chain_id for _ in range(4)))
            assert answers == [31337] * 4
    finally:
        await w3.provider.disconnect()
    assert gate.accepted <= 4  # one per request in flight at once, then kept (was 20)


@pytest.mark.asyncio
async def test_a_kept_connection_the_node_closed_does_not_fail_the_next_request(gate: GateProxy) -> None:
    w3 = make_web3(f"http://127.0.0.1:{gate.port}", 5.0)
    try:
        assert await w3.eth.chain_id == 31337
        for round_ in range(3):
            gate.drop_connections()
            assert await w3.eth.block_number >= 0, round_
            assert await w3.eth.get_transaction_count("0x" + "11" * 20) == 0
    finally:
        await w3.provider.disconnect()
    assert gate.accepted >= 4  # a fresh connection after each drop


@pytest.mark.asyncio
async def test_a_contract_read_and_a_gas_estimate_are_one_request_each(gate: GateProxy, anvil) -> None:
    """web3's validation middleware asked for the chain id twice around each of them (three round
    trips instead of one), to check a field these requests never carry."""
    w3 = make_web3(f"http://127.0.0.1:{gate.port}", 5.0)
    sender = anvil.accounts[0].address
    try:
        gate.count(b'"eth_chainId"')
        gate.count(b'"eth_call"')
        gate.count(b'"eth_estimateGas"')
        assert await w3.eth.call({"from": sender, "to": sender, "data": "0x"}) == b""
        assert await w3.eth.estimate_gas({"from": sender, "to": sender, "value": 1}) == 21_000
    finally:
        await w3.provider.disconnect()
    assert gate.seen(b'"eth_call"') == 1 and gate.seen(b'"eth_estimateGas"') == 1
    assert gate.seen(b'"eth_chainId"') == 0
