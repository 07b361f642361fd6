"""Amendments: a structured record replaced by a new version that points to it, both kept and anchored.

Nothing is overwritten. An amendment is an ordinary signed upload (its own salt, signature, nonce and
on-chain record) with the form field `replaces` = the CID of the version it amends, whose FHIR
resource carries the link to that version's anchor (fhir/amendments.py). Before anything is stored
the upload is refused unless the previous version:

- is a record of the same patient's vault (404 `record_not_found` otherwise: another vault's records
  are not confirmed to exist),
- is structured (FHIR), as the new one is (400 `amendment_not_structured`), of the same record type
  (400 `amendment_kind_mismatch`),
- was written by the same signer: the same doctor, or the patient for their own (403 `not_record_author`),
- is on chain (409 `record_pending`: its anchor, which the link names, is not known yet),
- is the current version: nothing replaces it, mined or pending (409 `record_superseded`, naming the
  current version in `current`),

and the resource's link names exactly that version's anchor (400 `fhir_replaces_mismatch`, the
expected value in the message). A resource that carries a link without `replaces` is refused too.

Two amendments of one version racing past these checks: the records collection's unique index on
`replaces` lets only one pending document claim it; the other is 409 `record_superseded` before any
pin or transaction. The old version's `replaced_by` is set only when the new one is mined
(services/anchoring.py), so a failed or abandoned amendment (its document deleted) never marks it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_utils import to_checksum_address

from ..container import Services
from ..db.records import RecordDoc
from ..domain_errors import bad_request, conflict, forbidden, not_found
from ..fhir import CheckedResource, is_fhir_content_type
from ..fhir.amendments import replaces_link
from ..fhir.identifiers import anchor_value
from ..storage.ipfs import validate_cid

# Versions followed at most when walking a history (a guard against a cycle written by hand).
MAX_VERSIONS = 1000


async def check_amendment(
    services: Services,
    replaces: str | None,
    checked: CheckedResource | None,
    record_type: str,
    patient: str,
    author: str | None,
) -> str | None:
    """The CID the upload amends (module docstring's checks passed), or None for a new record.

    `checked` is the validated FHIR resource (None for a file); `author` the doctor writing, None
    when the patient writes their own."""
    link = replaces_link(checked.document) if checked is not None else None
    if not replaces:
        if link is not None:
            raise bad_request(
                "fhir_replaces_mismatch",
                "the resource names a version it replaces: send that version's CID as the form field `replaces`",
                field="replaces",
            )
        return None
    try:
        validate_cid(replaces)
    except ValueError as exc:
        raise bad_request("invalid_cid", "replaces must be the CID of the record this one amends") from exc
    if checked is None:
        raise bad_request(
            "amendment_not_structured", "only structured records (application/fhir+json) are amended: upload a new file instead"
        )
    previous = await services.records.get_by_cid(replaces)
    if previous is None or previous.patient != patient.lower():
        raise not_found("record_not_found", "no record with this CID in this patient's vault")
    if not is_fhir_content_type(previous.content_type):
        raise bad_request("amendment_not_structured", "the record named by `replaces` is a file, not a structured record")
    if previous.record_type != record_type:
        raise bad_request(
            "amendment_kind_mismatch", f"an amendment keeps the record type: {previous.record_type}, not {record_type}"
        )
    if (previous.author or None) != (author.lower() if author else None):
        raise forbidden("not_record_author", "only the author of a record may amend it")
    current = await current_version(services, previous)
    if current.cid != previous.cid:
        raise conflict(
            "record_superseded",
            f"this version was already replaced; amend the current version {current.cid}",
            current=current.cid,
        )
    if not previous.on_chain:
        raise conflict("record_pending", "the version you amend is not anchored yet: try again once it is")
    assert previous.record_id is not None
    expected = anchor_value(await services.chain.chain_id(), to_checksum_address(previous.vault_address), previous.record_id)
    if link is None or link.lower() != expected.lower():
        raise bad_request(
            "fhir_replaces_mismatch",
            f'the resource must carry the extension {{"url": "urn:healthledger:fhir:replaces", "valueIdentifier": '
            f'{{"system": "urn:healthledger:anchor", "value": "{expected}"}}}}',
            field="extension",
        )
    return previous.cid


def superseded_claim(current: str | None) -> Exception:
    """409 `record_superseded` when another amendment's pending document (`current`) already claims
    the version (the unique index on `replaces` refused this one's document)."""
    return conflict("record_superseded", "another amendment of this version is already being stored", current=current)


async def current_version(services: Services, record: RecordDoc) -> RecordDoc:
    """The newest version in `record`'s history (mined or still pending), following successors."""
    current = record
    for _ in range(MAX_VERSIONS):
        successor = await services.records.successor_of(current.cid)
        if successor is None:
            return current
        current = successor
    return current


@dataclass(frozen=True)
class History:
    """A record's versions, newest first."""

    current: RecordDoc
    versions: list[RecordDoc]


async def history(services: Services, record: RecordDoc) -> History:
    """Every version of `record`'s history, newest first: forward to the current one, then back
    through `replaces` to the first."""
    newest = await current_version(services, record)
    versions = [newest]
    seen = {newest.cid}
    while versions[-1].replaces and len(versions) < MAX_VERSIONS:
        previous = await services.records.get_by_cid(versions[-1].replaces)
        if previous is None or previous.cid in seen or previous.patient != record.patient:
            break
        seen.add(previous.cid)
        versions.append(previous)
    return History(current=newest, versions=versions)


def version_view(record: RecordDoc, chain_id: int) -> dict[str, Any]:
    """One version as the history lists it: its public fields and its anchor value (null until mined)."""
    anchor = (
        anchor_value(chain_id, to_checksum_address(record.vault_address), record.record_id)
        if record.on_chain and record.record_id is not None
        else None
    )
    return {**record.public(), "anchor": anchor}

