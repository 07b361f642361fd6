"""Streaming SHA-256 in 0x-hex and bytes32 form."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator

import pytest

from healthledger.crypto import (
    Sha256Stream,
    asha256_stream,
    sha256_stream,
)
from tests.backend.support.crypto import (
    bytes32_to_hex,
    hex_to_bytes32,
    sha256_bytes32,
    sha256_hex,
)

EMPTY = "0xe3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
ABC = "0xba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"  # FIPS 180-2 example


def test_known_answers() -> None:
    assert sha256_hex(b"") == EMPTY
    assert sha256_hex(b"abc") == ABC
    assert sha256_bytes32(b"abc") == bytes.fromhex(ABC[2:])
    assert Sha256Stream().hexdigest() == EMPTY


def test_streaming_matches_one_shot() -> None:
    data = os.urandom(100_003)
    h = sha256_stream(data[i : i + 4097] for i in range(0, len(data), 4097))
    assert h.hexdigest() == sha256_hex(data)
    assert h.digest() == sha256_bytes32(data)
    assert h.size == len(data)


def test_async_stream() -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for piece in (b"a", b"b", b"c"):
            yield piece

    assert asyncio.run(asha256_stream(chunks())).hexdigest() == ABC


def test_hex_bytes32_conversions() -> None:
    raw = sha256_bytes32(b"abc")
    assert bytes32_to_hex(raw) == ABC
    assert hex_to_bytes32(ABC) == raw
    assert hex_to_bytes32(ABC.upper().replace("0X", "0x")) == raw


@pytest.mark.parametrize("bad", [ABC[2:], ABC[:-1], ABC + "0", "0x" + "z" * 64, "", b"\x00" * 32])
def test_hex_to_bytes32_rejects(bad: str) -> None:
    with pytest.raises(ValueError):
        hex_to_bytes32(bad)


@pytest.mark.parametrize("bad", [b"", b"\x00" * 31, b"\x00" * 33])
def test_bytes32_to_hex_rejects(bad: bytes) -> None:
    with pytest.raises(ValueError):
        bytes32_to_hex(bad)
