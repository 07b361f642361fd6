"""The upload pipeline: check everything, then encrypt, pin, anchor on chain, and only then confirm.

Order matters. Every check that can fail because of the client (size, signatures, nonce, a
deadline that leaves time to land) runs before anything is written or paid for, so bad input
leaves no trace and costs the relayer nothing. The file is read once (services/upload_stream.py),
while it arrives from the client (api/multipart_stream.py): hashed and encrypted on its way to IPFS,
added unpinned; the checks that need its hash (the
signed contentHash, the nonce, a replay) run right after, and a refusal unpins what was added
(a no-op normally) and stores nothing. After that the ciphertext is pinned and a `pending`
document is stored, and each transaction hash is saved before the transaction is broadcast, so a
crash at any later point leaves a record the reconciler can finish or remove, never one that looks
valid and never an anchored hash without its document. A mined record is `anchored`, and
`confirmed` once CONFIRMATIONS blocks deep (services/anchoring.py).

The steps are timed as the stages `admit` (the checks before the file is read), `store` (receive,
hash, encrypt, add), `check`, `save` (document and pin) and `anchor` (stages.py): the upload's
`Server-Timing` header and metrics.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from pymongo.errors import DuplicateKeyError

from ..chain.client import CHAIN_TRANSPORT_ERRORS
from ..chain.relayer import (
    RelayerError,
    RelayerUnavailable,
    TransactionReverted,
    TransactionTimeout,
)
from ..concurrency import gather_in_order
from ..container import Services
from ..crypto import (
    derive_account_keypair,
    new_data_key,
    parse_salt,
    reader_aad,
    salt_aad,
    seal_data_key,
    seal_salt,
)
from ..db.records import RecordDoc, RelayAuthorization
from ..domain_errors import DomainError, Unavailable, bad_request, conflict
from ..record_kinds import RECORD_KINDS
from ..stages import stage
from ..storage.ipfs import IpfsError, IpfsUnavailable
from .amendments import check_amendment, superseded_claim
from .anchoring import RecordAnchoring, add_record_call
from .deadlines import require_landable
from .fhir_upload import checked_upload_file
from .pin_release import remove_unanchored_upload
from .relay import check_signer_nonce, relayer_unavailable, revert_to_domain_error
from .relay_queue import NothingSent
from .signatures import check_key_signature, parse_signature
from .upload_stream import AsyncReadable, OnePassUpload

log = logging.getLogger(__name__)


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
    # Optional: the CID of the patient's own structured record this one amends (services/amendments.py).
    replaces: str | None = None


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


class UploadPipeline:
    """Runs one upload end to end."""

    def __init__(self, services: Services) -> None:
        self._s = services

    async def run(self, request: UploadRequest) -> UploadOutcome:
        # Every check before the file is read (stages.py: the upload's Server-Timing).
        with stage("admit"):
            settings = self._s.settings
            kind = record_kind(request.record_type)
            salt = request_salt(request.salt)
            duplicate_tag = request_duplicate_tag(request.duplicate_tag)

            async def signed_within_limits() -> tuple[bytes, bytes]:
                wallet_signature = parse_signature(request.wallet_signature, "walletSignature")
                record_signature = parse_signature(request.record_signature, "recordSignature")
                check_key_signature(wallet_signature, request.patient)
                await self._check_rate_limits(request)
                return wallet_signature, record_signature

            # The deadline's chain read and the rate limits' reads together (a round trip less before the
            # file is read); a failed deadline check is still the error the client hears first.
            _, (wallet_signature, record_signature) = await gather_in_order(
                require_landable(self._s.chain, request.deadline, settings.deadline_margin_seconds, "record signature"),
                signed_within_limits(),
            )
            # A structured record (FHIR JSON) is validated whole before anything is stored; the patient is its author.
            file, checked = await checked_upload_file(
                request.file, request.content_type, request.record_type, request.patient, request.patient
            )
            replaces = await check_amendment(self._s, request.replaces, checked, request.record_type, request.patient, None)
            request = replace(request, file=file)

            # Keys v2: sealed to the public key the patient's key signature derives (the private half is discarded).
            _, public_key = derive_account_keypair(wallet_signature)
        return await self._store_and_anchor(
            request, kind, record_signature, salt, readers={request.patient: bytes(public_key)},
            duplicate_tag=duplicate_tag, replaces=replaces,
        )

    async def _store_and_anchor(
        self,
        request: SignedUpload,
        kind: int,
        record_signature: bytes,
        salt: bytes,
        readers: dict[str, bytes],
        author: str | None = None,
        duplicate_tag: str | None = None,
        replaces: str | None = None,
    ) -> UploadOutcome:
        """One pass over the file (hash, encrypt, add to IPFS unpinned), then the checks that need
        its hash, then the pending document, the pin and the anchor: the steps after every other
        check, shared by patients' and doctors' uploads.

        The signer's current nonce is read from the chain while the file streams to IPFS. The signed
        hash can only be checked once the last byte has gone by: a replay answers the earlier
        record, and a stale nonce or a signature over other bytes forgets the added ciphertext and
        refuses as before (409 / 400), leaving no document and no pin.

        `readers` maps each permanent reader (the patient; the author too when a doctor writes) to
        the public key their copy is sealed to. The data key exists only for this call. `replaces`
        is the CID of the version this record amends (checked by services/amendments.py).
        """
        patient = request.patient
        signer = author or patient
        data_key = new_data_key()
        one_pass = OnePassUpload(request.file, data_key, salt, self._s.settings.max_upload_bytes)
        nonce_read = asyncio.ensure_future(self._current_nonce(patient, signer))
        try:
            try:
                # Unpinned until the document names it (below): a lost answer cannot leave a pin nobody knows.
                with stage("store"):
                    added = await self._s.ipfs.add_stream(one_pass.ciphertext(), pin=False)
            except IpfsError as exc:
                log.warning("ipfs add failed", extra={"error_type": type(exc).__name__})
                raise Unavailable("ipfs_unavailable", "IPFS did not store the file; nothing was saved: try again") from exc
            content_hash = one_pass.content_hash
            try:
                with stage("check"):
                    replayed = await self._earlier_attempt(request, content_hash, record_signature, author)
                    if replayed is not None:
                        await self._forget_ciphertext(added.cid)
                        return replayed
                    await self._check_record_signature(
                        request, kind, content_hash, record_signature, signer=author, current_nonce=await nonce_read
                    )
            except BaseException:
                await self._forget_ciphertext(added.cid)
                raise
            sealed_keys = {
                reader.lower(): seal_data_key(data_key, key, reader_aad(patient, content_hash, reader))
                for reader, key in readers.items()
            }
            sealed_salt = seal_salt(salt, data_key, salt_aad(patient, content_hash))
        finally:
            del data_key
            await _settle(nonce_read)
        record = RecordDoc(
            patient=patient.lower(),
            record_type=request.record_type,
            name=request.name,
            content_type=request.content_type,
            cid=added.cid,
            content_hash=content_hash,
            ciphertext_hash=one_pass.ciphertext_hash,
            size=one_pass.size,
            ciphertext_size=added.size,
            wrapped_key="",
            sealed_keys=sealed_keys,
            author=author.lower() if author else None,
            duplicate_tag=duplicate_tag,
            replaces=replaces,
            sealed_salt=sealed_salt,
            vault_address=(await self._s.chain.vault_address(patient)).lower(),
            relay=RelayAuthorization(
                kind, request.nonce, request.deadline, "0x" + record_signature.hex(),
                signer=author.lower() if author else None,
            ),
        )
        # The relayer's chain work (the vault, the gas estimate) needs no document: it runs meanwhile.
        prepared = asyncio.ensure_future(self._prepare_relay(record, request, record_signature))
        try:
            with stage("save"):
                await self._s.records.insert_pending(record)  # nothing pinned yet: a failure here leaves no trace
        except DuplicateKeyError as exc:
            await _settle(prepared)
            await self._forget_ciphertext(added.cid)
            if replaces is not None:  # another amendment of the same version got its document in first
                successor = await self._s.records.successor_of(replaces)
                raise superseded_claim(successor.cid if successor else None) from exc
            raise
        except BaseException:
            await _settle(prepared)
            raise
        try:
            with stage("save"):
                await self._s.ipfs.pin(added.cid)
        except IpfsError as exc:
            await _settle(prepared)
            # A node that did not answer the pin is not asked to unpin now: the next pass does it.
            await self._abandon(record, unpin_now=not isinstance(exc, IpfsUnavailable))
            log.warning("ipfs pin failed", extra={"error_type": type(exc).__name__})
            raise Unavailable("ipfs_unavailable", "IPFS did not keep the file; nothing was saved: try again") from exc
        except BaseException:
            await _settle(prepared)
            await self._abandon(record)
            raise
        with stage("anchor"):
            return await self._anchor(record, request, record_signature, prepared)

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

    async def _current_nonce(self, patient: str, signer: str) -> int:
        """`signer`'s nonce in `patient`'s vault, after what the chain lost of this patient's was sent
        again (it may need this nonce). The two reads run together; the nonce is read again only
        when something was lost (rare: a reorg or a reset chain)."""
        chain = self._s.chain
        lost, nonce = await asyncio.gather(RecordAnchoring(self._s).repair_lost(patient), chain.nonce_of(patient, signer))
        if lost:
            nonce = await chain.nonce_of(patient, signer)
        return nonce

    async def _check_record_signature(
        self,
        request: SignedUpload,
        kind: int,
        content_hash: str,
        signature: bytes,
        signer: str | None = None,
        current_nonce: int | None = None,
    ) -> None:
        """The signer's nonce in the patient's vault (`current_nonce` if already read), then their
        signature: the patient's AddRecord, or (`signer` a doctor) that doctor's AddRecordAsDoctor."""
        signer = signer or request.patient
        if current_nonce is None:
            current_nonce = await self._current_nonce(request.patient, signer)
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

    async def _prepare_relay(self, record: RecordDoc, request: SignedUpload, signature: bytes) -> Any:
        """The patient's vault (created first, through the queue, if this is their first record) and
        the record's encoded `...BySig` call: the chain work the queue's job needs, which needs no
        document, so it runs while the pending document is stored and the ciphertext pinned."""
        queue = self._s.relay_queue
        assert record.relay is not None
        await queue.ensure_vault(request.patient, timeout=self._s.settings.tx_timeout_seconds)
        action, message = add_record_call(record.relay, record.content_hash)
        return await queue.encode_signed(action, request.patient, message, signature)

    async def _anchor(
        self, record: RecordDoc, request: SignedUpload, signature: bytes, prepared: asyncio.Future[Any]
    ) -> UploadOutcome:
        """Queue the record's signed action (its `relay`: the patient's or the author's, encoded by
        `prepared`, a `_prepare_relay` task) and settle it.

        The job is queued only now, after the document exists and names the pinned ciphertext: the
        lease holder saves each transaction hash to the record before broadcasting it, so a crash
        anywhere leaves a hash the reconciler can look up.
        """
        queue = self._s.relay_queue
        settings = self._s.settings
        assert record.relay is not None
        signer = record.relay.signer or request.patient
        try:
            call = await prepared
            action, message = add_record_call(record.relay, record.content_hash)
            job = await queue.submit_signed(action, request.patient, message, signature, signer=signer,
                                            record_cid=record.cid, call=call)
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

    async def _abandon(self, record: RecordDoc, *, unpin_now: bool = True) -> None:
        """Undo an upload that certainly did not reach the chain (best effort: the reconciler retries).

        Its pin goes before its document (services/pin_release.py): a pin is never left unnamed.
        `unpin_now=False` (the node just did not answer) leaves the unpin to the next reconcile pass.
        """
        try:
            await remove_unanchored_upload(self._s, record.cid, unpin_now=unpin_now)
        except Exception:  # the database is down: the reconciler removes the pending document later
            log.warning("could not remove an abandoned upload", extra={"cid": record.cid})

    async def _forget_ciphertext(self, cid: str) -> None:
        """Unpin `cid` (added unpinned, so normally a no-op): nothing of a refused upload stays pinned."""
        try:
            await self._s.ipfs.unpin(cid)
        except Exception:  # best effort: an unpinned orphan is garbage-collected, a pinned one is harmless
            log.warning("could not unpin an abandoned upload", extra={"cid": cid})


async def _settle(task: asyncio.Future[object]) -> None:
    """Cancel `task` if still running and wait for it; its outcome is not needed any more."""
    if not task.done():
        task.cancel()
        await asyncio.wait([task])
    if not task.cancelled():
        task.exception()  # retrieved: an error here was raised where the result was awaited, or is moot
