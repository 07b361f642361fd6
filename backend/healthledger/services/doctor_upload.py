"""Doctor-authored records (keys v2): a doctor with a live write grant adds a file to a patient's vault.

The patient is not present, so nothing can be derived from their wallet: the data key is sealed to
the public keys the patient and the doctor registered (each binding re-checked now, so a tampered
database cannot redirect a key), and the doctor needs no key signature to upload. The doctor's
EIP-712 AddRecordAsDoctor signature, with the doctor's own nonce in the patient's vault, puts the
record on chain with the doctor as its author.

The same rule as the patient's upload (services/upload.py), whose steps this reuses: every check
that can fail because of the client, the chain's grant or a missing key runs before anything is
written, pinned or paid for (those needing the file's hash right after its one pass to IPFS, whose
unpinned ciphertext is forgotten if they refuse). Then the pending document (author, both sealed copies, and the
doctor's signature with `relay.signer` so the reconciler can re-send it after a reorg) is stored,
the ciphertext pinned and the signature relayed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

from ..chain.client import ChainClient
from ..concurrency import gather_in_order
from ..domain_errors import forbidden
from ..stages import stage
from ..validation import address as checked_address
from .amendments import check_amendment
from .deadlines import require_landable
from .fhir_upload import checked_upload_file
from .keys import sealing_key
from .signatures import parse_signature
from .upload import UploadOutcome, UploadPipeline, record_kind, request_salt
from .upload_stream import AsyncReadable

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
    # Optional: the CID of this doctor's structured record this one amends (services/amendments.py).
    replaces: str | None = None


async def require_write_grant(chain: ChainClient, patient: str, doctor: str) -> None:
    """403 `no_write_grant` unless the chain says `doctor` may add records to `patient`'s vault now.

    `getWriteGrant` is the contract's `canWrite` with the expiry: non-zero exactly when a live grant
    exists under the doctor's current registration (0 while the patient has no vault either).
    """
    if await chain.get_write_grant(patient, doctor) == 0:
        raise no_write_grant()


def no_write_grant() -> Exception:
    """403 `no_write_grant`: the chain has no live write grant of the patient's for this doctor."""
    return forbidden(
        "no_write_grant",
        "this patient has not given you write access (or it expired or was revoked): ask them to grant it",
    )


class DoctorUploadPipeline(UploadPipeline):
    """Runs one doctor upload end to end, with the patient pipeline's shared steps."""

    async def run_as_doctor(self, request: DoctorUploadRequest) -> UploadOutcome:
        # Every check before the file is read (stages.py: the upload's Server-Timing).
        with stage("admit"):
            settings = self._s.settings
            chain = self._s.chain
            doctor = request.doctor
            kind = record_kind(request.record_type)
            salt = request_salt(request.salt)
            await require_landable(chain, request.deadline, settings.deadline_margin_seconds, "record signature")
            record_signature = parse_signature(request.record_signature, "recordSignature")
            patient = checked_address(request.patient, "patientAddress")
            # Two independent chain reads together; their verdicts in the order the client should hear them.
            registered, grant = await gather_in_order(chain.is_doctor(doctor), chain.get_write_grant(patient, doctor))
            if not registered:
                raise forbidden("not_registered_doctor", "your address is not in the provider registry")
            if grant == 0:
                raise no_write_grant()
            request = replace(request, patient=patient)
            await self._check_rate_limits(request, uploader=doctor)
            # A structured record (FHIR JSON) is validated whole before anything is stored: the patient
            # is its subject, this doctor its author.
            file, checked = await checked_upload_file(request.file, request.content_type, request.record_type, patient, doctor)
            # An amendment: the previous version must be this doctor's, current and anchored (services/amendments.py).
            replaces = await check_amendment(self._s, request.replaces, checked, request.record_type, patient, doctor)
            request = replace(request, file=file)
            patient_key, doctor_key = await gather_in_order(
                sealing_key(self._s, patient, "patient_key_missing", "patient"),
                sealing_key(self._s, doctor, "doctor_key_missing", "doctor"),
            )

        # The file is hashed, encrypted and added in one pass; the signature is checked on its hash then.
        readers = {patient: patient_key, doctor: doctor_key}
        return await self._store_and_anchor(request, kind, record_signature, salt, readers, author=doctor, replaces=replaces)

