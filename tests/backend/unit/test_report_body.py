"""The integrity report's answer is written straight from the service's rows (api/integrity_report.py's
`report_body`): it must be byte for byte what the declared response model writes, and must not drift
from that model when either side gains or loses a field."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime

import pytest
from pydantic_core import PydanticSerializationError

from healthledger.api.integrity_report import _ReportBody, report_body
from healthledger.api.schemas.system import IntegrityReport as ReportModel
from healthledger.api.schemas.system import ReportRow as RowModel
from healthledger.services.integrity_report import STATUSES, IntegrityReport, ReportRow


def _row(i: int, status: str, **changes: object) -> ReportRow:
    row = ReportRow(
        cid=f"bafkreicid{i}",
        record_id=i,
        patient=f"0x{i % 3:040x}",
        state="confirmed",
        record_type="prescription",
        database=True,
        blockchain=True,
        ipfs=True,
        status=status,  # type: ignore[arg-type]
        database_hash="0x" + f"{i:064x}",
        blockchain_hash="0x" + f"{i:064x}",
    )
    return dataclasses.replace(row, **changes)


def _report() -> IntegrityReport:
    rows = [
        _row(0, "verified", reanchored=2),
        _row(1, "mismatched", blockchain=False, blockchain_hash="0x" + "ee" * 32,
             problems=["the chain holds a different hash than the database"]),
        _row(2, "missing", ipfs=False, problems=["the ciphertext is not pinned on the IPFS node"]),
        _row(3, "pending", record_id=None, state="pending", blockchain=None, blockchain_hash=None,
             problems=["the upload is not confirmed on chain yet"]),
        _row(4, "unanchored", state="unanchored", blockchain=False, blockchain_hash=None,
             problems=["reorganised away", "éàü ‖ \"quoted\""]),
    ]
    return IntegrityReport(
        scope="all", rows=rows, checked_at=datetime(2026, 11, 30, 18, 0, 1, 123456, tzinfo=UTC),
        timings_ms={"database": 1.5, "ipfs": 2.0, "chain": 0.25, "checks": 3.0, "total": 4.75},
    )


@pytest.mark.parametrize("status", [None, *STATUSES])
def test_the_body_is_what_the_response_model_writes(status: str | None) -> None:
    report = _report()
    through_the_model = ReportModel.model_validate(report.as_json(status)).model_dump_json().encode()
    assert report_body(report, status) == through_the_model
    body = json.loads(report_body(report, status))
    assert body["total"] == 5 and len(body["records"]) == (5 if status is None else 1)


def test_the_body_has_the_models_fields_in_the_models_order() -> None:
    assert [f.name for f in dataclasses.fields(ReportRow)] == list(RowModel.model_fields)
    assert [f.name for f in dataclasses.fields(_ReportBody)] == list(ReportModel.model_fields)
    assert list(_report().summary()) == list(ReportModel.model_fields)[:-1]


def test_a_value_of_another_type_fails_instead_of_going_out() -> None:
    report = _report()
    report.rows[0].record_id = "7"  # type: ignore[assignment]
    with pytest.raises(PydanticSerializationError):
        report_body(report)
