"""`IpfsClient.pinned_among` on a real js-ipfs node: which of some CIDs are pinned, asked about those
CIDs only, although the node refuses a whole `pin/ls` call when one of its CIDs is not pinned."""

from __future__ import annotations

import os

import pytest

from healthledger.storage import ipfs as ipfs_module
from healthledger.storage.ipfs import IpfsClient

# A well-formed CIDv1 (raw, sha2-256) of content no test adds.
NEVER_ADDED = "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy"


async def _add(ipfs: IpfsClient, *, pin: bool) -> str:
    async def chunks():
        yield os.urandom(300)

    return (await ipfs.add_stream(chunks(), pin=pin)).cid


@pytest.mark.asyncio
@pytest.mark.parametrize("per_call", [50, 2], ids=["one-call", "several-calls"])
async def test_only_the_pinned_ones_come_back(ipfs_client: IpfsClient, monkeypatch, per_call: int) -> None:
    monkeypatch.setattr(ipfs_module, "PIN_LS_ARGS", per_call)
    pinned = [await _add(ipfs_client, pin=True) for _ in range(3)]
    unpinned = await _add(ipfs_client, pin=False)
    removed = await _add(ipfs_client, pin=True)
    assert await ipfs_client.unpin(removed)
    asked = [unpinned, pinned[0], NEVER_ADDED, pinned[1], "not-a-cid", removed, pinned[2], pinned[0]]
    try:
        assert await ipfs_client.pinned_among(asked) == set(pinned)
        assert await ipfs_client.pinned_among([]) == set()
        assert await ipfs_client.pinned_among([unpinned, NEVER_ADDED]) == set()
    finally:
        for cid in pinned:
            await ipfs_client.unpin(cid)
