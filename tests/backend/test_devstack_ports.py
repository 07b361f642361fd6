"""Local services started on ports someone else takes first: they move to new ports instead of failing.

A test stack (`make test`'s browser suites run two side by side) chooses ports for SecantusDB and
js-ipfs itself, then starts them seconds later; a port can be taken in between. These tests take it
on purpose, with a socket bound but not listening (as a client connection or a TIME_WAIT socket
holds a port), and start the real servers.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from pymongo import MongoClient

from healthledger.devstack import ipfs, mongo, process
from healthledger.devstack.ipfs import JsIpfsNode, api_answers
from healthledger.devstack.mongo import SecantusServer
from healthledger.devstack.ports import port_free
from healthledger.devstack.process import free_port


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port held by a bound socket that never listens: nothing answers there, and no server can bind it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", free_port()))
        yield sock.getsockname()[1]


def _first_ephemeral_port() -> int:
    return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])


def test_free_ports_come_from_below_the_ephemeral_range_and_are_free() -> None:
    """Outgoing connections take their local ports from the ephemeral range: a port from there can be
    gone before the server binds it (the old free_port asked the OS, which answers from that range)."""
    first_ephemeral = _first_ephemeral_port()
    ports = {free_port() for _ in range(50)}
    assert all(process.LOWEST_FREE_PORT <= port < first_ephemeral for port in ports), sorted(ports)
    assert all(port_free("127.0.0.1", port) for port in ports)
    assert len(ports) > 40  # chosen at random, so two stacks starting together rarely pick the same


def test_free_port_skips_a_taken_port(monkeypatch: pytest.MonkeyPatch, taken_port: int) -> None:
    choices = iter([taken_port, taken_port + 1 if taken_port + 1 < _first_ephemeral_port() else taken_port - 1])
    monkeypatch.setattr(process.random, "randrange", lambda low, high: next(choices))
    assert free_port() != taken_port


def test_secantusdb_taken_port_moves_to_a_new_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, taken_port: int
) -> None:
    """Its port is taken between the check and the server's bind: it starts again elsewhere (before,
    `start()` raised ProcessExitedError and the whole stack failed)."""
    server = SecantusServer(tmp_path / "mongo", log_path=tmp_path / "mongo.log")
    server.port = taken_port
    # The race: the check before the start saw the port free (raising=False: the old code had no check).
    monkeypatch.setattr(mongo, "port_free", lambda host, port: True, raising=False)
    try:
        server.start()
        assert server.port != taken_port
        with MongoClient(server.uri, serverSelectionTimeoutMS=5000) as client:
            assert client.admin.command("ping")["ok"] == 1
        assert "address already in use" in (tmp_path / "mongo.log").read_text().lower()  # it did meet the conflict
    finally:
        server.stop()


def test_secantusdb_on_a_given_taken_port_fails_and_says_why(tmp_path: Path, taken_port: int) -> None:
    """A port the caller chose is never swapped for another: the error names the conflict."""
    server = SecantusServer(tmp_path / "mongo", port=taken_port, log_path=tmp_path / "mongo.log")
    try:
        with pytest.raises(process.PortConflictError, match="could not listen on its port"):
            server.start()
    finally:
        server.stop()


def test_jsipfs_taken_port_moves_to_new_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, taken_port: int
) -> None:
    """js-ipfs logs EADDRINUSE and hangs rather than exiting; before, start() waited out its whole
    timeout (60 s by default) and failed. Now the log is noticed and the daemon starts on new ports."""
    choices = iter([taken_port])
    monkeypatch.setattr(ipfs, "free_port", lambda host="127.0.0.1": next(choices, None) or free_port(host))
    node = JsIpfsNode(tmp_path / "ipfs", log_path=tmp_path / "ipfs.log", start_timeout=45.0)
    try:
        node.start()
        assert taken_port not in (node.api_port, node.gateway_port, node.rpc_port)
        assert api_answers(node.api_url)
        assert "EADDRINUSE" in (tmp_path / "ipfs.log").read_text()  # the first daemon met the conflict
    finally:
        node.stop()
