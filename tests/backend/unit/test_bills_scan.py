"""The lists' catch-up scan for bills issued directly on chain (services/bills_index.py), with fakes
for the chain and the store: which blocks it reads (never past head - CONFIRMATIONS, at most
SCAN_MAX_BLOCKS per list, from the last scanned block on), and that a failing or slow scan still
serves the index, flagged partial. The real-chain behaviour is in tests/backend/test_bills_index.py."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest

from healthledger.chain.rpc import ChainUnavailable
from healthledger.services import bills, bills_index

ACCOUNT = "0x" + "11" * 20


class FakeStore:
    def __init__(self) -> None:
        self.cursor: dict[tuple[str, str], int] = {}
        self.docs: list[Any] = ["indexed-bill"]

    async def scanned_to(self, account: str, role: str) -> int | None:
        return self.cursor.get((account.lower(), role))

    async def set_scanned(self, account: str, role: str, block: int) -> None:
        key = (account.lower(), role)
        self.cursor[key] = max(block, self.cursor.get(key, -1))

    async def add(self, doc: Any) -> Any:
        self.docs.append(doc)
        return doc

    async def for_patient(self, account: str) -> list[Any]:
        return list(self.docs)

    async def for_issuer_or_payee(self, account: str) -> list[Any]:
        return list(self.docs)


class FakeBillsChain:
    def __init__(self, *, fail: bool = False, hang: bool = False) -> None:
        self.ranges: list[tuple[str, int, int]] = []
        self.fail, self.hang = fail, hang

    async def deployed_block(self) -> int:
        return 10

    async def issued_logs(self, role: str, account: str, low: int, high: int) -> list[Any]:
        if self.fail:
            raise ChainUnavailable("node down")
        if self.hang:
            await asyncio.sleep(3600)
        self.ranges.append((role, low, high))
        return []


def _services(chain: FakeBillsChain, head: list[int], confirmations: int = 2) -> Any:
    async def block_number() -> int:
        return head[0]

    return SimpleNamespace(bill_chain=chain, bills=FakeStore(), settings=SimpleNamespace(confirmations=confirmations),
                           chain=SimpleNamespace(block_number=block_number))


@pytest.fixture(autouse=True)
def _served(monkeypatch: pytest.MonkeyPatch) -> None:
    async def serve(services: Any, doc: Any) -> Any:
        return SimpleNamespace(body={"bill": doc})

    monkeypatch.setattr(bills, "serve", serve)


@pytest.mark.asyncio
async def test_scans_from_deployment_to_head_minus_confirmations_then_only_new_blocks() -> None:
    head = [100]
    chain = FakeBillsChain()
    services = _services(chain, head)
    listed = await bills_index.list_bills(services, ACCOUNT, "patient")
    assert listed == {"bills": [{"bill": "indexed-bill"}], "partial": False}
    assert chain.ranges == [("patient", 10, 98)]
    head[0] = 105
    await bills_index.list_bills(services, ACCOUNT, "issuer")  # its own cursor: the payee topic
    await bills_index.list_bills(services, ACCOUNT, "patient")
    assert chain.ranges[1:] == [("payee", 10, 103), ("patient", 99, 103)]
    await bills_index.list_bills(services, ACCOUNT, "patient")  # nothing new: no log read
    assert len(chain.ranges) == 3


@pytest.mark.asyncio
async def test_a_long_way_behind_scans_a_bounded_range_and_says_partial() -> None:
    head = [10 + 3 * bills_index.SCAN_MAX_BLOCKS]
    chain = FakeBillsChain()
    services = _services(chain, head, confirmations=0)
    first = await bills_index.list_bills(services, ACCOUNT, "patient")
    assert first["partial"] is True
    assert chain.ranges[0][1] == 10 and chain.ranges[-1][2] == 10 + bills_index.SCAN_MAX_BLOCKS - 1
    assert await services.bills.scanned_to(ACCOUNT, "patient") == 10 + bills_index.SCAN_MAX_BLOCKS - 1


@pytest.mark.asyncio
@pytest.mark.parametrize("chain", [FakeBillsChain(fail=True), FakeBillsChain(hang=True)], ids=["outage", "timeout"])
async def test_a_failed_scan_still_serves_the_index_flagged_partial(
    chain: FakeBillsChain, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(bills_index, "SCAN_TIMEOUT_SECONDS", 0.2)
    services = _services(chain, [100])
    listed = await bills_index.list_bills(services, ACCOUNT, "patient")
    assert listed == {"bills": [{"bill": "indexed-bill"}], "partial": True}
    assert await services.bills.scanned_to(ACCOUNT, "patient") is None  # nothing counted as scanned
    assert any("bill log scan" in r.getMessage() for r in caplog.records)


def test_a_configured_deployment_block_is_used_without_asking_the_node() -> None:
    """BILL_PAYMENTS_DEPLOYED_BLOCK spares the eth_getCode bisection (which a pruning node cannot answer)."""
    from web3 import AsyncWeb3

    from healthledger.chain.bills import BillsChain

    class NoNode:
        web3_for_relayer = AsyncWeb3()

        async def block_number(self) -> int:
            raise AssertionError("the node was asked")

    chain = BillsChain(NoNode(), "0x" + "22" * 20, deployed_block=1234)  # type: ignore[arg-type]
    assert asyncio.run(chain.deployed_block()) == 1234
