"""Known-answer tests for the primitives, run through the exact wrappers production code uses."""

from __future__ import annotations

import pytest

from healthledger.crypto import envelope
from healthledger.crypto.errors import InvalidKeyMaterial, PaddingError
from healthledger.crypto.primitives import CbcDecrypter, CbcEncrypter, new_hmac_sha256
from healthledger.crypto.primitives import hkdf_sha256, pkcs7_padding, pkcs7_unpad_block

h = bytes.fromhex

# --------------------------------------------------------------------------- RFC 5869 (HKDF-SHA256)

RFC5869 = [
    pytest.param(
        h("0b" * 22),
        h("000102030405060708090a0b0c"),
        h("f0f1f2f3f4f5f6f7f8f9"),
        42,
        "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865",
        id="A.1",
    ),
    pytest.param(
        bytes(range(0x00, 0x50)),
        bytes(range(0x60, 0xB0)),
        bytes(range(0xB0, 0x100)),
        82,
        "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c"
        "59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71"
        "cc30c58179ec3e87c14c01d5c1f3434f1d87",
        id="A.2",
    ),
    pytest.param(
        h("0b" * 22),
        b"",
        b"",
        42,
        "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8",
        id="A.3",
    ),
]


@pytest.mark.parametrize("ikm, salt, info, length, okm", RFC5869)
def test_hkdf_rfc5869(ikm: bytes, salt: bytes, info: bytes, length: int, okm: str) -> None:
    assert hkdf_sha256(ikm, length, salt, info).hex() == okm


def test_hkdf_none_salt_is_zero_salt() -> None:
    # RFC 5869: "if not provided, [salt] is set to a string of HashLen zeros".
    ikm = h("0b" * 22)
    assert hkdf_sha256(ikm, 42, None, b"") == hkdf_sha256(ikm, 42, b"\x00" * 32, b"")


# --------------------------------------------------------------------------- NIST SP 800-38A (CBC-AES256)

SP800_38A_KEY = h("603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4")
SP800_38A_IV = h("000102030405060708090a0b0c0d0e0f")
SP800_38A_PT = h(
    "6bc1bee22e409f96e93d7e117393172a"
    "ae2d8a571e03ac9c9eb76fac45af8e51"
    "30c81c46a35ce411e5fbc1191a0a52ef"
    "f69f2445df4f9b17ad2b417be66c3710"
)
SP800_38A_CT = h(
    "f58c4c04d6e5f1ba779eabfb5f7bfbd6"
    "9cfc4e967edb808d679f777bc6702c7d"
    "39f23369a9d9bacfa530e26304231461"
    "b2eb05e2c39be9fcda6c19078c6a9d1b"
)


def test_cbc_aes256_encrypt_f_2_5() -> None:
    assert CbcEncrypter(SP800_38A_KEY, SP800_38A_IV).process(SP800_38A_PT) == SP800_38A_CT


def test_cbc_aes256_decrypt_f_2_6() -> None:
    assert CbcDecrypter(SP800_38A_KEY, SP800_38A_IV).process(SP800_38A_CT) == SP800_38A_PT


def test_cbc_chains_across_calls_block_by_block() -> None:
    enc = CbcEncrypter(SP800_38A_KEY, SP800_38A_IV)
    dec = CbcDecrypter(SP800_38A_KEY, SP800_38A_IV)
    ct = b"".join(enc.process(SP800_38A_PT[i : i + 16]) for i in range(0, 64, 16))
    pt = b"".join(dec.process(SP800_38A_CT[i : i + 16]) for i in range(0, 64, 16))
    assert (ct, pt) == (SP800_38A_CT, SP800_38A_PT)
    assert enc.process(b"") == b""


def test_cbc_rejects_partial_blocks_and_bad_sizes() -> None:
    with pytest.raises(ValueError):
        CbcEncrypter(SP800_38A_KEY, SP800_38A_IV).process(b"x" * 17)
    with pytest.raises(ValueError):
        CbcDecrypter(SP800_38A_KEY, SP800_38A_IV).process(b"x" * 15)
    with pytest.raises(InvalidKeyMaterial):
        CbcEncrypter(SP800_38A_KEY[:16], SP800_38A_IV)  # AES-128 key: refused, we only do AES-256
    with pytest.raises(InvalidKeyMaterial):
        CbcDecrypter(SP800_38A_KEY, SP800_38A_IV[:12])
    assert SP800_38A_KEY.hex() not in repr(CbcEncrypter(SP800_38A_KEY, SP800_38A_IV))


# --------------------------------------------------------------------------- RFC 4231 (HMAC-SHA256)


@pytest.mark.parametrize(
    "key, data, mac",
    [
        pytest.param(
            h("0b" * 20), b"Hi There", "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7", id="case1"
        ),
        pytest.param(
            b"Jefe",
            b"what do ya want for nothing?",
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
            id="case2",
        ),
    ],
)
def test_hmac_sha256_rfc4231(key: bytes, data: bytes, mac: str) -> None:
    one_shot = new_hmac_sha256(key)
    one_shot.update(data)
    split = new_hmac_sha256(key)
    split.update(data[:3])
    split.update(data[3:])
    assert one_shot.hexdigest() == split.hexdigest() == mac


# --------------------------------------------------------------------------- PKCS#7


@pytest.mark.parametrize("tail_len", range(16))
def test_pkcs7_pad_unpad(tail_len: int) -> None:
    tail = bytes(range(100, 100 + tail_len))
    pad = pkcs7_padding(tail_len)
    assert len(pad) == 16 - tail_len and set(pad) == {16 - tail_len}
    assert pkcs7_unpad_block(tail + pad) == tail


@pytest.mark.parametrize(
    "block",
    [
        b"A" * 15 + b"\x00",  # zero pad length
        b"A" * 15 + b"\x11",  # 17 > block size
        b"A" * 14 + b"\x03\x02",  # inconsistent pad bytes
        b"A" * 13 + b"\x01\x03\x03",
        b"\x10" * 15 + b"\x0f",
        b"A" * 16,
        b"\x10" * 15,  # not a whole block
    ],
)
def test_pkcs7_rejects_bad_padding(block: bytes) -> None:
    with pytest.raises(PaddingError):
        pkcs7_unpad_block(block)


def test_pkcs7_full_padding_block() -> None:
    assert pkcs7_unpad_block(b"\x10" * 16) == b""


# --------------------------------------------------------------------------- envelope key schedule


def test_envelope_subkeys_are_hkdf_of_data_key_with_distinct_labels() -> None:
    data_key = bytes(range(32))
    enc_key, mac_key = envelope._subkeys(data_key)
    assert enc_key == hkdf_sha256(data_key, 32, b"", b"healthledger/envelope/v1/aes-256-cbc")
    assert mac_key == hkdf_sha256(data_key, 32, b"", b"healthledger/envelope/v1/hmac-sha256")
    assert len({enc_key, mac_key, data_key}) == 3
