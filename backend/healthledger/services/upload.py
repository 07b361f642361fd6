"""The upload pipeline: check everything, then encrypt, pin, anchor on chain, and only then confirm.

Order matters. Every check that can fail because of the client (size, signatures, nonce, a
deadline that leaves time to land) runs before anything is written or paid for, so bad input
leaves no trace and costs the relayer nothing. After that the ciphertext is pinned and a `pending`
document is stored, and each transaction hash is saved before the transaction is broadcast, so a
crash at any later point leaves a record the reconciler can finish or remove, never one that looks
valid and never an anchored hash without its document. A mined record is `anchored`, and
`confirmed` once CONFIRMATIONS blocks deep (services/anchoring.py).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

import anyio

from ..chain.client import CHAIN_TRANSPORT_ERRORS
from ..chain.relayer import (
    RelayerError,
    RelayerUnavailable,
    TransactionReverted,
    TransactionTimeout,
)
from ..container import Services
from ..crypto import (
    Encryptor,
    Sha256Stream,
    commitment_stream,
    derive_account_keypair,
    new_data_key,
    parse_salt,
    reader_aad,
    salt_aad,
    seal_data_key,
    seal_salt,
)
from ..db.records import RecordDoc, RelayAuthorization
from ..domain_errors import DomainError, TooLarge, Unavailable, bad_request, conflict
from ..record_kinds import RECORD_KINDS
from ..storage.ipfs import IpfsError
from .anchoring import RecordAnchoring, add_record_call
from .deadlines import require_landable
from .relay import check_signer_nonce, relayer_unavailable, revert_to_domain_error
from .relay_queue import NothingSent
from .signatures import check_key_signature, parse_signature

log = logging.getLogger(__name__)

CHUNK_SIZE = 1024 * 1024


class AsyncReadable(Protocol):
    async def read(self, size: int = -1) -> bytes: ...

    async def seek(self, offset: int) -> None: ...


class SignedUpload(Protocol):
    """What the pipeline's shared steps read of an upload, the patient's (UploadRequest) or a
    doctor's (services/doctor_upload.py): whose vault, the signature's nonce and deadline, the client."""

    @property
    def patient(self) -> str: ...

    @property
    def nonce(self) -> int: ...

    @property
    def deadline(self) -> int: ...

    @property
    def client_ip(self) -> str | None: ...


@dataclass(frozen=True)
class UploadRequest:
    """Everything a patient sends with a file."""

    patient: str
    record_type: str
    name: str
    content_type: str
    file: AsyncReadable
    wallet_signature: str
    record_signature: str
    nonce: int
    deadline: int
    # `0x` + 64 hex: the client's fresh salt; `contentHash` (what the record signature signs and the
    # chain stores) is SHA-256(salt ‖ file). See crypto/salt.py.
    salt: str = ""
    client_ip: str | None = None
    # Optional `0x` + 64 hex: the web app's duplicate tag of the file (see `request_duplicate_tag`).
    duplicate_tag: str | None = None


@dataclass(frozen=True)
class StoredFile:
    """What the checks learnt of the file: its salt, its commitment SHA-256(salt ‖ file) and its size."""

    salt: bytes
    content_hash: str
    size: int


@dataclass(frozen=True)
class UploadOutcome:
    record: RecordDoc
    mined: bool
    # The client sent this exact upload before (its answer was lost): this is that upload's record.
    replayed: bool = False


def record_aad(patient: str, content_hash: str) -> bytes:
    """Associated data binding a wrapped data key to its patient and file."""
    return f"healthledger/record-key/v1|{patient.lower()}|{content_hash.lower()}".encode()


def record_kind(record_type: str) -> int:
    """The chain's RecordKind number of `record_type`, or 400 `invalid_record_type`."""
    kind = RECORD_KINDS.get(record_type)
    if kind is None:
        raise bad_request(
            "invalid_record_type",
            f"recordType must be one of {', '.join(RECORD_KINDS)}; got {record_type!r}",
        )
    return kind


def request_salt(text: str) -> bytes:
    """The upload's salt, or 400 `invalid_salt`."""
    try:
        return parse_salt(text)
    except ValueError as exc:
        raise bad_request(
            "invalid_salt",
            "salt must be 0x followed by 64 hex characters: the fresh random 32 bytes your contentHash "
            "SHA-256(salt ‖ file) was computed with",
        ) from exc


def request_duplicate_tag(text: str | None) -> str | None:
    """The upload's optional duplicate tag (lower-case), or 400 `invalid_duplicate_tag`.

    The web app computes HMAC-SHA256(SHA-256("healthledger/duplicate-tag/v1" ‖ key signature), file)
    so it can warn about a file uploaded before (each upload's salted hash differs). The key comes
    from the patient's key signature, which is never stored: the tag is opaque here and reveals
    nothing about the file to whoever lacks that signature. It is stored as given, not checked.
    """
    if text is None or text == "":
        return None
    tag = text.strip()
    if len(tag) != 66 or not tag.startswith("0x") or any(c not in "0123456789abcdefABCDEF" for c in tag[2:]):
        raise bad_request(
            "invalid_duplicate_tag",
            "duplicateTag must be 0x followed by 64 hex characters (HMAC-SHA256 of the file), or left out",
        )
    return tag.lower()


async def _hash_and_measure(file: AsyncReadable, limit: int, salt: bytes) -> tuple[str, int]:
    """The commitment SHA-256(salt ‖ file) and the file's size, streaming (the salt is not counted)."""
    await file.seek(0)
    digest = commitment_stream(salt)
    while chunk := await file.read(CHUNK_SIZE):
        if digest.size + len(chunk) > limit:
            raise TooLarge("file_too_large", f"file exceeds the {limit} byte limit")
        digest.update(chunk)
    if digest.size == 0:
        raise bad_request("empty_file", "the file is empty")
    return digest.hexdigest(), digest.size


async def _ciphertext(file: AsyncReadable, data_key: bytes, digest: Sha256Stream) -> AsyncIterator[bytes]:
    """Encrypt the file chunk by chunk (constant memory), hashing the ciphertext on the way."""
    await file.seek(0)
    encryptor = Encryptor(data_key)
    head = encryptor.header_and_iv
    digest.update(head)
    yield head

    def encrypt(chunk: bytes) -> bytes:
        out = encryptor.update(chunk)
        digest.update(out)
        return out

    while chunk := await file.read(CHUNK_SIZE):
        # In a worker thread: the event loop keeps serving (and sending to IPFS) meanwhile.
        out = await anyio.to_thread.run_sync(encrypt, chunk)
        if out:
            yield out
    tail = encryptor.finalize()
    digest.update(tail)
    yield tail


class UploadPipeline:
    """Runs one upload end to end."""

    def __init__(self, services: Services) -> None:
        self._s = services

    async def run(self, request: UploadRequest) -> UploadOutcome:
        settings = self._s.settings
        kind = record_kind(request.record_type)
        salt = request_salt(request.salt)
        duplicate_tag = request_duplicate_tag(request.duplicate_tag)
        await require_landable(self._s.chain, request.deadline, settings.deadline_margin_seconds, "record signature")
        wallet_signature = parse_signature(request.wallet_signature, "walletSignature")
        record_signature = parse_signature(request.record_signature, "recordSignature")
        check_key_signature(wallet_signature, request.patient)
        await self._check_rate_limits(request)

        content_hash, size = await _hash_and_measure(request.file, settings.max_upload_bytes, salt)
        replayed = await self._earlier_attempt(request, content_hash, record_signature)
        if replayed is not None:
            return replayed
        await self._check_record_signature(request, kind, content_hash, record_signature)

        # Keys v2: sealed to the public key the patient's key signature derives (the private half is discarded).
        _, public_key = derive_account_keypair(wallet_signature)
        stored = StoredFile(salt=salt, content_hash=content_hash, size=size)
        return await self._store_and_anchor(
            request, kind, record_signature, stored, readers={request.patient: bytes(public_key)},
            duplicate_tag=duplicate_tag,
        )

    async def _store_and_anchor(
        self,
        request: SignedUpload,
        kind: int,
        record_signature: bytes,
        stored: "StoredFile",
        readers: dict[str, bytes],
        author: str | None = None,
        duplicate_tag: str | None = None,
    ) -> UploadOutcome:
        """Encrypt under a fresh data key sealed to each reader's public key, pin, store the pending
        document, then anchor: the steps after every check, shared by patients' and doctors' uploads.

        `readers` maps each permanent reader (the patient; the author too when a doctor writes) to
        the public key their copy is sealed to. The data key exists only for this call.
        """
        patient = request.patient
        content_hash = stored.content_hash
        data_key = new_data_key()
        sealed_keys = {
            reader.lower(): seal_data_key(data_key, key, reader_aad(patient, content_hash, reader))
            for reader, key in readers.items()
        }
        sealed_salt = seal_salt(stored.salt, data_key, salt_aad(patient, content_hash))
        ciphertext_digest = Sha256Stream()
        try:
            # Unpinned until the document names it (below): a lost answer cannot leave a pin nobody knows.
            added = await self._s.ipfs.add_stream(_ciphertext(request.file, data_key, ciphertext_digest), pin=False)
        except IpfsError as exc:
            log.warning("ipfs add failed", extra={"error_type": type(exc).__name__})
            raise Unavailable("ipfs_unavailable", "IPFS did not store the file; nothing was saved: try again") from exc
        finally:
            del data_key
        record = RecordDoc(
            patient=patient.lower(),
            record_type=request.record_type,
            name=request.name,
            content_type=request.content_type,
            cid=added.cid,
            content_hash=content_hash,
            ciphertext_hash=ciphertext_digest.hexdigest(),
            size=stored.size,
            ciphertext_size=added.size,
            wrapped_key="",
            sealed_keys=sealed_keys,
            author=author.lower() if author else None,
            duplicate_tag=duplicate_tag,
            sealed_salt=sealed_salt,
            vault_address=(await self._s.chain.vault_address(patient)).lower(),
            relay=RelayAuthorization(
                kind, request.nonce, request.deadline, "0x" + record_signature.hex(),
                signer=author.lower() if author else None,
            ),
        )
        await self._s.records.insert_pending(record)  # nothing pinned yet: a failure here leaves no trace
        try:
            await self._s.ipfs.pin(added.cid)
        except IpfsError as exc:
            await self._abandon(record)
            log.warning("ipfs pin failed", extra={"error_type": type(exc).__name__})
            raise Unavailable("ipfs_unavailable", "IPFS did not keep the file; nothing was saved: try again") from exc
        except BaseException:
            await self._abandon(record)
            raise
        return await self._anchor(record, request, kind, record_signature)

    async def _earlier_attempt(
        self, request: SignedUpload, content_hash: str, signature: bytes, author: str | None = None
    ) -> UploadOutcome | None:
        """The outcome of an earlier try of this very upload (same file, same signed AddRecord, or
        the same doctor's AddRecordAsDoctor when `author` names them).

        A client whose answer was lost (a timeout, a 502/503 after the transaction was sent) tries
        again with what it signed; that signature's nonce may be used by its own first attempt. The
        first attempt's record is the answer then, settled with the chain now. An attempt that never
        reached the chain (nothing mined, nothing in the pool) is cleared, and this one proceeds.
        """
        earlier = await self._s.records.find_attempt(request.patient, content_hash, request.nonce, author)
        if earlier is None or earlier.relay is None or earlier.relay.signature != "0x" + signature.hex():
            return None
        settled = await RecordAnchoring(self._s).settle_one(earlier)
        if settled is None:
            return None
        if settled.on_chain:
            return UploadOutcome(record=settled, mined=True, replayed=True)
        if await self._s.relay_queue.live_for_record(settled.cid):
            # Still in the relayer queue (perhaps waiting for the signer's earlier nonces): on its way.
            return UploadOutcome(record=settled, mined=False, replayed=True)
        pooled = False
        for tx_hash in settled.tx_hashes:
            pooled = pooled or await self._s.chain.transaction_pending(tx_hash)
        if pooled:
            return UploadOutcome(record=settled, mined=False, replayed=True)
        if settled.state != "pending":
            return None
        grace = timedelta(seconds=self._s.settings.tx_timeout_seconds)
        if settled.created_at > datetime.now(UTC) - grace:
            # The first try may still be on its way (a double submit): never race it.
            raise conflict("upload_in_progress", "this upload is already being stored: check your records shortly")
        await self._abandon(settled)  # it never got anywhere: this try starts afresh
        return None

    async def _check_rate_limits(self, request: SignedUpload, uploader: str | None = None) -> None:
        """Uploads per client (the uploader: the patient unless a doctor), and the record-contract
        deployment a first upload makes the relayer pay for."""
        limits = self._s.rate_limits
        await limits.hit("upload", ip=request.client_ip, address=uploader or request.patient)
        if not await self._s.chain.vault_exists(request.patient):
            await limits.hit("new_vault", ip=request.client_ip, address=request.patient)

    async def _check_record_signature(
        self, request: SignedUpload, kind: int, content_hash: str, signature: bytes, signer: str | None = None
    ) -> None:
        """The signer's nonce in the patient's vault, then their signature: the patient's AddRecord,
        or (`signer` a doctor) that doctor's AddRecordAsDoctor."""
        chain = self._s.chain
        signer = signer or request.patient
        # What the chain lost of this patient's is sent again first (it may need this nonce).
        await RecordAnchoring(self._s).repair_lost(request.patient)
        current_nonce = await chain.nonce_of(request.patient, signer)
        check_signer_nonce(request.nonce, current_nonce, self._s.settings.relay_max_nonces_ahead)
        as_doctor = signer.lower() != request.patient.lower()
        action, message = add_record_call(
            RelayAuthorization(kind, request.nonce, request.deadline, "", signer if as_doctor else None), content_hash
        )
        fields = {name: value for name, value in message.items() if name not in ("nonce", "deadline")}
        payload = await self._s.typed_data.payload(
            action, request.patient, signer, fields, nonce=request.nonce, deadline=request.deadline
        )
        if not self._s.typed_data.verify(payload, signature, signer):
            raise bad_request(
                "invalid_record_signature",
                f"recordSignature does not authorise this file: it must be your EIP-712 "
                f"{'AddRecordAsDoctor' if as_doctor else 'AddRecord'} signature over SHA-256(salt ‖ file), "
                "the record type, nonce and deadline",
            )

    async def _anchor(self, record: RecordDoc, request: SignedUpload, kind: int, signature: bytes) -> UploadOutcome:
        """Queue the record's signed action (its `relay`: the patient's or the author's) and settle it.

        The lease holder saves each transaction hash to the record before broadcasting it, so a
        crash anywhere leaves a hash the reconciler can look up.
        """
        queue = self._s.relay_queue
        settings = self._s.settings
        assert record.relay is not None
        signer = record.relay.signer or request.patient
        try:
            await queue.ensure_vault(request.patient, timeout=settings.tx_timeout_seconds)
            action, message = add_record_call(record.relay, record.content_hash)
            job = await queue.submit_signed(action, request.patient, message, signature, signer=signer,
                                            record_cid=record.cid)
        except TransactionReverted as exc:
            await self._abandon(record)
            raise revert_to_domain_error(exc) from exc
        except RelayerUnavailable as exc:
            await self._abandon(record)
            raise relayer_unavailable(exc) from exc
        except BaseException:
            await self._abandon(record)
            raise
        try:
            receipt = await queue.receipt(job, settings.tx_timeout_seconds)
        except TransactionReverted as exc:
            await self._abandon(record)
            if exc.tx_hash is None:  # refused before sending (estimated), as a direct send was
                raise revert_to_domain_error(exc) from exc
            raise conflict("transaction_failed", "the record transaction failed on chain; nothing was stored") from exc
        except RelayerUnavailable as exc:
            if not exc.maybe_sent:
                await self._abandon(record)
            # Else the transaction may have reached the node: the reconciler finds out from its hash.
            raise relayer_unavailable(exc) from exc
        except NothingSent:
            await self._abandon(record)
            raise
        except (TransactionTimeout, RelayerError, *CHAIN_TRANSPORT_ERRORS) as exc:
            # Sent, not mined yet, or the node went away meanwhile: the hash is saved, and the
            # reconciler finishes it (or sends it again). The client gets 202 and the pending record.
            log.warning("upload left pending", extra={"cid": record.cid, "error_type": type(exc).__name__})
            fresh = await self._s.records.get_by_cid(record.cid)
            if fresh is not None:
                record = fresh
            elif isinstance(exc, TransactionTimeout) and exc.tx_hash:
                record.tx_hash = exc.tx_hash
            return UploadOutcome(record=record, mined=False)
        except DomainError:  # the signer's earlier actions did not land in time (nonce_wait_expired)
            await self._abandon(record)
            raise
        anchored = await RecordAnchoring(self._s).mined(record, receipt)
        return UploadOutcome(record=anchored, mined=True)

    async def _abandon(self, record: RecordDoc) -> None:
        """Undo an upload that certainly did not reach the chain (best effort: the reconciler retries)."""
        try:
            await self._s.records.delete(record.cid)
        except Exception:  # the database is down: the reconciler removes the pending document later
            log.warning("could not remove an abandoned upload", extra={"cid": record.cid})
            return
        await self._forget_ciphertext(record.cid)

    async def _forget_ciphertext(self, cid: str) -> None:
        try:
            await self._s.ipfs.unpin(cid)
        except Exception:  # best effort: an unpinned orphan is garbage-collected, a pinned one is harmless
            log.warning("could not unpin an abandoned upload", extra={"cid": cid})
