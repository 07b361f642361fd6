"""Wrapping data keys under a KEK with AES-256-GCM bound to associated data."""

from __future__ import annotations

import base64

import pytest
from Crypto.Cipher import AES

from healthledger.crypto import (
    IntegrityError,
    InvalidKeyMaterial,
    MalformedData,
    UnsupportedVersion,
    new_data_key,
    unwrap_key,
    wrap_key,
)

KEK = bytes(range(100, 132))
DATA_KEY = bytes(range(32))
AAD = b"healthledger/record-key/v1|0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266|0x" + b"ab" * 32
B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def test_round_trip_and_format() -> None:
    wrapped = wrap_key(DATA_KEY, KEK, AAD)
    assert isinstance(wrapped, str) and wrapped.startswith("hlkw1.") and len(wrapped) == 86
    assert wrapped.isascii()
    assert unwrap_key(wrapped, KEK, AAD) == DATA_KEY
    assert unwrap_key(wrapped.encode(), KEK, AAD) == DATA_KEY
    assert DATA_KEY.hex() not in wrapped and KEK.hex() not in wrapped


def test_format_matches_spec() -> None:
    wrapped = wrap_key(DATA_KEY, KEK, AAD)
    raw = base64.urlsafe_b64decode(wrapped[6:])
    nonce, ct, tag = raw[:12], raw[12:44], raw[44:]
    cipher = AES.new(KEK, AES.MODE_GCM, nonce=nonce, mac_len=16)
    cipher.update(b"hlkw1\x00" + AAD)
    assert cipher.decrypt_and_verify(ct, tag) == DATA_KEY


def test_nonce_is_fresh_each_time() -> None:
    assert len({wrap_key(DATA_KEY, KEK, AAD) for _ in range(10)}) == 10


def test_random_keys_round_trip() -> None:
    for _ in range(20):
        dk, kek = new_data_key(), new_data_key()
        assert unwrap_key(wrap_key(dk, kek, b""), kek, b"") == dk


def test_wrong_kek_rejected() -> None:
    wrapped = wrap_key(DATA_KEY, KEK, AAD)
    with pytest.raises(IntegrityError) as exc:
        unwrap_key(wrapped, bytes(32), AAD)
    assert type(exc.value) is IntegrityError
    message = str(exc.value)
    for secret in (KEK.hex(), DATA_KEY.hex(), wrapped[6:]):
        assert secret not in message


@pytest.mark.parametrize("aad", [b"", AAD[:-1], AAD + b"x", AAD.replace(b"ab", b"cd", 1), AAD.upper()])
def test_wrong_aad_rejected(aad: bytes) -> None:
    with pytest.raises(IntegrityError):
        unwrap_key(wrap_key(DATA_KEY, KEK, AAD), KEK, aad)


def test_every_character_change_rejected() -> None:
    wrapped = wrap_key(DATA_KEY, KEK, AAD)
    body = wrapped[6:]
    for i, ch in enumerate(body):
        replacement = B64[(B64.index(ch) + 1) % 64]
        tampered = wrapped[:6] + body[:i] + replacement + body[i + 1 :]
        with pytest.raises(IntegrityError):
            unwrap_key(tampered, KEK, AAD)


@pytest.mark.parametrize(
    "mangle, error",
    [
        (lambda w: w.replace("hlkw1.", "hlkw2."), UnsupportedVersion),
        (lambda w: w.replace("hlkw1.", "hlkw0."), UnsupportedVersion),
        (lambda w: w[:-1], MalformedData),
        (lambda w: w + "A", MalformedData),
        (lambda w: w[:-2] + "==", MalformedData),
        (lambda w: w.replace("hlkw1.", ""), MalformedData),
        (lambda w: w.replace("hlkw1.", "HLKW1."), MalformedData),
        (lambda w: w[:10] + "+" + w[11:], MalformedData),  # standard (not url-safe) base64
        (lambda w: w + "\n", MalformedData),
        (lambda w: "", MalformedData),
        (lambda w: w.encode() + b"\xff", MalformedData),
        (lambda w: 12345, MalformedData),
    ],
)
def test_malformed_wrapped_keys(mangle, error) -> None:  # type: ignore[no-untyped-def]
    wrapped = wrap_key(DATA_KEY, KEK, AAD)
    with pytest.raises(error):
        unwrap_key(mangle(wrapped), KEK, AAD)


def test_malformed_is_an_integrity_error() -> None:
    # The integrity service maps IntegrityError to "metadata changed"; a mangled string is exactly that.
    assert issubclass(MalformedData, IntegrityError) and issubclass(UnsupportedVersion, IntegrityError)


@pytest.mark.parametrize("bad", [b"", b"k" * 16, b"k" * 31, b"k" * 33, "k" * 32])
def test_bad_key_lengths(bad: bytes) -> None:
    with pytest.raises(InvalidKeyMaterial):
        wrap_key(bad, KEK, AAD)
    with pytest.raises(InvalidKeyMaterial):
        wrap_key(DATA_KEY, bad, AAD)
    with pytest.raises(InvalidKeyMaterial):
        unwrap_key(wrap_key(DATA_KEY, KEK, AAD), bad, AAD)


def test_aad_must_be_bytes() -> None:
    with pytest.raises(TypeError):
        wrap_key(DATA_KEY, KEK, AAD.decode())  # type: ignore[arg-type]
