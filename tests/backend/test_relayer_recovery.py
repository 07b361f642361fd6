"""The relayer on a chain that behaves like a real one: rollbacks, dropped and under-priced transactions.

Each test has its own Anvil (these tests stop mining, drop transactions and roll the chain back),
with HealthLedger deployed. The relayer must follow the chain's nonce, notice a transaction the node
forgot, re-send it, and replace one that is stuck, instead of waiting for the whole timeout.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from eth_account import Account

from healthledger.chain.client import ChainClient
from healthledger.chain.deployment import Deployment, deploy
from healthledger.chain.relayer import Relayer, SentTransaction
from healthledger.devstack.anvil import AnvilNode

pytestmark = pytest.mark.asyncio

RESEND_AFTER = 0.5


@pytest.fixture
def own_anvil(tmp_path: Path):
    node = AnvilNode(log_path=tmp_path / "anvil.log").start()
    try:
        yield node, deploy(node.rpc_url, node.accounts[0].private_key)
    finally:
        node.stop()


@pytest_asyncio.fixture
async def relayer(own_anvil: tuple[AnvilNode, Deployment]) -> AsyncIterator[Relayer]:
    node, deployment = own_anvil
    chain = ChainClient(node.rpc_url, deployment.factory, timeout_seconds=5.0)
    try:
        yield Relayer(chain, node.accounts[9].private_key, resend_after=RESEND_AFTER)
    finally:
        await chain.aclose()


def _pool_hashes(node: AnvilNode) -> set[str]:
    content = node.rpc("txpool_content")
    return {
        tx["hash"].lower()
        for by_sender in (content.get("pending") or {}).values()
        for tx in by_sender.values()
    }


async def _mine_until(node: AnvilNode, task: asyncio.Task, timeout: float = 20.0) -> None:
    """Mine a block every 0.2 s until `task` is done (the chain does not mine by itself here)."""
    deadline = time.monotonic() + timeout
    while not task.done():
        assert time.monotonic() < deadline, "the relayer's transaction was never mined"
        node.mine()
        await asyncio.sleep(0.2)


async def _send_create_vault(relayer: Relayer) -> SentTransaction:
    call = await relayer.prepare(relayer.chain.factory, "createVault", Account.create().address)
    return await relayer.send(call)


async def test_nonce_follows_the_chain_after_a_rollback(own_anvil, relayer: Relayer) -> None:
    """Before: the relayer took max(node's pending count, its own next nonce); after a rollback its
    memory was ahead of the node, every send left a gap, and nothing was ever mined."""
    node, _ = own_anvil
    before = node.snapshot()
    for _ in range(3):
        await relayer.transact(relayer.chain.factory, "createVault", Account.create().address, timeout=10)
    node.revert(before)
    started = time.monotonic()
    result = await relayer.transact(relayer.chain.factory, "createVault", Account.create().address, timeout=10)
    assert result.receipt["status"] == 1
    assert time.monotonic() - started < 5
    tx = await relayer.chain._w3.eth.get_transaction(result.tx_hash)
    assert tx["nonce"] == int(node.rpc("eth_getTransactionCount", [relayer.address, "latest"]), 16) - 1


async def test_a_dropped_transaction_is_sent_again(own_anvil, relayer: Relayer) -> None:
    node, _ = own_anvil
    node.rpc("evm_setAutomine", [False])
    sent = await _send_create_vault(relayer)
    assert sent.tx_hash in _pool_hashes(node)
    node.rpc("anvil_dropTransaction", [sent.tx_hash])  # a node restart, a full mempool, a reorg
    assert not _pool_hashes(node)
    waiting = asyncio.create_task(relayer.wait(sent, timeout=20))
    # Within `resend_after` the relayer notices the node forgot it and broadcasts it again.
    deadline = time.monotonic() + 10
    while not _pool_hashes(node):
        assert time.monotonic() < deadline, "the dropped transaction was not sent again"
        await asyncio.sleep(0.1)
    await _mine_until(node, waiting)
    receipt = waiting.result()
    assert receipt["status"] == 1 and "0x" + bytes(receipt["transactionHash"]).hex() in sent.hashes


async def test_a_stuck_transaction_is_replaced_with_a_higher_fee(own_anvil, relayer: Relayer) -> None:
    """Pending and not mined (here: no blocks at all) past `resend_after`: replaced, same nonce,
    fees at least 12.5 % higher, and the replacement is what gets mined."""
    node, _ = own_anvil
    node.rpc("evm_setAutomine", [False])
    sent = await _send_create_vault(relayer)
    first_fees, first_nonce = dict(sent.fees), sent.nonce
    waiting = asyncio.create_task(relayer.wait(sent, timeout=20))
    deadline = time.monotonic() + 10
    # The hash is recorded before the broadcast (so a crash cannot lose it): wait for the node
    # to hold the replacement, not just for the relayer to have signed it.
    while len(sent.hashes) < 2 or _pool_hashes(node) != {sent.hashes[-1]}:
        assert time.monotonic() < deadline, f"the stuck transaction was not replaced: {_pool_hashes(node)}"
        await asyncio.sleep(0.1)
    assert sent.nonce == first_nonce
    assert all(sent.fees[key] >= first_fees[key] * 9 // 8 for key in first_fees)
    await _mine_until(node, waiting)
    assert "0x" + bytes(waiting.result()["transactionHash"]).hex() == sent.hashes[-1]


async def test_an_underpriced_transaction_is_resent_at_the_current_fee(own_anvil, relayer: Relayer) -> None:
    """The base fee jumps after the transaction was signed (a busy network): the node will not mine
    it (Anvil evicts it); the relayer re-sends at fees that cover the new base fee."""
    node, _ = own_anvil
    node.rpc("evm_setAutomine", [False])
    sent = await _send_create_vault(relayer)
    spike = sent.fees["maxFeePerGas"] * 50
    node.rpc("anvil_setNextBlockBaseFeePerGas", [hex(spike)])
    node.mine()  # a block at the new base fee: ours is too cheap for it
    waiting = asyncio.create_task(relayer.wait(sent, timeout=30))
    await _mine_until(node, waiting, timeout=30)
    receipt = waiting.result()
    assert receipt["status"] == 1
    assert sent.fees["maxFeePerGas"] > spike // 50 and len(sent.hashes) >= 2


async def test_the_hash_is_handed_over_before_the_node_sees_the_transaction(own_anvil, relayer: Relayer) -> None:
    """Before: the hash was saved after `send_raw_transaction` returned; a crash in between left a
    mined record whose document had no hash, and the reconciler deleted it. Now the caller saves
    the hash (computed from the signed transaction) first, while the node does not know it yet."""
    seen: list[tuple[str, bool]] = []

    async def save(tx_hash: str) -> None:
        known = await relayer.chain.transaction_pending(tx_hash) or await relayer.chain.receipt_or_none(tx_hash) is not None
        seen.append((tx_hash, known))

    call = await relayer.prepare(relayer.chain.factory, "createVault", Account.create().address)
    sent = await relayer.send(call, before_broadcast=save)
    assert seen == [(sent.tx_hash, False)]
    assert (await relayer.wait(sent, timeout=10))["status"] == 1


async def test_a_failing_save_means_nothing_is_broadcast(own_anvil, relayer: Relayer) -> None:
    node, _ = own_anvil
    count = int(node.rpc("eth_getTransactionCount", [relayer.address, "pending"]), 16)

    async def database_down(tx_hash: str) -> None:
        raise ConnectionError("the database is down")

    call = await relayer.prepare(relayer.chain.factory, "createVault", Account.create().address)
    with pytest.raises(ConnectionError):
        await relayer.send(call, before_broadcast=database_down)
    assert int(node.rpc("eth_getTransactionCount", [relayer.address, "pending"]), 16) == count
