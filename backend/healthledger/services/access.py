"""Doctor access: requests, approvals of chosen records for a time, denial, revocation, extension.

The chain is the source of truth for who may read what. This module checks signatures, relays
them, and keeps the off-chain halves in step: the request reason, and the records' data keys
sealed to the doctor's registered public key for the grant (keys v2). The patient's key signature
opens their own copies at approval; afterwards only the doctor's key signature opens the grant
copies, so nothing at rest on the server (database, settings, environment) decrypts a record.
"""

from __future__ import annotations

from typing import Any

from eth_utils import to_checksum_address

from ..container import Services
from ..chain.actions import record_bitmap
from ..crypto import reader_aad, seal_data_key
from ..db.access import AccessRequest, GrantKey
from ..db.records import RecordDoc
from ..domain_errors import Conflict, InvalidInput, bad_request, conflict, forbidden, not_found
from ..validation import address
from ..validation import record_ids as checked_record_ids
from .integrity import DataKeySource, open_patient_copy, open_reader_copy
from .keys import sealing_key
from .relay import find_signed_payload, relay
from .signatures import check_key_signature, parse_signature

MAX_REASON_LENGTH = 500
# The longest grant the API approves: ten years, in seconds (every duration in the API is in seconds).
MAX_DURATION_SECONDS = 3650 * 86400
# How many earlier grants an ApproveExtension signature is checked against to answer `grant_changed`.
EARLIER_GENERATIONS = 16


def check_duration(seconds: Any, field: str) -> int:
    """A grant's duration: a whole number of seconds, more than 0 and at most ten years."""
    if isinstance(seconds, bool) or not isinstance(seconds, int) or not 0 < seconds <= MAX_DURATION_SECONDS:
        raise bad_request(
            "invalid_duration", f"{field} must be a whole number of seconds between 1 and {MAX_DURATION_SECONDS}"
        )
    return seconds


def grant_duration(seconds: Any, days: Any) -> int:
    """A grant's signed `duration` from the API's `durationSeconds` or `durationDays` (whole days,
    1 to 3650: the signed duration is then days * 86400). One of them is required; both must agree."""
    if days is not None:
        if isinstance(days, bool) or not isinstance(days, int) or not 0 < days <= MAX_DURATION_SECONDS // 86400:
            raise bad_request(
                "invalid_duration", f"durationDays must be a whole number of days between 1 and {MAX_DURATION_SECONDS // 86400}"
            )
        if seconds is not None and seconds != days * 86400:
            raise bad_request("invalid_duration", "durationSeconds and durationDays disagree: send one of them")
        return days * 86400
    if seconds is None:
        raise bad_request("invalid_duration", "durationDays (or durationSeconds) is required")
    return check_duration(seconds, "durationSeconds")


class AccessService:
    def __init__(self, services: Services) -> None:
        self._s = services

    # ---------------------------------------------------------------- doctor side

    async def request_access(
        self,
        doctor: str,
        patient: str,
        reason: str,
        signature: str,
        nonce: int,
        deadline: int,
        client_ip: str | None = None,
        *,
        wants_write: bool = False,
    ) -> AccessRequest:
        """Relay the doctor's signed RequestAccess and store its off-chain half: the reason and whether
        the doctor also asks to add records (`wants_write`, a hint for the patient's answer)."""
        await self._require_registered(doctor)
        patient = address(patient, "patientAddress", strict=False)
        reason = (reason or "").strip()
        if not reason or len(reason) > MAX_REASON_LENGTH:
            raise bad_request("invalid_reason", f"requestReason must be 1 to {MAX_REASON_LENGTH} characters")
        if patient == doctor:
            raise bad_request("invalid_address", "you cannot request access to your own records")
        payload, raw = await find_signed_payload(
            self._s, action="requestAccess", patient=patient, signer=doctor, fields={"doctor": doctor},
            signature=signature, nonce=nonce, deadline=deadline,
        )
        await self._s.rate_limits.hit("access_request", ip=client_ip, address=doctor)
        if not await self._s.chain.vault_exists(patient):
            # The relayer would deploy a contract for an address the doctor chose: counted against the doctor.
            await self._s.rate_limits.hit("new_vault", ip=client_ip, address=doctor)
        await self._s.relay_queue.ensure_vault(patient, timeout=self._s.settings.tx_timeout_seconds)
        result = await relay(self._s, patient, payload, raw)
        return await self._s.access_requests.add(
            AccessRequest(
                patient=patient.lower(), doctor=doctor.lower(), reason=reason, tx_hash=result.tx_hash,
                wants_write=bool(wants_write),
            )
        )

    async def request_extension(
        self, doctor: str, patient: str, extra_seconds: int, signature: str, nonce: int, deadline: int
    ) -> dict[str, Any]:
        await self._require_registered(doctor)
        patient = address(patient, "patientAddress", strict=False)
        payload, raw = await find_signed_payload(
            self._s, action="requestExtension", patient=patient, signer=doctor,
            fields={"doctor": doctor, "extra": extra_seconds}, signature=signature, nonce=nonce, deadline=deadline,
        )
        result = await relay(self._s, patient, payload, raw)
        return {"patient": patient, "extra_seconds": extra_seconds, "tx_hash": result.tx_hash}

    # ---------------------------------------------------------------- patient side

    async def requests_of_doctor(self, doctor: str) -> list[AccessRequest]:
        """The doctor's own requests, newest first, whatever their state."""
        return await self._s.access_requests.for_doctor(doctor.lower())

    async def pending_requests(self, patient: str) -> list[dict[str, Any]]:
        requests = await self._s.access_requests.pending_for_patient(patient.lower())
        registered = await self._s.chain.is_doctor_many([r.doctor for r in requests]) if requests else []
        rows = []
        for request, doctor_registered in zip(requests, registered, strict=True):
            profile = await self._s.profiles.get_doctor(request.doctor)
            rows.append(
                {
                    **request.public(),
                    "doctor_name": profile.name if profile else None,
                    "doctor_registered": doctor_registered,
                }
            )
        return rows

    async def respond(
        self,
        patient: str,
        request_id: str,
        action: str,
        record_ids: list[int],
        duration_seconds: Any,
        wallet_signature: str | None,
        approval_signature: str,
        nonce: int,
        deadline: int,
    ) -> dict[str, Any]:
        request = await self._s.access_requests.get(request_id)
        if request is None or request.patient != patient.lower():
            raise not_found("request_not_found", "no such access request for your records")
        if request.state != "pending":
            raise conflict("request_closed", f"this request was already {request.state}")
        doctor = to_checksum_address(request.doctor)
        if action == "deny":
            payload, raw = await find_signed_payload(
                self._s, action="denyAccess", patient=patient, signer=patient, fields={"doctor": doctor},
                signature=approval_signature, nonce=nonce, deadline=deadline,
            )
            result = await relay(self._s, patient, payload, raw)
            await self._s.access_requests.set_state(request_id, "denied")
            return {"request_id": request_id, "state": "denied", "tx_hash": result.tx_hash}
        if action != "approve":
            raise bad_request("invalid_action", "action must be 'approve' or 'deny'")
        duration = check_duration(duration_seconds, "durationSeconds")
        records = await self._selected_records(patient, record_ids)
        await self._require_current_request(patient, doctor)
        # Everything that can fail for the client is checked before the chain is touched: the
        # doctor's key (registered, binding intact) before any data key is opened or sealed.
        doctor_key = await sealing_key(self._s, doctor, "doctor_key_missing", "doctor")
        copies = self._seal_all(patient, doctor, doctor_key, records, wallet_signature)
        # The patient signed ApproveRecords: the selection as a bitmap (the same gas for 1 or 256 records).
        start_word, words = record_bitmap(record.record_id for record in records)
        payload, raw = await find_signed_payload(
            self._s, action="approveRecords", patient=patient, signer=patient,
            fields={"doctor": doctor, "duration": duration, "startWord": start_word, "words": words},
            signature=approval_signature, nonce=nonce, deadline=deadline,
        )
        result = await relay(self._s, patient, payload, raw)
        grant = await self._s.chain.get_grant(patient, doctor)
        keys = [
            GrantKey(
                patient=patient.lower(),
                doctor=doctor.lower(),
                cid=record.cid,
                record_id=record.record_id,
                sealed_key=copies[record.cid],
                expires_at=grant.expires_at,
            )
            for record in records
        ]
        await self._s.grant_keys.replace_grant(patient.lower(), doctor.lower(), keys)
        await self._s.access_requests.set_state(request_id, "approved")
        return {
            "request_id": request_id,
            "state": "approved",
            "doctor": doctor,
            "record_ids": sorted({record.record_id for record in records}),
            "expires_at": grant.expires_at,
            "tx_hash": result.tx_hash,
        }

    async def revoke(
        self, patient: str, doctor: Any, record_ids: list[int] | None, signature: str, nonce: int, deadline: int
    ) -> dict[str, Any]:
        doctor = address(doctor, "doctorAddress", strict=False)
        if record_ids is not None:
            checked_record_ids(record_ids)
            action, fields = "revokeRecords", {"doctor": doctor, "recordIds": record_ids}
        else:
            action, fields = "revokeAccess", {"doctor": doctor}
        payload, raw = await find_signed_payload(
            self._s, action=action, patient=patient, signer=patient, fields=fields, signature=signature,
            nonce=nonce, deadline=deadline,
        )
        result = await relay(self._s, patient, payload, raw)
        removed = await self._s.grant_keys.revoke(patient.lower(), doctor.lower(), record_ids)
        return {"doctor": doctor, "record_ids": record_ids, "keys_removed": removed, "tx_hash": result.tx_hash}

    async def approve_extension(
        self, patient: str, doctor: Any, signature: str, nonce: int, deadline: int, generation: int | None = None
    ) -> dict[str, Any]:
        """Relay the patient's ApproveExtension for the grant as it is now.

        The signature names the grant's generation (`generation` when the client says which it
        signed): one made for an earlier grant is a 409 `grant_changed`, not relayed.
        """
        doctor = address(doctor, "doctorAddress", strict=False)
        grant = await self._s.chain.get_grant(patient, doctor)
        if grant.pending_extension == 0:
            raise conflict("no_pending_extension", "the doctor has not asked for an extension")
        if generation is not None and generation != grant.generation:
            raise _grant_changed()
        fields = {"doctor": doctor, "extra": grant.pending_extension, "generation": grant.generation}
        try:
            payload, raw = await find_signed_payload(
                self._s, action="approveExtension", patient=patient, signer=patient, fields=fields,
                signature=signature, nonce=nonce, deadline=deadline,
            )
        except InvalidInput as exc:
            if exc.code == "invalid_signature" and await self._signed_for_earlier_grant(
                patient, fields, signature, nonce, deadline
            ):
                raise _grant_changed() from exc
            raise
        result = await relay(self._s, patient, payload, raw)
        updated = await self._s.chain.get_grant(patient, doctor)
        await self._s.grant_keys.set_expiry(patient.lower(), doctor.lower(), updated.expires_at)
        return {"doctor": doctor, "expires_at": updated.expires_at, "tx_hash": result.tx_hash}

    # ---------------------------------------------------------------- helpers

    async def _signed_for_earlier_grant(
        self, patient: str, fields: dict[str, Any], signature: str, nonce: int, deadline: int
    ) -> bool:
        """Whether `signature` approves this extension for one of the last EARLIER_GENERATIONS grants
        (local signature checks only: tells a stale signature from a wrong one)."""
        current = int(fields["generation"])
        for generation in range(current - 1, max(current - EARLIER_GENERATIONS, 0) - 1, -1):
            payload = await self._s.typed_data.payload(
                "approveExtension", patient, patient, {**fields, "generation": generation},
                nonce=nonce, deadline=deadline,
            )
            if self._s.typed_data.verify(payload, signature, patient):
                return True
        return False

    async def _require_current_request(self, patient: str, doctor: str) -> None:
        """Refuse to answer a request the approval could not honour.

        The contract answers a pending request without asking the registry again (it saves ~5,000
        gas): the grant is bound to the registration the doctor asked under, and it counts only
        while that registration is current. Approving a doctor struck off since, or registered
        again since asking, would succeed on chain and grant nothing; this says why instead.
        """
        registration = await self._s.chain.registration_of(doctor)
        if registration == 0:
            raise conflict("doctor_not_registered", "this doctor is no longer in the provider registry")
        grant = await self._s.chain.get_grant(patient, doctor)
        if grant.request_pending and grant.registration != registration:
            raise conflict(
                "request_stale", "this doctor was registered again after asking; they need to ask again"
            )

    async def _require_registered(self, doctor: str) -> None:
        if not await self._s.chain.is_doctor(doctor):
            raise forbidden("not_registered_doctor", "your address is not in the provider registry")

    async def _selected_records(self, patient: str, record_ids: list[int]) -> list[RecordDoc]:
        checked_record_ids(record_ids)
        by_id = {
            record.record_id: record
            for record in await self._s.records.list_for_patient(patient)
            if record.on_chain
        }
        unknown = [record_id for record_id in record_ids if record_id not in by_id]
        if unknown:
            raise bad_request("unknown_record", f"no record on chain with id {unknown[0]} among your records")
        return [by_id[record_id] for record_id in dict.fromkeys(record_ids)]

    def _seal_all(
        self, patient: str, doctor: str, doctor_key: bytes, records: list[RecordDoc], wallet_signature: str | None
    ) -> dict[str, str]:
        """cid -> the record's data key sealed to the doctor: each opened from the patient's own copy
        (v2 sealed, or v1 KEK-wrapped) with their key signature, then sealed at once; no data key
        outlives this call."""
        if not wallet_signature:
            raise bad_request("missing_wallet_signature", "walletSignature (your key-derivation signature) is required")
        signature = parse_signature(wallet_signature, "walletSignature")
        check_key_signature(signature, patient)
        copies = {}
        for record in records:
            try:
                data_key = open_patient_copy(record, signature)
            except Conflict as exc:
                raise conflict(
                    "integrity_mismatch", f"record {record.record_id}'s stored key does not authenticate", **exc.details
                ) from exc
            copies[record.cid] = seal_data_key(data_key, doctor_key, reader_aad(patient, record.content_hash, doctor))
        return copies


def _grant_changed() -> Conflict:
    return conflict(
        "grant_changed", "the grant changed since you signed this extension (it was replaced or renewed): sign again"
    )


def doctor_key_source(services: Services, doctor: str, wallet_signature: str | None) -> DataKeySource:
    """Data keys for a doctor, opened with the private key their own key signature derives.

    The doctor's copy is the author copy (`sealed_keys[doctor]`) for a record they wrote, else the
    grant copy the patient's approval sealed to them. Whether they may read at all is the chain's
    answer (`require_doctor_can_read`), asked before this; a missing copy is still a 403.
    """
    if not wallet_signature:
        raise bad_request(
            "missing_wallet_signature", "send your key-derivation signature in X-Wallet-Signature (doctors too)"
        )
    signature = parse_signature(wallet_signature, "X-Wallet-Signature")
    check_key_signature(signature, doctor)
    reader = doctor.lower()

    async def source(record: RecordDoc) -> bytes:
        authored = record.sealed_keys.get(reader) if record.author == reader else None
        if authored:
            return open_reader_copy(authored, signature, record, reader)
        grant = await services.grant_keys.get(reader, record.cid)
        if grant is None:
            raise forbidden("not_allowed", "this record is not shared with you")
        return open_reader_copy(grant.sealed_key, signature, record, reader)

    return source


async def require_doctor_can_read(services: Services, doctor: str, record: RecordDoc) -> None:
    """The chain decides, at this moment: registered, and `canRead` true for this record; for the
    record's author, `canRead` or a live write grant (`canWrite`) on the patient's vault."""
    if not await services.chain.is_doctor(doctor):
        raise forbidden("not_registered_doctor", "your address is no longer in the provider registry")
    if not record.on_chain or record.record_id is None:
        raise forbidden("not_allowed", "this record is not shared with you")
    if await services.chain.can_read(record.patient, doctor, record.record_id):
        return
    if record.author == doctor.lower() and await services.chain.get_write_grant(record.patient, doctor) > 0:
        return
    raise forbidden(
        "access_denied",
        "you have no live approval for this record (it expired, was revoked, or was never granted)",
    )
