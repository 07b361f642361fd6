"""A relayed action mined by the process whose request awaits it: the waiter gets the receipt the
lease holder already has, instead of asking the node for it again (one JSON-RPC round trip less on
every upload, grant and revocation).

Run against the real stack's Anvil and SecantusDB with a relayer key of its own (a fresh account,
funded here), so this process is the only one that can hold that relayer's lease and mine the job.
"""

from __future__ import annotations

from typing import Any

import pytest
from eth_account import Account
from healthledger.container import build_services
from healthledger.devstack.anvil import rpc_call
from pydantic import SecretStr


class _CountingReceipts:
    """The chain client the queue's waiters use, counting the receipts they fetch themselves."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.fetched: list[str] = []

    async def receipt_or_none(self, tx_hash: str) -> Any:
        self.fetched.append(str(tx_hash))
        return await self._inner.receipt_or_none(tx_hash)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


@pytest.mark.asyncio
async def test_a_job_mined_by_this_process_hands_its_receipt_to_its_waiter(anvil, api_settings) -> None:
    relayer = Account.create()
    rpc_call(anvil.rpc_url, "anvil_setBalance", [relayer.address, hex(10**20)])
    services = await build_services(api_settings.model_copy(update={"relayer_private_key": SecretStr(relayer.key.hex())}))
    try:
        queue = services.relay_queue
        waiters_chain = _CountingReceipts(queue._chain)
        queue._chain = waiters_chain
        patient = Account.create().address

        address = await queue.ensure_vault(patient, timeout=30.0)  # createVault through the queue

        assert await services.chain.vault_exists(patient)
        assert address.lower() == (await services.chain.vault_address(patient)).lower()
        assert waiters_chain.fetched == []  # the worker's receipt was handed over (was one fetch per job)
    finally:
        await services.close()
