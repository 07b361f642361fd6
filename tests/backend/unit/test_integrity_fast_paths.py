"""The hand-written fast paths behind the 10,000-record integrity report agree with the libraries
they stand in for (eth_abi for `getRecord` answers, py-cid for CID normalisation), and concurrent
JSON-RPC batches keep the request order."""

from __future__ import annotations

import asyncio
import hashlib
import os
from typing import Any

import pytest
from cid import CIDv1, make_cid
from eth_abi import decode, encode
from eth_utils import to_checksum_address

from healthledger.chain.client import _decode_get_record
from healthledger.chain.rpc import ChainError, batch_request
from healthledger.storage.ipfs import to_base32_v1

TYPES = ("uint8", "bytes32", "uint64", "address")


def _answer(kind: int, digest: bytes, timestamp: int, author: str) -> str:
    return "0x" + encode(TYPES, (kind, digest, timestamp, author)).hex()


@pytest.mark.parametrize("kind,timestamp", [(0, 0), (2, 1_700_000_000), (255, 2**64 - 1)])
def test_get_record_fast_decode_matches_eth_abi(kind: int, timestamp: int) -> None:
    author = "0x" + os.urandom(20).hex()
    answer = _answer(kind, os.urandom(32), timestamp, author)
    record = _decode_get_record(7, answer)
    want = decode(TYPES, bytes.fromhex(answer[2:]))
    assert (record.record_id, record.kind, record.timestamp) == (7, want[0], want[2])
    assert record.content_hash == "0x" + want[1].hex()
    assert record.author == to_checksum_address(want[3])
    assert _decode_get_record(7, answer.upper().replace("0X", "0x")) == record


def test_get_record_with_dirty_padding_is_left_to_eth_abi() -> None:
    answer = _answer(1, b"\x01" * 32, 5, "0x" + "22" * 20)
    dirty = answer[:2] + "1" + answer[3:]  # a non-zero byte in the uint8's padding
    with pytest.raises(Exception):  # eth_abi's strict decoding refuses it, as before
        _decode_get_record(0, dirty)
    with pytest.raises(Exception):
        _decode_get_record(0, answer[:-2])  # short answer


def test_cid_fast_normalisation_matches_py_cid() -> None:
    for i in range(200):
        multihash = bytes([0x12, 0x20]) + hashlib.sha256(os.urandom(8)).digest()
        cid = CIDv1("raw" if i % 2 else "dag-pb", multihash)
        want = make_cid(cid.encode("base32").decode()).encode("base32").decode()
        assert to_base32_v1(cid.encode("base58btc").decode()) == want
        assert to_base32_v1(cid.encode("base32").decode()) == want
    v0 = "QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG"
    assert to_base32_v1(v0) == v0
    with pytest.raises(Exception):
        to_base32_v1("z0OIl")  # not base58


class _FakeProvider:
    """Answers each batch after a delay that shrinks with its position, so later batches finish first."""

    def __init__(self, fail_at: int | None = None) -> None:
        self.in_flight = 0
        self.most_in_flight = 0
        self.fail_at = fail_at

    async def make_batch_request(self, chunk: list[tuple[str, list[Any]]]) -> Any:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            first = chunk[0][1][0]
            await asyncio.sleep(0.001 * (20 - first // 10))
            if self.fail_at is not None and first == self.fail_at:
                return {"jsonrpc": "2.0", "id": 0, "error": {"code": -32000, "message": "boom"}}
            return [{"jsonrpc": "2.0", "id": n, "result": params[0]} for n, (_, params) in enumerate(chunk)]
        finally:
            self.in_flight -= 1


class _W3:
    def __init__(self, provider: _FakeProvider) -> None:
        self.provider = provider


def test_concurrent_batches_keep_order_and_bound() -> None:
    provider = _FakeProvider()
    calls = [("eth_call", [i]) for i in range(195)]
    results = asyncio.run(batch_request(_W3(provider), calls, "test", 10, concurrency=4))  # type: ignore[arg-type]
    assert results == list(range(195))
    assert provider.most_in_flight == 4
    serial = _FakeProvider()
    assert asyncio.run(batch_request(_W3(serial), calls, "test", 10)) == list(range(195))  # type: ignore[arg-type]
    assert serial.most_in_flight == 1


def test_a_failed_batch_fails_the_whole_read() -> None:
    with pytest.raises(ChainError, match="boom"):
        asyncio.run(batch_request(_W3(_FakeProvider(fail_at=50)), [("eth_call", [i]) for i in range(100)], "test", 10, concurrency=3))  # type: ignore[arg-type]
