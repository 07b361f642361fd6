"""The encrypted-file container: AES-256-CBC + HMAC-SHA256, encrypt-then-MAC, streamed.

Layout (all lengths in bytes)::

    header (8)   = b"HLE1" | version (1) = 0x01 | suite (1) = 0x01 | reserved (2) = 0x0000
    iv (16)      = random per container
    ciphertext   = AES-256-CBC(enc_key, iv, plaintext || PKCS#7 padding), a positive multiple of 16
    mac (32)     = HMAC-SHA256(mac_key, header || iv || ciphertext)

Keys: every record gets a fresh random 256-bit *data key*. Two independent subkeys are derived from
it with HKDF-SHA256 under distinct info labels (`ENC_KEY_INFO`, `MAC_KEY_INFO`), because using one key
for both the cipher and the MAC is a classic source of cross-protocol weaknesses. Only the data key
is ever stored (wrapped, see `keywrap`).

Why encrypt-then-MAC, checked before decrypting: it is the only generic composition that is
IND-CCA secure, and refusing to decrypt anything unauthenticated rules out padding-oracle attacks.
Hence the split API: `MacVerifier` streams over the container and authenticates it, and only then
`Decryptor` streams plaintext out. `Decryptor` also re-checks the MAC when it finishes, but by then
it has already released plaintext, so that check is a safety net, not a substitute.

Why streaming: medical files (imaging) can be large. Every class here keeps O(chunk) memory: the
only state carried between chunks is under one block of plaintext/ciphertext plus the 32 bytes that
might turn out to be the MAC.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from .errors import InvalidKeyMaterial, IntegrityError, MalformedData, StateError, UnsupportedVersion
from .primitives import (
    AES256_KEY_SIZE,
    BLOCK_SIZE,
    SHA256_SIZE,
    CbcDecrypter,
    CbcEncrypter,
    hkdf_sha256,
    new_hmac_sha256,
    pkcs7_padding,
    pkcs7_unpad_block,
    random_bytes,
)

MAGIC = b"HLE1"
VERSION = 1
SUITE_AES256_CBC_HMAC_SHA256 = 1
"""Algorithm suite 1: HKDF-SHA256 subkeys, AES-256-CBC with PKCS#7, HMAC-SHA256 over header||iv||ct."""

HEADER = MAGIC + bytes([VERSION, SUITE_AES256_CBC_HMAC_SHA256]) + b"\x00\x00"
HEADER_SIZE = len(HEADER)  # 8
IV_SIZE = BLOCK_SIZE  # 16
MAC_SIZE = SHA256_SIZE  # 32
PREFIX_SIZE = HEADER_SIZE + IV_SIZE  # 24: what `Encryptor.header_and_iv` returns
MIN_CONTAINER_SIZE = PREFIX_SIZE + BLOCK_SIZE + MAC_SIZE  # 72: empty plaintext -> one padding block

DATA_KEY_SIZE = AES256_KEY_SIZE
ENC_KEY_INFO = b"healthledger/envelope/v1/aes-256-cbc"
MAC_KEY_INFO = b"healthledger/envelope/v1/hmac-sha256"


# --------------------------------------------------------------------------- keys and sizes


def new_data_key() -> bytes:
    """A fresh random 256-bit data key, one per record (never reuse one across files)."""
    return random_bytes(DATA_KEY_SIZE)


def _subkeys(data_key: bytes) -> tuple[bytes, bytes]:
    """(enc_key, mac_key) derived from the data key with HKDF-SHA256 and distinct labels."""
    if not isinstance(data_key, (bytes, bytearray)) or len(data_key) != DATA_KEY_SIZE:
        raise InvalidKeyMaterial("data key must be exactly 32 bytes")
    enc_key = hkdf_sha256(data_key, AES256_KEY_SIZE, None, ENC_KEY_INFO)
    mac_key = hkdf_sha256(data_key, SHA256_SIZE, None, MAC_KEY_INFO)
    return enc_key, mac_key


def container_size(plaintext_size: int) -> int:
    """Exact container length for a plaintext of `plaintext_size` bytes."""
    if plaintext_size < 0:
        raise ValueError("plaintext size must be >= 0")
    padded = (plaintext_size // BLOCK_SIZE + 1) * BLOCK_SIZE
    return PREFIX_SIZE + padded + MAC_SIZE


def overhead(plaintext_size: int) -> int:
    """Bytes the container adds to a plaintext of this size: always between 57 and 72."""
    return container_size(plaintext_size) - plaintext_size


def plaintext_size_range(container_len: int) -> tuple[int, int]:
    """(min, max) plaintext size a container of `container_len` bytes can hold (padding is 1..16 bytes).

    Raises MalformedData if no valid container has this length.
    """
    body = container_len - PREFIX_SIZE - MAC_SIZE
    if body < BLOCK_SIZE or body % BLOCK_SIZE:
        raise MalformedData("container length is not valid for this format")
    return body - BLOCK_SIZE, body - 1


@dataclass(frozen=True)
class ContainerHeader:
    version: int
    suite: int


def parse_header(data: bytes) -> ContainerHeader:
    """Parse and validate the 8-byte header at the start of `data` (extra bytes are ignored).

    Unknown versions/suites raise UnsupportedVersion rather than being guessed at, so a future format
    can never be misread as this one.
    """
    if len(data) < HEADER_SIZE:
        raise MalformedData("container is truncated (incomplete header)")
    head = bytes(data[:HEADER_SIZE])
    if head[:4] != MAGIC:
        raise MalformedData("not a HealthLedger encrypted container (bad magic)")
    version, suite = head[4], head[5]
    if version != VERSION:
        raise UnsupportedVersion(f"unsupported container version {version}")
    if suite != SUITE_AES256_CBC_HMAC_SHA256:
        raise UnsupportedVersion(f"unsupported container algorithm suite {suite}")
    if head[6:8] != b"\x00\x00":
        raise MalformedData("container header has non-zero reserved bytes")
    return ContainerHeader(version=version, suite=suite)


# --------------------------------------------------------------------------- encryption


class Encryptor:
    """Streaming encryptor for one container.

    Emit `header_and_iv` first, then every `update()` output, then `finalize()` (last ciphertext
    block(s) + MAC). Output lengths: `update` returns whole blocks only; `finalize` returns 16..32
    bytes of ciphertext plus the 32-byte MAC.
    """

    def __init__(self, data_key: bytes) -> None:
        enc_key, mac_key = _subkeys(data_key)
        iv = random_bytes(IV_SIZE)
        self._header_and_iv = HEADER + iv
        self._cbc = CbcEncrypter(enc_key, iv)
        self._mac = new_hmac_sha256(mac_key)
        self._mac.update(self._header_and_iv)
        self._pending = b""
        self._plaintext_size = 0
        self._finished = False

    @property
    def header_and_iv(self) -> bytes:
        """The first 24 bytes of the container (header || IV); already included in the MAC."""
        return self._header_and_iv

    @property
    def plaintext_size(self) -> int:
        """Plaintext bytes consumed so far."""
        return self._plaintext_size

    def update(self, chunk: bytes) -> bytes:
        """Encrypt the next plaintext chunk (any length); returns 0 or more whole ciphertext blocks."""
        if self._finished:
            raise StateError("Encryptor.update() called after finalize()")
        self._plaintext_size += len(chunk)
        data = b"".join((self._pending, chunk)) if self._pending else chunk
        n = len(data) - len(data) % BLOCK_SIZE
        self._pending = bytes(data[n:])
        if n == 0:
            return b""
        out = self._cbc.process(memoryview(data)[:n])
        self._mac.update(out)
        return out

    def finalize(self) -> bytes:
        """Pad and encrypt what is left, and return it followed by the 32-byte MAC."""
        if self._finished:
            raise StateError("Encryptor.finalize() called twice")
        self._finished = True
        last = self._cbc.process(self._pending + pkcs7_padding(len(self._pending)))
        self._pending = b""
        self._mac.update(last)
        return last + self._mac.digest()

    def __repr__(self) -> str:
        return f"Encryptor(plaintext_size={self._plaintext_size}, finished={self._finished})"


# --------------------------------------------------------------------------- reading containers


class _TailHolder:
    """Passes bytes through but always holds back the last `n`, which may turn out to be the MAC."""

    def __init__(self, n: int) -> None:
        self._n = n
        self._held = b""

    def push(self, data: bytes | memoryview) -> bytes | memoryview:
        total = len(self._held) + len(data)
        if total <= self._n:
            self._held += bytes(data)
            return b""
        release = total - self._n
        joined = b"".join((self._held, data))
        self._held = joined[release:]
        return memoryview(joined)[:release]  # a view, not a second copy of a possibly large chunk

    @property
    def held(self) -> bytes:
        return self._held


class _ContainerReader:
    """Shared parsing for MacVerifier and Decryptor: header/IV, MAC accumulation, held-back tag."""

    def __init__(self, data_key: bytes) -> None:
        self._enc_key, mac_key = _subkeys(data_key)
        self._mac = new_hmac_sha256(mac_key)
        self._prefix = b""
        self._header_checked = False
        self._in_body = False
        self._tail = _TailHolder(MAC_SIZE)
        self._body_size = 0
        self._finished = False

    def _on_iv(self, iv: bytes) -> None:
        """Hook: the IV is known (called once)."""

    def _feed(self, chunk: bytes) -> bytes | memoryview:
        """Consume container bytes; return the ciphertext bytes now known not to be part of the MAC."""
        if self._finished:
            raise StateError("update() called after the container was finished")
        view = memoryview(chunk)
        if not self._in_body:
            need = PREFIX_SIZE - len(self._prefix)
            self._prefix += bytes(view[:need])
            view = view[need:]
            if not self._header_checked and len(self._prefix) >= HEADER_SIZE:
                parse_header(self._prefix)  # fail fast on a foreign or future format
                self._header_checked = True
            if len(self._prefix) < PREFIX_SIZE:
                return b""
            self._in_body = True
            self._mac.update(self._prefix)
            self._on_iv(self._prefix[HEADER_SIZE:])
        if not len(view):
            return b""
        released = self._tail.push(view)
        if released:
            self._mac.update(released)
            self._body_size += len(released)
        return released

    def _finish(self, check_mac: bool) -> None:
        """Check the container's structure and (optionally) its MAC, in constant time."""
        if self._finished:
            raise StateError("the container was already finished")
        self._finished = True
        if not self._in_body:
            if len(self._prefix) >= HEADER_SIZE:
                parse_header(self._prefix)
            raise MalformedData("container is truncated (incomplete header or IV)")
        tag = self._tail.held
        if len(tag) < MAC_SIZE:
            raise MalformedData("container is truncated (incomplete MAC)")
        if self._body_size == 0 or self._body_size % BLOCK_SIZE:
            raise MalformedData("container is truncated or extended (ciphertext is not whole blocks)")
        if check_mac and not hmac.compare_digest(self._mac.digest(), tag):
            raise IntegrityError("container failed authentication: it was modified, or the key is wrong")


class MacVerifier(_ContainerReader):
    """Authenticates a whole container, streamed, without decrypting anything.

    Feed every byte with `update()`, then call `verify()`, which raises IntegrityError (or a subclass:
    MalformedData, UnsupportedVersion) unless the container is intact and made with this data key.
    An unknown header is reported as soon as its 8 bytes have arrived.
    """

    def update(self, chunk: bytes) -> None:
        self._feed(chunk)

    def verify(self) -> None:
        self._finish(check_mac=True)

    @property
    def size(self) -> int:
        """Container bytes consumed so far."""
        return len(self._prefix) + self._body_size + len(self._tail.held)

    def __repr__(self) -> str:
        return f"MacVerifier(size={self.size}, finished={self._finished})"


class Decryptor(_ContainerReader):
    """Streams plaintext out of a container that has already passed `MacVerifier`.

    `update()` returns plaintext as soon as it is certain (the last block is held back until
    `finalize()`, which strips and checks the padding). With `verify_mac=True` (default) `finalize()`
    also re-checks the MAC before unpadding, which catches a container that changed between
    verification and decryption, but only after earlier plaintext was already returned.
    """

    def __init__(self, data_key: bytes, *, verify_mac: bool = True) -> None:
        super().__init__(data_key)
        self._verify_mac = verify_mac
        self._cbc: CbcDecrypter | None = None
        self._pending = b""

    def _on_iv(self, iv: bytes) -> None:
        self._cbc = CbcDecrypter(self._enc_key, iv)

    def update(self, chunk: bytes) -> bytes:
        released = self._feed(chunk)
        if not released:
            return b""
        assert self._cbc is not None
        data = b"".join((self._pending, released)) if self._pending else released
        # Hold back the final block until we know it is final: it carries the padding.
        keep = len(data) % BLOCK_SIZE or BLOCK_SIZE
        n = len(data) - keep
        self._pending = bytes(data[n:])  # copy: must not pin the whole chunk's buffer
        return self._cbc.process(memoryview(data)[:n]) if n else b""

    def finalize(self) -> bytes:
        self._finish(check_mac=self._verify_mac)
        assert self._cbc is not None and len(self._pending) == BLOCK_SIZE
        last = self._cbc.process(self._pending)
        self._pending = b""
        return pkcs7_unpad_block(last)

    def __repr__(self) -> str:
        return f"Decryptor(finished={self._finished})"


# --------------------------------------------------------------------------- helpers


def decrypt_stream(chunks: Iterable[bytes], data_key: bytes) -> Iterator[bytes]:
    """Yield plaintext from a container that already passed `MacVerifier`.

    Needs a second pass over the bytes (e.g. from a spooled temp file): authenticating first is
    what keeps unauthenticated plaintext from ever leaving this module.
    """
    dec = Decryptor(data_key)
    for chunk in chunks:
        out = dec.update(chunk)
        if out:
            yield out
    tail = dec.finalize()
    if tail:
        yield tail
