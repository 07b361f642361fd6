"""Doctor-authored records (keys v2): a doctor with a live write grant adds a file to a patient's vault.

The patient is not present, so nothing can be derived from their wallet: the data key is sealed to
the public keys the patient and the doctor registered (each binding re-checked now, so a tampered
database cannot redirect a key), and the doctor needs no key signature to upload. The doctor's
EIP-712 AddRecordAsDoctor signature, with the doctor's own nonce in the patient's vault, puts the
record on chain with the doctor as its author.

The same rule as the patient's upload (services/upload.py), whose steps this reuses: every check
that can fail because of the client, the chain's grant or a missing key runs before anything is
written, pinned or paid for. Then the pending document (author, both sealed copies, and the
doctor's signature with `relay.signer` so the reconciler can re-send it after a reorg) is stored,
the ciphertext pinned and the signature relayed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

from ..chain.client import ChainClient
from ..container import Services
from ..crypto import (
    Sha256Stream,
    new_data_key,
    reader_aad,
    salt_aad,
    seal_data_key,
    seal_salt,
)
from ..db.records import RecordDoc, RelayAuthorization
from ..domain_errors import NotFound, Unavailable, conflict, forbidden
from ..storage.ipfs import IpfsError
from ..validation import address as checked_address
from .deadlines import require_landable
from .keys import verified_public_key
from .signatures import parse_signature
from .upload import (
    AsyncReadable,
    UploadOutcome,
    UploadPipeline,
    _ciphertext,
    _hash_and_measure,
    record_kind,
    request_salt,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DoctorUploadRequest:
    """Everything a doctor sends with a file for a patient."""

    doctor: str  # the signed-in doctor (checksummed)
    patient: str  # the form's patientAddress, checked by the pipeline
    record_type: str
    name: str
    content_type: str
    file: AsyncReadable
    record_signature: str
    nonce: int  # the doctor's nonce in the patient's vault
    deadline: int
    salt: str = ""
    client_ip: str | None = None


async def _reader_key(services: Services, account: str, code: str, who: str) -> bytes:
    """`account`'s verified public key; 409 `code` when it has none (key_binding_invalid passes through)."""
    try:
        return await verified_public_key(services, account)
    except NotFound as exc:
        raise conflict(
            code,
            f"{who} ({account}) has no encryption key yet: that account must sign in to HealthLedger once to "
            "set up its encryption key, then the record can be added",
        ) from exc


async def require_write_grant(chain: ChainClient, patient: str, doctor: str) -> None:
    """403 `no_write_grant` unless the chain says `doctor` may add records to `patient`'s vault now.

    `getWriteGrant` is the contract's `canWrite` with the expiry: non-zero exactly when a live grant
    exists under the doctor's current registration (0 while the patient has no vault either).
    """
    if await chain.get_write_grant(patient, doctor) == 0:
        raise forbidden(
            "no_write_grant",
            "this patient has not given you write access (or it expired or was revoked): ask them to grant it",
        )


class DoctorUploadPipeline(UploadPipeline):
    """Runs one doctor upload end to end, with the patient pipeline's shared steps."""

    async def run_as_doctor(self, request: DoctorUploadRequest) -> UploadOutcome:
        settings = self._s.settings
        chain = self._s.chain
        doctor = request.doctor
        kind = record_kind(request.record_type)
        salt = request_salt(request.salt)
        await require_landable(chain, request.deadline, settings.deadline_margin_seconds, "record signature")
        record_signature = parse_signature(request.record_signature, "recordSignature")
        if not await chain.is_doctor(doctor):
            raise forbidden("not_registered_doctor", "your address is not in the provider registry")
        patient = checked_address(request.patient, "patientAddress")
        await require_write_grant(chain, patient, doctor)
        request = replace(request, patient=patient)
        await self._check_rate_limits(request, uploader=doctor)
        patient_key = await _reader_key(self._s, patient, "patient_key_missing", "the patient")
        doctor_key = await _reader_key(self._s, doctor, "doctor_key_missing", "you")

        content_hash, size = await _hash_and_measure(request.file, settings.max_upload_bytes, salt)
        replayed = await self._earlier_attempt(request, content_hash, record_signature, author=doctor)
        if replayed is not None:
            return replayed
        await self._check_record_signature(request, kind, content_hash, record_signature, signer=doctor)

        data_key = new_data_key()
        sealed_keys = {
            reader.lower(): seal_data_key(data_key, key, reader_aad(patient, content_hash, reader))
            for reader, key in ((patient, patient_key), (doctor, doctor_key))
        }
        sealed_salt = seal_salt(salt, data_key, salt_aad(patient, content_hash))

        ciphertext_digest = Sha256Stream()
        try:
            # Unpinned until the document names it: a lost answer cannot leave a pin nobody knows.
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
            size=size,
            ciphertext_size=added.size,
            wrapped_key="",
            sealed_keys=sealed_keys,
            author=doctor.lower(),
            sealed_salt=sealed_salt,
            vault_address=(await chain.vault_address(patient)).lower(),
            relay=RelayAuthorization(
                kind, request.nonce, request.deadline, "0x" + record_signature.hex(), signer=doctor.lower()
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
