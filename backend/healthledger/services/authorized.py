"""Who may read what, as the database records it and as the chain says; the chain wins.

The database view (grant copies: data keys sealed to the doctor, which only the doctor's key
signature opens) is what lets the doctor decrypt; the chain view (`getApprovedRecords`) is what
decides. Any disagreement is reported, and the chain's answer
is the one returned. Doctors see what is shared with them; patients see whom they share with.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from eth_utils import to_checksum_address

from ..container import Services
from ..db.records import RecordDoc


async def _record_rows(services: Services, patient: str, record_ids: list[int]) -> list[dict[str, Any]]:
    by_id: dict[int | None, RecordDoc] = {
        record.record_id: record for record in await services.records.list_for_patient(patient)
    }
    rows = []
    for record_id in record_ids:
        record = by_id.get(record_id)
        rows.append(
            {
                "record_id": record_id,
                "cid": record.cid if record else None,
                "name": record.name if record else None,
                "record_type": record.record_type if record else None,
                "content_hash": record.content_hash if record else None,
            }
        )
    return rows


async def _patients_of(services: Services, doctor: str) -> set[str]:
    patients = {key.patient for key in await services.grant_keys.for_doctor(doctor.lower())}
    patients |= {request.patient for request in await services.access_requests.for_doctor(doctor.lower())}
    return patients


async def authorized_from_chain(services: Services, doctor: str) -> dict[str, Any]:
    grants = []
    for patient in sorted(await _patients_of(services, doctor)):
        approved = await services.chain.get_approved_records(patient, doctor)
        if not approved.record_ids:
            continue
        grants.append(
            {
                "patient": to_checksum_address(patient),
                "expires_at": approved.expires_at,
                "records": await _record_rows(services, patient, list(approved.record_ids)),
            }
        )
    return {"source": "chain", "grants": grants}


async def authorized_from_database(services: Services, doctor: str) -> dict[str, Any]:
    now = await services.chain.latest_timestamp()
    by_patient: dict[str, list[int]] = defaultdict(list)
    expiry: dict[str, int] = {}
    for key in await services.grant_keys.for_doctor(doctor.lower()):
        if key.expires_at > now:
            by_patient[key.patient].append(key.record_id)
            expiry[key.patient] = key.expires_at
    chain_view = {grant["patient"].lower(): grant for grant in (await authorized_from_chain(services, doctor))["grants"]}
    grants, disagreements = [], []
    for patient in sorted(set(by_patient) | set(chain_view)):
        database_ids = sorted(by_patient.get(patient, []))
        chain_grant = chain_view.get(patient)
        chain_ids = sorted(row["record_id"] for row in chain_grant["records"]) if chain_grant else []
        chain_expiry = chain_grant["expires_at"] if chain_grant else 0
        if database_ids != chain_ids or (chain_grant and expiry.get(patient) != chain_expiry):
            disagreements.append(
                {
                    "patient": to_checksum_address(patient),
                    "database_record_ids": database_ids,
                    "chain_record_ids": chain_ids,
                    "database_expires_at": expiry.get(patient, 0),
                    "chain_expires_at": chain_expiry,
                }
            )
        if chain_grant:  # the chain wins
            grants.append(chain_grant)
    return {
        "source": "database",
        "consistent_with_chain": not disagreements,
        "disagreements": disagreements,
        "grants": grants,
    }


async def grants_of_patient(services: Services, patient: str) -> dict[str, Any]:
    """The patient's live grants, one per doctor, read from the chain (with any pending extension).

    Candidates are the doctors the database knows for this patient (requests, shared keys); the
    chain then decides whether each has a live grant, so an expired or revoked one never shows.
    """
    doctors = await services.access_requests.doctors_of_patient(patient.lower())
    doctors |= await services.grant_keys.doctors_of_patient(patient.lower())
    grants = []
    for doctor in sorted(doctors):
        approved = await services.chain.get_approved_records(patient, doctor)
        if not approved.record_ids:
            continue
        state = await services.chain.get_grant(patient, doctor)
        profile = await services.profiles.get_doctor(doctor)
        grants.append(
            {
                "doctor": to_checksum_address(doctor),
                "doctor_name": profile.name if profile else None,
                "doctor_registered": await services.chain.is_doctor(doctor),
                "expires_at": approved.expires_at,
                "pending_extension_seconds": state.pending_extension,
                "records": await _record_rows(services, patient, list(approved.record_ids)),
            }
        )
    return {"patient": to_checksum_address(patient), "source": "chain", "grants": grants}
