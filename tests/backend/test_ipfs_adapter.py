"""IpfsClient against a real js-ipfs node (fixtures from tests/backend/fixtures/ipfs.py)."""

from __future__ import annotations

import asyncio
import hashlib
import os
import signal
import sys
import time
import tracemalloc
from collections.abc import AsyncIterator

import httpx
import pytest
from cid import make_cid

from healthledger.devstack.ipfs import JsIpfsNode, JsIpfsNotInstalled
from healthledger.devstack.process import ManagedProcess, ProcessExitedError, free_port, wait_until
from healthledger.storage.ipfs import (
    IpfsClient,
    IpfsError,
    IpfsNotFound,
    IpfsUnavailable,
    validate_cid,
)

from .fixtures.ipfs import TEST_CONTENT_TIMEOUT_SECONDS

MiB = 1024 * 1024


def raw_cid(data: bytes) -> str:
    """What Kubo's `ipfs add --cid-version=1` gives for a file of one chunk (<= 256 KiB): the raw
    block's CIDv1, whose multihash is sha2-256 (code 0x12, 32 bytes) of the data itself."""
    return make_cid(1, "raw", b"\x12\x20" + hashlib.sha256(data).digest()).encode("base32").decode()


ABSENT_CID = raw_cid(b"never added to this node")


async def chunked(data: bytes, chunk_size: int = 64 * 1024) -> AsyncIterator[bytes]:
    for start in range(0, len(data), chunk_size):
        yield data[start : start + chunk_size]


# -- round trips ----------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_version(ipfs_client: IpfsClient) -> None:
    assert (await ipfs_client.version()).count(".") == 2  # js-ipfs says 0.18.1


@pytest.mark.asyncio
@pytest.mark.parametrize("size", [0, 1, 1000, 256 * 1024 + 1, 5 * MiB], ids=["0B", "1B", "1kB", "256KiB+1", "5MiB"])
async def test_add_cat_round_trip(ipfs_client: IpfsClient, size: int) -> None:
    data = os.urandom(size)
    added = await ipfs_client.add_stream(chunked(data))
    assert added.size == size
    assert await ipfs_client.has(added.cid)
    assert await ipfs_client.file_size(added.cid) == size
    received = bytearray()
    async for chunk in ipfs_client.cat_stream(added.cid):
        received += chunk
    assert bytes(received) == data


@pytest.mark.asyncio
async def test_cid_is_base32_v1_kubo_compatible_and_deterministic(ipfs_client: IpfsClient) -> None:
    data = b"HealthLedger test record"
    first = await ipfs_client.add_stream(chunked(data))
    # Same bytes, cut differently by the caller: the node does the chunking, so the same CID.
    second = await ipfs_client.add_stream(chunked(data, chunk_size=3))
    assert first.cid == second.cid == raw_cid(data)
    assert first.cid.startswith("bafkrei")  # base32 multibase prefix "b", CIDv1, raw, sha2-256
    parsed = make_cid(first.cid)
    assert (parsed.version, parsed.codec) == (1, "raw")
    assert (await ipfs_client.add_stream(chunked(b""))).cid == "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"


@pytest.mark.asyncio
async def test_multi_chunk_cid_is_dag_pb_v1_and_deterministic(ipfs_client: IpfsClient) -> None:
    data = os.urandom(600 * 1024)  # three 256 KiB leaves under one dag-pb node
    first = await ipfs_client.add_stream(chunked(data, 100_000))
    second = await ipfs_client.add_stream(chunked(data, 7_777))
    assert first.cid == second.cid
    assert first.cid.startswith("bafybei")
    assert make_cid(first.cid).codec == "dag-pb"


@pytest.mark.asyncio
async def test_add_streams_without_buffering_the_file(ipfs_client: IpfsClient) -> None:
    block = os.urandom(64 * 1024)
    total = 32 * MiB

    async def generated() -> AsyncIterator[bytes]:
        for _ in range(total // len(block)):
            yield block

    tracemalloc.start()
    try:
        added = await ipfs_client.add_stream(generated())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert added.size == total
    assert peak < 8 * MiB, f"add_stream held {peak / MiB:.1f} MiB for a {total // MiB} MiB file"


@pytest.mark.asyncio
async def test_failing_source_propagates_and_node_stays_usable(ipfs_client: IpfsClient) -> None:
    class SourceBroke(Exception):
        pass

    async def broken() -> AsyncIterator[bytes]:
        yield b"x" * 1000
        raise SourceBroke

    with pytest.raises(SourceBroke):
        await ipfs_client.add_stream(broken())
    assert await ipfs_client.version()


# -- missing content, bad input, unreachable node ---------------------------------------------------


@pytest.mark.asyncio
async def test_cat_of_absent_cid_fails_within_the_timeout(ipfs_client: IpfsClient) -> None:
    started = time.monotonic()
    with pytest.raises(IpfsNotFound):
        # wait_for only guards the test against a hang; the client must give up by itself.
        await asyncio.wait_for(ipfs_client.cat(ABSENT_CID), timeout=30)
    assert time.monotonic() - started < TEST_CONTENT_TIMEOUT_SECONDS + 5
    assert not await ipfs_client.has(ABSENT_CID)


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "bad",
    ["", "garbage", "bafkrei", "Qm" + "1" * 44, ABSENT_CID[:-1] + "!", "../../api/v0/shutdown", ABSENT_CID + "?x=1", "b" * 600],
)
async def test_garbage_cid_is_rejected_before_any_request(bad: str) -> None:
    # Nothing listens on this port: a request would raise IpfsUnavailable, not ValueError.
    async with IpfsClient(f"http://127.0.0.1:{free_port()}", timeout_seconds=2) as client:
        with pytest.raises(ValueError):
            validate_cid(bad)
        with pytest.raises(ValueError):
            await client.cat(bad)
        with pytest.raises(ValueError):
            await client.has(bad)
        with pytest.raises(ValueError):
            await client.unpin(bad)


def test_valid_cids_are_accepted() -> None:
    for cid in (ABSENT_CID, "QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH", raw_cid(b"x")):
        assert validate_cid(cid) == cid


@pytest.mark.asyncio
async def test_unpin(ipfs_client: IpfsClient) -> None:
    added = await ipfs_client.add_stream(chunked(os.urandom(2000)))
    assert await ipfs_client.has(added.cid)
    assert await ipfs_client.unpin(added.cid) is True
    assert not await ipfs_client.has(added.cid)
    assert await ipfs_client.unpin(added.cid) is False  # idempotent: a second clean-up is harmless
    assert await ipfs_client.unpin(ABSENT_CID) is False


@pytest.mark.asyncio
async def test_connection_refused_is_unavailable_quickly() -> None:
    async with IpfsClient(f"http://127.0.0.1:{free_port()}", timeout_seconds=5) as client:
        started = time.monotonic()
        with pytest.raises(IpfsUnavailable):
            await client.version()
        with pytest.raises(IpfsUnavailable):
            await client.add_stream(chunked(b"data"))
        with pytest.raises(IpfsUnavailable):
            await client.cat(ABSENT_CID)
        with pytest.raises(IpfsUnavailable):
            await client.unpin(ABSENT_CID)
        assert time.monotonic() - started < 2


# -- behaviour a real node rarely shows (mocked transport) -----------------------------------------


def _mock_client(handler) -> IpfsClient:
    return IpfsClient("http://ipfs.test", timeout_seconds=2, transport=httpx.MockTransport(handler))


@pytest.mark.asyncio
async def test_cat_cut_short_raises_instead_of_returning_a_partial_file() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v0/files/stat":
            return httpx.Response(200, json={"Type": "file", "Size": 10, "Hash": ABSENT_CID})
        # A node that hits its deadline mid-stream reports it only in a trailer: the body just ends.
        return httpx.Response(200, content=b"12345", headers={"Trailer": "X-Stream-Error"})

    async with _mock_client(handler) as client:
        with pytest.raises(IpfsError, match="5 bytes, but the file has 10"):
            await client.cat(ABSENT_CID)


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("status", "message", "error"),
    [
        (500, "block was not found locally (offline): ipld: could not find bafk...", IpfsNotFound),  # Kubo
        (500, "context deadline exceeded", IpfsNotFound),  # Kubo, timeout= reached
        (500, "Failed to cat file: request timed out", IpfsNotFound),  # js-ipfs, timeout= reached
        (500, "some internal failure", IpfsError),
        (404, "404 page not found", IpfsError),  # wrong URL, not missing content
        (502, "Bad Gateway", IpfsUnavailable),  # a proxy in front of the node
    ],
)
async def test_node_errors_are_mapped(status: int, message: str, error: type[IpfsError]) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json={"Message": message, "Code": 0, "Type": "error"})

    async with _mock_client(handler) as client:
        with pytest.raises(error) as caught:
            await client.cat(ABSENT_CID)
    assert type(caught.value) is error


# -- the launcher -----------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_data_survives_a_restart(tmp_path) -> None:
    node = JsIpfsNode(tmp_path / "repo")
    data = os.urandom(300_000)
    with node:
        assert node.initialised_repo
        async with IpfsClient(node.api_url, timeout_seconds=10) as client:
            cid = (await client.add_stream(chunked(data))).cid
    assert not node.is_running()
    with node:  # same repo, fresh ports
        assert not node.initialised_repo
        async with IpfsClient(node.api_url, timeout_seconds=10) as client:
            assert await client.has(cid)
            assert await client.cat(cid) == data


def test_missing_jsipfs_says_how_to_install(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("JSIPFS_BIN", str(tmp_path / "no-such-jsipfs"))
    with pytest.raises(JsIpfsNotInstalled, match="make install"):
        JsIpfsNode(tmp_path / "repo").start()


def test_session_node_is_running_and_its_start_was_measured(ipfs_node: JsIpfsNode) -> None:
    """How fast it starts is a benchmark's question (a loaded machine is slower), not a test's: the
    fixture's own start timeout already fails a node that never comes up."""
    assert ipfs_node.is_running()
    assert ipfs_node.startup_seconds is not None and ipfs_node.startup_seconds > 0


# -- the process helpers the launcher is built on -----------------------------------------------------


def test_managed_process_stop_escalates_to_sigkill(tmp_path) -> None:
    ignores_term = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('up', flush=True); time.sleep(60)"
    with ManagedProcess([sys.executable, "-c", ignores_term], log_path=tmp_path / "p.log") as proc:
        proc.wait_ready(lambda: "up" in proc.log_tail(), timeout=10)
        started = time.monotonic()
        assert proc.stop(timeout=0.5) == -signal.SIGKILL
        assert time.monotonic() - started < 5
    assert not proc.is_running()


def test_managed_process_wait_ready_fails_fast_when_the_process_exits(tmp_path) -> None:
    proc = ManagedProcess([sys.executable, "-c", "print('boom'); raise SystemExit(3)"], log_path=tmp_path / "p.log")
    with proc, pytest.raises(ProcessExitedError, match="code 3(.|\n)*boom"):
        proc.wait_ready(lambda: False, timeout=30)


def test_wait_until_returns_the_value_or_times_out() -> None:
    calls = iter([0, None, "ready"])
    assert wait_until(lambda: next(calls), timeout=5, interval=0.01) == "ready"
    started = time.monotonic()
    with pytest.raises(TimeoutError, match="the impossible"):
        wait_until(lambda: False, timeout=0.2, interval=0.05, description="the impossible")
    assert time.monotonic() - started < 1
