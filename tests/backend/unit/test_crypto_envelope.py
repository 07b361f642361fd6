"""The encrypted-file container: format conformance, round trips, streaming, tamper resistance."""

from __future__ import annotations

import asyncio
import hmac
import os
import tracemalloc
from collections.abc import AsyncIterator, Iterable, Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from healthledger.crypto import (
    HEADER,
    MIN_CONTAINER_SIZE,
    PREFIX_SIZE,
    ContainerHeader,
    Decryptor,
    Encryptor,
    IntegrityError,
    InvalidKeyMaterial,
    MacVerifier,
    MalformedData,
    PaddingError,
    StateError,
    UnsupportedVersion,
    container_size,
    decrypt_stream,
    new_data_key,
    overhead,
    parse_header,
    plaintext_size_range,
)
from healthledger.crypto import envelope
from healthledger.crypto.primitives import CbcEncrypter, new_hmac_sha256, pkcs7_padding
from tests.backend.support.crypto import (
    adecrypt_stream,
    aencrypt_stream,
    averify_stream,
    decrypt_bytes,
    encrypt_bytes,
    encrypt_stream,
    verify_stream,
)

KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))
MiB = 1024 * 1024


def split(data: bytes, cuts: Iterable[int]) -> list[bytes]:
    """Split `data` at the given offsets (clamped, sorted, deduplicated)."""
    points = sorted({min(max(c, 0), len(data)) for c in cuts} | {0, len(data)})
    return [data[a:b] for a, b in zip(points, points[1:])] or [b""]


def chunked(data: bytes, size: int) -> Iterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


def seal(header: bytes, iv: bytes, body: bytes, key: bytes = KEY) -> bytes:
    """Build a container by hand with a *valid* MAC, to test checks that come after authentication."""
    _, mac_key = envelope._subkeys(key)
    mac = new_hmac_sha256(mac_key)
    mac.update(header + iv + body)
    return header + iv + body + mac.digest()


# --------------------------------------------------------------------------- format


def test_header_layout() -> None:
    assert HEADER == b"HLE1\x01\x01\x00\x00"
    assert parse_header(HEADER + b"trailing") == ContainerHeader(version=1, suite=1)


def test_container_matches_spec_built_from_raw_primitives() -> None:
    plaintext = os.urandom(50)
    container = encrypt_bytes(plaintext, KEY)
    enc_key, mac_key = envelope._subkeys(KEY)
    header, iv = container[:8], container[8:24]
    body, tag = container[24:-32], container[-32:]
    assert header == HEADER
    assert body == CbcEncrypter(enc_key, iv).process(plaintext + pkcs7_padding(len(plaintext) % 16))
    mac = new_hmac_sha256(mac_key)
    mac.update(header + iv + body)
    assert hmac.compare_digest(mac.digest(), tag)


def test_iv_and_ciphertext_differ_per_encryption() -> None:
    a, b = encrypt_bytes(b"same", KEY), encrypt_bytes(b"same", KEY)
    assert a[:8] == b[:8] and a[8:24] != b[8:24] and a[24:] != b[24:]


@pytest.mark.parametrize("n", [0, 1, 15, 16, 17, 31, 32, 33, MiB])
def test_sizes_and_overhead(n: int) -> None:
    plaintext = os.urandom(n)
    container = encrypt_bytes(plaintext, KEY)
    assert len(container) == container_size(n)
    assert 57 <= overhead(n) <= 72 and overhead(n) == len(container) - n
    lo, hi = plaintext_size_range(len(container))
    assert lo <= n <= hi and hi - lo == 15
    assert decrypt_bytes(container, KEY) == plaintext


def test_empty_plaintext_container_is_minimal() -> None:
    assert len(encrypt_bytes(b"", KEY)) == MIN_CONTAINER_SIZE == 72


@pytest.mark.parametrize("length", [0, 71, 73, 88 + 1, 24 + 32])
def test_plaintext_size_range_rejects_impossible_lengths(length: int) -> None:
    with pytest.raises(MalformedData):
        plaintext_size_range(length)


def test_container_size_rejects_negative() -> None:
    with pytest.raises(ValueError):
        container_size(-1)


# --------------------------------------------------------------------------- streaming


@pytest.mark.parametrize(
    "n, chunk",
    [(n, c) for n in (0, 1, 15, 16, 17) for c in (1, 7, 16, 4096)] + [(MiB + 5, c) for c in (4096, 65537, MiB)],
)
def test_stream_round_trip_fixed_chunks(n: int, chunk: int) -> None:
    plaintext = os.urandom(n)
    container = b"".join(encrypt_stream(chunked(plaintext, chunk), KEY))
    assert len(container) == container_size(n)
    verify_stream(chunked(container, chunk), KEY)
    assert b"".join(decrypt_stream(chunked(container, chunk), KEY)) == plaintext
    assert decrypt_bytes(container, KEY) == plaintext


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    plaintext=st.binary(max_size=300),
    enc_cuts=st.lists(st.integers(0, 300), max_size=12),
    dec_cuts=st.lists(st.integers(0, 400), max_size=12),
)
def test_stream_round_trip_arbitrary_chunk_boundaries(
    plaintext: bytes, enc_cuts: list[int], dec_cuts: list[int]
) -> None:
    enc = Encryptor(KEY)
    parts = [enc.header_and_iv]
    for piece in split(plaintext, enc_cuts):
        out = enc.update(piece)
        assert len(out) % 16 == 0
        parts.append(out)
    parts.append(enc.finalize())
    container = b"".join(parts)
    assert enc.plaintext_size == len(plaintext)
    assert len(container) == container_size(len(plaintext))

    pieces = split(container, dec_cuts)
    verifier = MacVerifier(KEY)
    for piece in pieces:
        verifier.update(piece)
    assert verifier.size == len(container)
    verifier.verify()

    dec = Decryptor(KEY)
    out = b"".join(dec.update(piece) for piece in pieces) + dec.finalize()
    assert out == plaintext


def test_encryptor_update_emits_whole_blocks_and_finalize_emits_tail_and_mac() -> None:
    enc = Encryptor(KEY)
    assert len(enc.header_and_iv) == PREFIX_SIZE and enc.header_and_iv[:8] == HEADER
    assert enc.update(b"a" * 15) == b""
    assert len(enc.update(b"b" * 2)) == 16
    assert len(enc.finalize()) == 16 + 32


def test_decryptor_holds_back_only_the_last_block() -> None:
    plaintext = os.urandom(100)
    container = encrypt_bytes(plaintext, KEY)
    dec = Decryptor(KEY)
    early = dec.update(container)
    assert early == plaintext[:96]  # 7 blocks of ciphertext; the last (padded) one is held back
    assert dec.finalize() == plaintext[96:]


def test_async_variants() -> None:
    plaintext = os.urandom(70_000)

    async def agen(chunks: Iterable[bytes]) -> AsyncIterator[bytes]:
        for c in chunks:
            yield c

    async def run() -> bytes:
        container = b"".join([c async for c in aencrypt_stream(agen(chunked(plaintext, 9999)), KEY)])
        await averify_stream(agen(chunked(container, 4321)), KEY)
        return b"".join([c async for c in adecrypt_stream(agen(chunked(container, 777)), KEY)])

    assert asyncio.run(run()) == plaintext


# --------------------------------------------------------------------------- tampering


@pytest.fixture(scope="module")
def small_container() -> bytes:
    return encrypt_bytes(b"patient: blood panel", KEY)  # 20 bytes -> 24 + 32 + 32 = 88


def _no_decrypt(monkeypatch: pytest.MonkeyPatch) -> None:
    def forbidden(*_a: object, **_k: object) -> None:
        raise AssertionError("decryption was attempted on an unauthenticated container")

    monkeypatch.setattr(envelope, "CbcDecrypter", forbidden)


def test_every_single_bit_flip_is_rejected_before_decryption(
    small_container: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert len(small_container) == 88
    _no_decrypt(monkeypatch)
    for pos in range(len(small_container)):
        for bit in range(8):
            tampered = bytearray(small_container)
            tampered[pos] ^= 1 << bit
            tampered = bytes(tampered)
            with pytest.raises(IntegrityError):
                verify_stream([tampered], KEY)
            with pytest.raises(IntegrityError):
                decrypt_bytes(tampered, KEY)  # verifies first; the patched CBC would fail the test


@pytest.mark.parametrize("region, start, end", [("header", 0, 8), ("iv", 8, 24), ("ciphertext", 24, 56), ("mac", 56, 88)])
def test_bit_flips_by_region_with_bytewise_streaming(small_container: bytes, region: str, start: int, end: int) -> None:
    for pos in range(start, end):
        tampered = bytearray(small_container)
        tampered[pos] ^= 0x80
        verifier = MacVerifier(KEY)
        with pytest.raises(IntegrityError):
            for i in range(len(tampered)):
                verifier.update(bytes(tampered[i : i + 1]))
            verifier.verify()


def test_header_tampering_is_classified(small_container: bytes) -> None:
    def flipped(pos: int) -> bytes:
        t = bytearray(small_container)
        t[pos] ^= 1
        return bytes(t)

    with pytest.raises(MalformedData, match="magic"):
        verify_stream([flipped(0)], KEY)
    with pytest.raises(UnsupportedVersion, match="version"):
        verify_stream([flipped(4)], KEY)
    with pytest.raises(UnsupportedVersion, match="suite"):
        verify_stream([flipped(5)], KEY)
    with pytest.raises(MalformedData, match="reserved"):
        verify_stream([flipped(7)], KEY)
    body_flip = flipped(40)
    with pytest.raises(IntegrityError) as exc:
        verify_stream([body_flip], KEY)
    assert type(exc.value) is IntegrityError


def test_unknown_version_rejected_even_with_valid_mac() -> None:
    iv = os.urandom(16)
    body = CbcEncrypter(envelope._subkeys(KEY)[0], iv).process(b"\x10" * 16)
    for header in (b"HLE1\x02\x01\x00\x00", b"HLE1\x00\x01\x00\x00", b"HLE1\x01\x02\x00\x00"):
        container = seal(header, iv, body)
        with pytest.raises(UnsupportedVersion):
            parse_header(container)
        verifier = MacVerifier(KEY)
        with pytest.raises(UnsupportedVersion):
            verifier.update(container[:8])  # reported as soon as the header is complete
        with pytest.raises(UnsupportedVersion):
            decrypt_bytes(container, KEY)
        with pytest.raises(UnsupportedVersion):
            Decryptor(KEY).update(container)


def test_every_truncation_is_rejected(small_container: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    _no_decrypt(monkeypatch)
    for length in range(len(small_container)):
        with pytest.raises(IntegrityError):
            verify_stream([small_container[:length]], KEY)
    with pytest.raises(MalformedData):
        verify_stream([], KEY)


@pytest.mark.parametrize("extra", [1, 15, 16, 32, 48])
def test_appended_bytes_are_rejected(small_container: bytes, extra: int) -> None:
    with pytest.raises(IntegrityError):
        verify_stream([small_container + os.urandom(extra)], KEY)


def test_block_removal_and_reordering_rejected() -> None:
    container = encrypt_bytes(os.urandom(64), KEY)
    body = container[24:-32]
    blocks = [body[i : i + 16] for i in range(0, len(body), 16)]
    swapped = container[:24] + b"".join([blocks[1], blocks[0], *blocks[2:]]) + container[-32:]
    dropped = container[:24] + b"".join(blocks[1:]) + container[-32:]
    for bad in (swapped, dropped):
        with pytest.raises(IntegrityError):
            verify_stream([bad], KEY)


def test_wrong_key_rejected(small_container: bytes) -> None:
    with pytest.raises(IntegrityError) as exc:
        decrypt_bytes(small_container, OTHER_KEY)
    assert type(exc.value) is IntegrityError
    with pytest.raises(IntegrityError):
        b"".join(decrypt_stream([small_container], OTHER_KEY))


def test_decryptor_rejects_bad_padding_in_an_authentic_container() -> None:
    enc_key = envelope._subkeys(KEY)[0]
    iv = os.urandom(16)
    for last in (b"A" * 15 + b"\x00", b"A" * 15 + b"\x11", b"A" * 13 + b"\x01\x02\x03"):
        container = seal(HEADER, iv, CbcEncrypter(enc_key, iv).process(b"B" * 16 + last))
        verify_stream([container], KEY)  # the MAC is fine...
        with pytest.raises(PaddingError):  # ...but the plaintext was never padded correctly
            decrypt_bytes(container, KEY)


def test_decryptor_rechecks_mac_at_finalize(small_container: bytes) -> None:
    tampered = bytearray(small_container)
    tampered[30] ^= 1
    dec = Decryptor(KEY)
    dec.update(bytes(tampered))
    with pytest.raises(IntegrityError):
        dec.finalize()
    unchecked = Decryptor(KEY, verify_mac=False)
    unchecked.update(bytes(small_container[:-1]) + bytes([small_container[-1] ^ 1]))
    assert unchecked.finalize() == b"patient: blood panel"[16:]


# --------------------------------------------------------------------------- misuse


def test_bad_data_keys() -> None:
    for bad in (b"", b"k" * 16, b"k" * 33, "k" * 32):
        with pytest.raises(InvalidKeyMaterial):
            Encryptor(bad)  # type: ignore[arg-type]
        with pytest.raises(InvalidKeyMaterial):
            MacVerifier(bad)  # type: ignore[arg-type]


def test_state_errors(small_container: bytes) -> None:
    enc = Encryptor(KEY)
    enc.finalize()
    with pytest.raises(StateError):
        enc.update(b"x")
    with pytest.raises(StateError):
        enc.finalize()
    v = MacVerifier(KEY)
    v.update(small_container)
    v.verify()
    with pytest.raises(StateError):
        v.update(b"x")
    with pytest.raises(StateError):
        v.verify()


def test_new_data_key_is_random_32_bytes() -> None:
    keys = {new_data_key() for _ in range(8)}
    assert len(keys) == 8 and all(len(k) == 32 for k in keys)


def test_repr_reveals_no_key() -> None:
    enc = Encryptor(KEY)
    for obj in (enc, MacVerifier(KEY), Decryptor(KEY)):
        text = repr(obj)
        assert KEY.hex() not in text and "bytes" not in text


# --------------------------------------------------------------------------- memory


def test_memory_stays_bounded_for_large_streams() -> None:
    """64 MiB through encrypt -> verify + decrypt in 1 MiB chunks, with peak traced allocations < 8 MiB."""
    chunk = os.urandom(MiB)
    total_chunks = 64

    def source() -> Iterator[bytes]:
        for _ in range(total_chunks):
            yield chunk

    tracemalloc.start()
    try:
        verifier = MacVerifier(KEY)
        dec = Decryptor(KEY)
        out_len = 0
        for piece in encrypt_stream(source(), KEY):
            verifier.update(piece)
            out_len += len(dec.update(piece))
        verifier.verify()
        out_len += len(dec.finalize())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert out_len == total_chunks * MiB
    print(f"peak traced memory: {peak / MiB:.2f} MiB")
    assert peak < 8 * MiB, f"peak traced memory {peak / MiB:.1f} MiB"
