"""Salted content commitments: what goes on chain is SHA-256(salt ‖ file), never the file's own hash.

Why: a plain SHA-256 on a public chain lets anyone confirm a guess (a standard form, a common lab
result) and links patients who hold the same file. A fresh random 32-byte salt per record, chosen
by the uploading client, makes the anchor reveal nothing guessable; whoever holds the salt (the
record's readers, or a patient's verification bundle) can still recompute and check it.

Where the salt lives: sealed under the record's own data key, in the record's MongoDB document
(`sealed_salt`). It uses the project's key wrap (AES-256-GCM, crypto/keywrap.py; a salt is exactly
32 bytes, like a data key) with its own associated data (`healthledger/record-salt/v1|patient|hash`),
so:
- it is never at rest in clear: salt + the on-chain hash would confirm a guessed file again;
- exactly those who can open the file (anyone holding the data key, however that key is wrapped
  for them) can open the salt, and nobody else; no extra key to manage;
- a salt copied onto another record, or a record whose patient or hash was edited, fails to open
  (the data key differs, or the associated data does), which verification reports as a mismatch.
The data key is used directly as the GCM key here while the file envelope derives its own keys from
it with HKDF (crypto/envelope.py), so the two uses never share a key. Keeping the salt out of the
IPFS envelope leaves the container format (and every stored file) unchanged.

Records from before salts have no `sealed_salt`: their commitment is the plain SHA-256 (no prefix).
"""

from __future__ import annotations

import re

from .hashing import Sha256Stream
from .keywrap import unwrap_key, wrap_key

SALT_SIZE = 32
_SALT_RE = re.compile(r"0x[0-9a-fA-F]{64}")


def parse_salt(text: str) -> bytes:
    """The 32 salt bytes of `0x` + 64 hex characters; ValueError otherwise."""
    if not isinstance(text, str) or _SALT_RE.fullmatch(text.strip()) is None:
        raise ValueError("a salt is 0x followed by 64 hex characters (32 bytes)")
    return bytes.fromhex(text.strip()[2:])


def salt_hex(salt: bytes) -> str:
    """The text form of a salt: `0x` + 64 lower-case hex characters."""
    return "0x" + bytes(salt).hex()


def salt_aad(patient: str, content_hash: str) -> bytes:
    """Associated data binding a sealed salt to its patient and commitment."""
    return f"healthledger/record-salt/v1|{patient.lower()}|{content_hash.lower()}".encode()


def seal_salt(salt: bytes, data_key: bytes, aad: bytes) -> str:
    """The salt encrypted and authenticated under the record's data key (text form, for MongoDB)."""
    if len(salt) != SALT_SIZE:
        raise ValueError("a salt is 32 bytes")
    return wrap_key(salt, data_key, aad)


def open_salt(sealed: str, data_key: bytes, aad: bytes) -> bytes:
    """The salt back; IntegrityError when the key or associated data differ, or it was altered."""
    return unwrap_key(sealed, data_key, aad)


def commitment_stream(salt: bytes | None) -> Sha256Stream:
    """A running SHA-256 already fed `salt` (if any): feed the file, read the commitment.

    `.size` counts only the file's bytes, not the salt's.
    """
    return Sha256Stream(prefix=salt or b"")


def content_commitment(salt: bytes | None, data: bytes) -> str:
    """SHA-256(salt ‖ data) as `0x` hex (plain SHA-256 without a salt), in one go."""
    stream = commitment_stream(salt)
    stream.update(data)
    return stream.hexdigest()
