"""Reading a record back and proving it unchanged: IPFS bytes, MongoDB metadata and the chain agree.

A view runs three passes over the ciphertext, so memory stays flat whatever the file size and no
plaintext byte leaves the service before every check passed:
1. download from IPFS into a spooled temporary file (ciphertext only), checking its MAC on the way;
2. decrypt once to hash the plaintext (after its salt: the commitment SHA-256(salt ‖ plaintext),
   crypto/salt.py; plain SHA-256 for records from before salts), compare with MongoDB's hash and
   the chain's `getRecord` hash;
3. decrypt again while streaming the file to the client.
"""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

import anyio

from ..container import Services
from ..crypto import (
    IntegrityError,
    MacVerifier,
    asha256_stream,
    commitment_stream,
    decrypt_stream,
    derive_account_keypair,
    derive_kek,
    open_data_key,
    open_salt,
    reader_aad,
    salt_aad,
    unwrap_key,
)
from ..db.records import RecordDoc
from ..domain_errors import Conflict, Unavailable, conflict
from ..storage.ipfs import IpfsError, IpfsNotFound
from .signatures import check_key_signature, parse_signature
from .upload import record_aad

CHUNK_SIZE = 1024 * 1024
SPOOL_BYTES = 1024 * 1024

DataKeySource = Callable[[RecordDoc], Awaitable[bytes]]


@dataclass
class IntegrityResult:
    """Outcome of the checks. `None` means "not checked" (e.g. no key given for the plaintext)."""

    database: bool | None = None
    blockchain: bool | None = None
    ipfs: bool | None = None
    plaintext: bool | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def verified(self) -> bool:
        checks = [self.database, self.blockchain, self.ipfs]
        return all(check is True for check in checks) and self.plaintext is not False

    def as_json(self) -> dict[str, Any]:
        return {
            "database": self.database,
            "blockchain": self.blockchain,
            "ipfs": self.ipfs,
            "plaintext_rehashed": self.plaintext is not None,
            "verified": self.verified,
            "problems": self.problems,
        }


def patient_key_source(wallet_signature_hex: str) -> DataKeySource:
    """Data keys for the record's patient, from their key-derivation signature (checked as theirs).

    v2 records: the patient's sealed copy (`sealed_keys[patient]`), opened with the X25519 private
    key the signature derives. v1 records: `wrapped_key`, unwrapped with the KEK the same signature
    derives. Both keys live only inside this call.
    """

    async def source(record: RecordDoc) -> bytes:
        signature = parse_signature(wallet_signature_hex, "X-Wallet-Signature")
        check_key_signature(signature, record.patient)
        return open_patient_copy(record, signature)

    return source


def open_patient_copy(record: RecordDoc, signature: bytes) -> bytes:
    """The record's data key from the patient's own copy; `signature` must already be checked as
    the patient's key-derivation signature. A copy that does not open is a database mismatch."""
    sealed = record.sealed_keys.get(record.patient.lower())
    if sealed:
        return open_reader_copy(sealed, signature, record, record.patient)
    try:
        return unwrap_key(record.wrapped_key, derive_kek(signature, record.patient), record_aad(record.patient, record.content_hash))
    except IntegrityError as exc:
        raise _stored_secret_mismatch("data key") from exc


def open_reader_copy(sealed: str, signature: bytes, record: RecordDoc, reader: str) -> bytes:
    """A data key sealed to `reader` for `record` (crypto/sealed_keys.py), opened with the private
    key `signature` (the reader's checked key-derivation signature) derives, here and only here.
    One that does not open (edited, copied from another record or reader, sealed to another key)
    is a database mismatch, 409 `integrity_mismatch`."""
    private_key, _ = derive_account_keypair(signature)
    try:
        return open_data_key(sealed, private_key, reader_aad(record.patient, record.content_hash, reader))
    except IntegrityError as exc:
        raise _stored_secret_mismatch("data key") from exc


def _stored_secret_mismatch(what: str) -> Conflict:
    """A sealed value in the record document (its data key, its salt) that does not open: its
    authenticated patient or hash was edited, or it was copied from another record."""
    return conflict(
        "integrity_mismatch",
        f"the stored {what} does not authenticate for this record: its metadata was changed",
        mismatched=["database"],
    )


def record_salt(record: RecordDoc, data_key: bytes) -> bytes | None:
    """The record's salt, opened with its data key; None for records from before salts.

    A sealed salt that does not open (edited patient or hash, copied from another record) is a
    database mismatch, like a data key that does not unwrap.
    """
    if record.sealed_salt is None:
        return None
    try:
        return open_salt(record.sealed_salt, data_key, salt_aad(record.patient, record.content_hash))
    except IntegrityError as exc:
        raise _stored_secret_mismatch("salt") from exc


class RecordIntegrity:
    """Runs the checks for one record."""

    def __init__(self, services: Services) -> None:
        self._s = services

    async def chain_hash(self, record: RecordDoc) -> str | None:
        """The content hash the chain holds for this record, or None if it holds none."""
        if record.record_id is None:
            return None
        onchain = await self._s.chain.get_record(record.patient, record.record_id)
        return onchain.content_hash.lower() if onchain else None

    async def check_stored(self, record: RecordDoc) -> IntegrityResult:
        """Checks needing no key: MongoDB vs chain, and IPFS bytes vs the stored ciphertext hash."""
        result = IntegrityResult()
        await self._compare_with_chain(record, record.content_hash.lower(), result)
        try:
            digest = await asha256_stream(self._s.ipfs.cat_stream(record.cid))
            result.ipfs = digest.hexdigest() == record.ciphertext_hash.lower()
            if not result.ipfs:
                result.problems.append("the ciphertext on IPFS differs from the one stored")
        except IpfsNotFound:
            result.ipfs = False
            result.problems.append("the ciphertext is not available on IPFS")
        return result

    async def _compare_with_chain(self, record: RecordDoc, content_hash: str, result: IntegrityResult) -> None:
        if not record.on_chain:
            result.blockchain = False
            result.problems.append(
                f"the record is {record.state}: {record.unanchored_reason}"
                if record.state == "unanchored"
                else "the record is still pending on chain"
            )
            return
        onchain = await self.chain_hash(record)
        result.database = content_hash == record.content_hash.lower()
        result.blockchain = onchain is not None and onchain == content_hash
        if not result.blockchain:
            result.problems.append("the chain holds a different hash for this record")

    async def check_with_key(self, record: RecordDoc, key_source: DataKeySource) -> IntegrityResult:
        """All checks including re-hashing the decrypted plaintext (nothing is returned)."""
        data_key = await key_source(record)
        spool = await self._download(record, data_key)
        try:
            return await self._rehash(record, data_key, spool)
        finally:
            spool.close()

    async def open(self, record: RecordDoc, key_source: DataKeySource) -> AsyncIterator[bytes]:
        """Verify everything, then return an iterator of plaintext chunks (a Conflict before any byte otherwise)."""
        if record.state == "unanchored":
            raise conflict("record_unanchored", f"this record is not on chain: {record.unanchored_reason}")
        if not record.on_chain:
            raise conflict("record_pending", "the record is not confirmed on chain yet; try again shortly")
        data_key = await key_source(record)
        spool = await self._download(record, data_key)
        try:
            result = await self._rehash(record, data_key, spool)
        except BaseException:
            spool.close()
            raise
        if not result.verified:
            spool.close()
            mismatched = [name for name in ("database", "blockchain", "ipfs") if getattr(result, name) is False]
            raise conflict(
                "integrity_mismatch",
                "integrity check failed: " + "; ".join(result.problems),
                mismatched=mismatched,
            )
        return _stream_plaintext(spool, data_key)

    async def _download(self, record: RecordDoc, data_key: bytes) -> IO[bytes]:
        spool: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)
        verifier = MacVerifier(data_key)
        try:
            async for chunk in self._s.ipfs.cat_stream(record.cid):
                verifier.update(chunk)
                spool.write(chunk)
            verifier.verify()
        except IntegrityError as exc:
            spool.close()
            raise conflict(
                "integrity_mismatch",
                "the ciphertext from IPFS failed authentication (it was changed or corrupted)",
                mismatched=["ipfs"],
            ) from exc
        except IpfsNotFound as exc:
            spool.close()
            raise Unavailable("ipfs_unavailable", "the record's ciphertext could not be fetched from IPFS") from exc
        except IpfsError as exc:
            spool.close()
            raise Unavailable("ipfs_unavailable", "IPFS did not answer; try again") from exc
        except BaseException:
            spool.close()
            raise
        spool.seek(0)
        return spool

    async def _rehash(self, record: RecordDoc, data_key: bytes, spool: IO[bytes]) -> IntegrityResult:
        salt = record_salt(record, data_key)
        # CPU-bound over the whole file: off the event loop.
        plaintext_hash = await anyio.to_thread.run_sync(_plaintext_commitment, spool, data_key, salt)
        result = IntegrityResult(ipfs=True, plaintext=True)
        await self._compare_with_chain(record, plaintext_hash, result)
        if result.database is False:
            result.plaintext = False
            result.problems.insert(0, "the decrypted file's hash differs from the one in the database")
        return result


def _plaintext_commitment(spool: IO[bytes], data_key: bytes, salt: bytes | None) -> str:
    """SHA-256(salt ‖ plaintext) of the spooled ciphertext (plain SHA-256 without a salt)."""
    digest = commitment_stream(salt)
    for chunk in _decrypt_chunks(spool, data_key):
        digest.update(chunk)
    return digest.hexdigest()


def _decrypt_chunks(spool: IO[bytes], data_key: bytes) -> Iterator[bytes]:
    """The plaintext of the spooled (already authenticated) ciphertext, CHUNK_SIZE at a time."""
    spool.seek(0)
    return decrypt_stream(iter(lambda: spool.read(CHUNK_SIZE), b""), data_key)


async def _stream_plaintext(spool: IO[bytes], data_key: bytes) -> AsyncIterator[bytes]:
    """Decrypt chunk by chunk in a worker thread (a 1 MiB AES pass is CPU work the event loop must not do)."""
    chunks = _decrypt_chunks(spool, data_key)
    try:
        while (chunk := await anyio.to_thread.run_sync(next, chunks, None)) is not None:
            yield chunk
    finally:
        chunks.close()
        spool.close()
