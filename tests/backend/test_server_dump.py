"""The server-dump test (issue 13): everything the server holds at rest decrypts no record.

Scenario, on its own API (its own database, on the session's Anvil, js-ipfs and SecantusDB, with the
maintenance loop running every half second): a patient uploads three records and shares two with
doctor A; doctor C's short grant on the third expires (Anvil's clock is advanced); one of A's two
records is revoked; doctor B, with a write grant, adds a record for the patient (sealed to the
patient's and B's registered public keys, with no signature of either).

Then everything at rest is taken: every document of every MongoDB collection of the API's
database, the API's settings and the process environment, and the data folders the fixtures
created (SecantusDB's files, the js-ipfs repo). From it every candidate key is made: every 32-byte
value found (hex, base64, base64url), the SHA-256 of every string (secrets such as JWT_SECRET, the
relayer's key), and the KEK and X25519 key pair of every 65-byte value (every stored signature, as
if it were a key signature). Every stored copy of every record's data key (sealed copies, grant
copies, v1 wrapped keys) is tried with every candidate, and every candidate is also tried as the
data key itself on the ciphertext: 0 decrypt.

Positive control: with the readers' own key signatures, the project's crypto opens each record for
exactly the readers allowed (the patient: all four; doctor A: only the live shared one; doctor B:
the record they wrote; C: none), and the API agrees.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import secrets
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from healthledger.crypto import (
    ACCOUNT_KEY_MESSAGE,
    IntegrityError,
    InvalidKeyMaterial,
    MacVerifier,
    decrypt_stream,
    derive_account_keypair,
    derive_kek,
    new_data_key,
    open_sealed,
    reader_aad,
    seal_data_key,
    unwrap_key,
)
from healthledger.crypto.errors import CryptoError
from healthledger.services.upload import record_aad
from pydantic import SecretStr
from pymongo import MongoClient

from .fixtures.wallets import registered_doctor
from .support import access
from .support.crypto import encrypt_bytes
from .support.doctor_records import doctor_upload
from .support.keys import register_key
from .support.records import upload
from .support.responses import expect_ok
from .support.wallet import Wallet

HOUR = 3600
POLL_SECONDS = 30.0
MAX_SCANNED_FILE = 4 * 1024 * 1024

_HEX = re.compile(r"(?:0x)?([0-9a-fA-F]{64,})")
_B64 = re.compile(r"[A-Za-z0-9+/_-]{43,}={0,2}")


@dataclass
class Stored:
    """One record as the scenario made it: its plaintext and who may read it now."""

    content: bytes
    record: dict[str, Any]
    readers: set[str]


@dataclass
class Dump:
    """Everything at rest: documents by collection, strings from settings/env/files."""

    collections: dict[str, list[dict[str, Any]]]
    strings: list[str] = field(default_factory=list)


def _poll(what: str, check: Callable[[], bool]) -> None:
    """Wait (bounded) for the maintenance loop: no fixed sleeps, a clear failure when it never comes."""
    deadline = time.monotonic() + POLL_SECONDS
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


# ------------------------------------------------------------------------------- the doctor-authored record


def add_doctor_authored_record(client: httpx.Client, patient: Wallet, doctor_b: Wallet) -> tuple[dict[str, Any], bytes]:
    """Doctor B (registered key, live write grant) adds one record for the patient: (its JSON, its bytes).

    Its readers are the patient and B, its author: both copies were sealed without any signature.
    """
    content = os.urandom(1200) + b"authored"
    return expect_ok(doctor_upload(client, doctor_b, patient.address, content), 201), content


# ------------------------------------------------------------------------------- taking the dump


def _strings(value: Any) -> Iterator[str]:
    """Every string (and bytes, as hex) inside a document, settings value or list."""
    if isinstance(value, SecretStr):
        yield value.get_secret_value()
    elif isinstance(value, str):
        yield value
    elif isinstance(value, (bytes, bytearray)):
        yield bytes(value).hex()
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from _strings(item)
    elif isinstance(value, (list, tuple, set)):
        for item in value:
            yield from _strings(item)
    elif value is not None:
        yield str(value)


def _file_strings(folders: Iterable[Path]) -> Iterator[str]:
    for folder in folders:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and path.stat().st_size <= MAX_SCANNED_FILE:
                yield path.read_bytes().decode("latin-1")


def take_dump(mongo_uri: str, database: str, settings: Any, folders: Iterable[Path]) -> Dump:
    with MongoClient(mongo_uri, serverSelectionTimeoutMS=5000) as mongo:
        db = mongo[database]
        collections = {name: list(db[name].find()) for name in db.list_collection_names()}
    dump = Dump(collections)
    for documents in collections.values():
        dump.strings.extend(_strings(documents))
    dump.strings.extend(_strings(settings.model_dump()))
    dump.strings.extend(_strings(dict(os.environ)))
    dump.strings.extend(_file_strings(folders))
    return dump


# ------------------------------------------------------------------------------- keys from the dump


@dataclass
class Candidates:
    """What an attacker holding the dump can try: symmetric keys, X25519 private keys."""

    symmetric: set[bytes] = field(default_factory=set)
    signatures: set[bytes] = field(default_factory=set)


def _decoded(text: str) -> Iterator[bytes]:
    for match in _HEX.finditer(text):
        digits = match.group(1)
        raw = bytes.fromhex(digits[: len(digits) // 2 * 2])
        yield raw
    for match in _B64.finditer(text):
        token = match.group(0).rstrip("=")
        for decode in (base64.b64decode, base64.urlsafe_b64decode):
            try:
                yield decode(token + "=" * (-len(token) % 4))
            except ValueError:
                continue


def candidates_from(dump: Dump) -> Candidates:
    found = Candidates()
    for text in set(dump.strings):
        if len(text) < 4096:  # a secret in a setting or field (whole file contents are only scanned)
            found.symmetric.add(hashlib.sha256(text.encode()).digest())
        for raw in _decoded(text):
            if len(raw) == 65:
                found.signatures.add(raw)
            for start in range(0, len(raw) - 31, 32):
                found.symmetric.add(raw[start : start + 32])
            if len(raw) > 32:
                found.symmetric.add(raw[-32:])
    return found


# ------------------------------------------------------------------------------- trying them


def _sealed_box(text: str) -> bytes:
    body = text.split(".", 1)[1]
    return base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))


def copies_of(dump: Dump, cid: str) -> tuple[list[str], list[tuple[str, bytes]]]:
    """(sealed copies, v1 wrapped keys with their associated data) of the record `cid` at rest."""
    sealed: list[str] = []
    wrapped: list[tuple[str, bytes]] = []
    for doc in dump.collections.get("records", []):
        if doc["cid"] != cid:
            continue
        sealed.extend((doc.get("sealed_keys") or {}).values())
        if doc.get("wrapped_key"):
            wrapped.append((doc["wrapped_key"], record_aad(doc["patient"], doc["content_hash"])))
    sealed.extend(doc["sealed_key"] for doc in dump.collections.get("grant_keys", []) if doc["cid"] == cid)
    return sealed, wrapped


def _open_any(sealed: list[str], wrapped: list[tuple[str, bytes]], privates: Iterable[bytes], keks: Iterable[bytes]) -> list[bytes]:
    """Every data key one of these private keys / KEKs opens (sealed boxes are opened without
    their associated-data check: any open box counts)."""
    opened = []
    privates, keks = list(privates), list(keks)
    for text in sealed:
        box = _sealed_box(text)
        for private in privates:
            try:
                opened.append(open_sealed(private, box)[:32])
            except (IntegrityError, InvalidKeyMaterial):
                continue
    for text, aad in wrapped:
        for kek in keks:
            try:
                opened.append(unwrap_key(text, kek, aad))
            except CryptoError:
                continue
    return opened


def _decrypts(ciphertext: bytes, data_key: bytes) -> bytes | None:
    try:
        verifier = MacVerifier(data_key)
        verifier.update(ciphertext)
        verifier.verify()
        return b"".join(decrypt_stream([ciphertext], data_key))
    except CryptoError:
        return None


def _keys_of_signature(signature: bytes, patients: Iterable[str]) -> tuple[list[bytes], list[bytes]]:
    """(X25519 private key, KEKs for each patient) a signature would derive if it were a key signature."""
    try:
        private, _ = derive_account_keypair(signature)
    except CryptoError:
        return [], []
    keks = []
    for patient in patients:
        try:
            keks.append(derive_kek(signature, patient))
        except CryptoError:
            continue
    return [bytes(private)], keks


def attack(dump: Dump, ciphertexts: dict[str, bytes]) -> dict[str, int]:
    """cid -> how many ways the dump alone decrypts it (every candidate against every copy)."""
    found = candidates_from(dump)
    patients = {doc["patient"] for doc in dump.collections.get("records", [])}
    privates = set(found.symmetric)  # any 32 bytes is an X25519 private key
    keks = set(found.symmetric)
    for signature in found.signatures:
        more_private, more_keks = _keys_of_signature(signature, patients)
        privates.update(more_private)
        keks.update(more_keks)
    results = {}
    for cid, ciphertext in ciphertexts.items():
        sealed, wrapped = copies_of(dump, cid)
        data_keys = _open_any(sealed, wrapped, privates, keks)
        data_keys += [key for key in found.symmetric if _decrypts(ciphertext, key) is not None]
        results[cid] = sum(_decrypts(ciphertext, key) is not None for key in data_keys)
    return results


def readers_who_decrypt(dump: Dump, cid: str, ciphertext: bytes, signatures: dict[str, str]) -> set[str]:
    """Positive control: which named readers open the record at rest with their own key signature."""
    sealed, wrapped = copies_of(dump, cid)
    patients = {doc["patient"] for doc in dump.collections.get("records", [])}
    able = set()
    for name, signature in signatures.items():
        privates, keks = _keys_of_signature(bytes.fromhex(signature[2:]), patients)
        if any(_decrypts(ciphertext, key) is not None for key in _open_any(sealed, wrapped, privates, keks)):
            able.add(name)
    return able


# ------------------------------------------------------------------------------- the scenario


def _cat(ipfs_api_url: str, cid: str) -> bytes:
    response = httpx.post(f"{ipfs_api_url}/api/v0/cat", params={"arg": cid, "timeout": "5s"}, timeout=15.0)
    response.raise_for_status()
    return response.content


@pytest.mark.asyncio
async def test_nothing_at_rest_decrypts_a_record(
    other_api_server, registrar_relayer, anvil, mongo_server, ipfs_node
) -> None:
    with other_api_server(reconcile_interval_seconds=0.5) as server, httpx.Client(base_url=server.url, timeout=60.0) as client:
        patient = Wallet.random()
        assert patient.login(client)["role"] == "patient"
        doctor_a, doctor_b, doctor_c = [await registered_doctor(client, registrar_relayer) for _ in range(3)]
        files = [os.urandom(1500) + bytes([index]) for index in range(3)]
        records = [expect_ok(upload(client, patient, content), 201) for content in files]
        ids = [record["record_id"] for record in records]

        # A: records 0 and 1 for 30 days; C: record 2 for an hour. B: a write grant.
        request = expect_ok(access.request_access(client, doctor_a, patient.address), 201)
        expect_ok(access.approve(client, patient, request["id"], doctor_a.address, ids[:2], 30))
        request = expect_ok(access.request_access(client, doctor_c, patient.address), 201)
        expect_ok(access.approve(client, patient, request["id"], doctor_c.address, [ids[2]], 1 / 24))
        register_key(client, doctor_b)
        register_key(client, patient)  # as the app does at sign-in: a doctor can then write for them
        expect_ok(access.write_grant(client, patient, doctor_b.address, 30 * 86400))
        authored = add_doctor_authored_record(client, patient, doctor_b)

        # C's grant expires (chain time); the maintenance loop sweeps its copy. A loses record 1.
        assert access.doctor_view(client, doctor_c, records[2]["cid"]).status_code == 200
        anvil.advance(2 * HOUR)
        with MongoClient(server.settings.mongodb_uri, serverSelectionTimeoutMS=5000) as mongo:
            grant_keys = mongo[server.settings.mongodb_database]["grant_keys"]
            _poll("the expired grant copy to be swept", lambda: grant_keys.count_documents({"doctor": doctor_c.address.lower()}) == 0)
        expect_ok(access.revoke(client, patient, doctor_a.address, [ids[1]]))

        stored = [
            Stored(files[0], records[0], {"patient", "doctor A"}),
            Stored(files[1], records[1], {"patient"}),
            Stored(files[2], records[2], {"patient"}),
            Stored(authored[1], authored[0], {"patient", "doctor B"}),
        ]
        # The API agrees with the copies: A reads only record 0; C reads nothing.
        assert access.doctor_view(client, doctor_a, records[0]["cid"]).content == files[0]
        for reader, record in ((doctor_a, records[1]), (doctor_c, records[2])):
            assert access.doctor_view(client, reader, record["cid"]).status_code == 403
        signatures = {
            "patient": patient.key_signature(client),
            "doctor A": doctor_a.key_signature(client),
            "doctor B": doctor_b.key_signature(client),
            "doctor C": doctor_c.key_signature(client),
        }

        settings = server.settings
        ciphertexts = {item.record["cid"]: _cat(ipfs_node.api_url, item.record["cid"]) for item in stored}

    # Everything at rest, taken after the server stopped (nothing of a request is in memory any more).
    dump = take_dump(
        settings.mongodb_uri, settings.mongodb_database, settings, [mongo_server.storage_dir, ipfs_node.repo_dir]
    )
    assert {"records", "grant_keys", "account_keys"} <= set(dump.collections)
    assert len(dump.collections["grant_keys"]) == 1  # A's live copy of record 0 only
    # The dump holds secrets worth trying (so the attack is not vacuous): the JWT secret and the
    # relayer's key among the candidates, and stored signatures tried as key signatures.
    found = candidates_from(dump)
    assert hashlib.sha256(settings.jwt_secret.get_secret_value().encode()).digest() in found.symmetric
    assert bytes.fromhex(settings.relayer_private_key.get_secret_value().removeprefix("0x")) in found.symmetric
    assert len(found.signatures) >= 3

    # Without any wallet signature: 0 decrypt.
    assert attack(dump, ciphertexts) == {cid: 0 for cid in ciphertexts}

    # Positive control: each reader's own key signature opens exactly what they may read.
    for item in stored:
        cid = item.record["cid"]
        assert readers_who_decrypt(dump, cid, ciphertexts[cid], signatures) == item.readers, cid


def test_the_attack_finds_a_key_left_at_rest() -> None:
    """The attack is not blind: a data key or a key signature lying anywhere in the dump is found."""
    wallet = Wallet.random()
    key_signature = wallet.personal_sign(ACCOUNT_KEY_MESSAGE)
    data_key = new_data_key()
    ciphertext = encrypt_bytes(b"a record", data_key)
    _, public = derive_account_keypair(key_signature)
    patient = wallet.address.lower()
    record = {
        "cid": "bafy-test",
        "patient": patient,
        "content_hash": "0x" + "00" * 32,
        "sealed_keys": {patient: seal_data_key(data_key, public, reader_aad(patient, "0x" + "00" * 32, patient))},
        "wrapped_key": "",
    }
    clean = Dump({"records": [record]}, strings=[secrets.token_hex(32)])
    assert attack(clean, {"bafy-test": ciphertext}) == {"bafy-test": 0}
    # The data key in clear (base64), or the key signature in a field: both found.
    leaked_key = Dump({"records": [record]}, strings=[base64.b64encode(data_key).decode()])
    assert attack(leaked_key, {"bafy-test": ciphertext})["bafy-test"] >= 1
    leaked_signature = Dump({"records": [{**record, "note": key_signature}]})
    leaked_signature.strings.extend(_strings(leaked_signature.collections["records"]))
    assert attack(leaked_signature, {"bafy-test": ciphertext})["bafy-test"] >= 1
