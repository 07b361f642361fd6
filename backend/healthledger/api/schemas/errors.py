"""The common error schema, and the documented error answers of each operation.

Every failure the API reports is `{"error": {"code", "message", ...}}` (errors.py). Operations
declare which statuses they can answer with, and under which codes, with `errors(...)`: the codes
go into each response's description, so a client (and schemathesis' status-code conformance check)
knows every status to expect. The groups below are the causes many operations share.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

Codes = Mapping[int, Iterable[str]]


class ErrorDetail(BaseModel):
    """A stable machine code, a readable message, and sometimes details (e.g. `mismatched`)."""

    model_config = ConfigDict(extra="allow")

    code: str = Field(description="Stable machine-readable code, e.g. `invalid_cid`")
    message: str = Field(description="What went wrong, for a person")


class ErrorResponse(BaseModel):
    """The body of every 4xx and 5xx answer."""

    error: ErrorDetail


TITLES = {
    400: "Bad request",
    401: "Not signed in, or the access token was rejected",
    403: "Not allowed for this caller",
    404: "Not found",
    409: "Conflict with the current state",
    413: "Request body too large",
    422: "Request does not match the schema",
    429: "Rate limited (see Retry-After)",
    500: "Internal error",
    502: "A dependency (chain, IPFS, relayer) failed",
    503: "Unavailable (see the code)",
    504: "Transaction sent but not mined in time",
}

# Every operation: any body over the limit, and the last-resort catch-all.
ALWAYS: Codes = {413: ("payload_too_large",), 500: ("internal_error",)}
# FastAPI's request validation (only operations that take parameters or a body).
VALIDATION: Codes = {422: ("invalid_request",)}
# A body FastAPI cannot parse at all (e.g. JSON that is not UTF-8).
BODY: Codes = {400: ("http_error",)}
# `current_caller` (api/deps.py): the bearer token, and the role the chain gives its holder now.
AUTH: Codes = {
    401: ("missing_token", "invalid_token", "role_changed"),
    403: ("not_registered_doctor", "not_registrar"),
    502: ("chain_unavailable",),
}
# `require_role` and services that check the caller's role.
ROLE: Codes = {403: ("wrong_role",)}
DATABASE: Codes = {503: ("database_unavailable",)}
# A write that raced another one for the same identity (a duplicate key).
WRITE: Codes = {409: ("conflict",)}
CHAIN: Codes = {502: ("chain_unavailable",)}
IPFS: Codes = {502: ("ipfs_unavailable",)}
RATE_LIMITED: Codes = {429: ("rate_limited",), 503: ("database_unavailable",)}
# Checking a signed EIP-712 action, then relaying it (services/relay.py).
SIGNED: Codes = {
    400: ("malformed_signature", "invalid_signature", "invalid_params", "signature_expired"),
    409: ("stale_nonce", "nonce_too_far_ahead"),
}
RELAYED: Codes = {
    400: ("signature_expired", "invalid_signature", "unknown_record", "invalid_duration", "no_records_selected"),
    403: ("not_registered_doctor",),
    409: (
        "stale_nonce",
        "nonce_wait_expired",
        "no_pending_request",
        "no_active_grant",
        "no_pending_extension",
        "extension_mismatch",
        "no_write_grant",
        "grant_changed",
        "transaction_rejected",
    ),
    502: ("relayer_unavailable", "chain_unavailable"),
    504: ("transaction_timeout",),
}


def errors(*groups: Codes, validation: bool = True) -> dict[int | str, dict[str, Any]]:
    """FastAPI `responses=` for the error statuses of `groups` (plus ALWAYS, and 422 if `validation`).

    Each status is documented with the ErrorResponse schema and, in its description, its codes.
    """
    merged: dict[int, list[str]] = {}
    for group in (ALWAYS, *((VALIDATION,) if validation else ()), *groups):
        for status, codes in group.items():
            known = merged.setdefault(status, [])
            known.extend(code for code in codes if code not in known)
    return {
        status: {
            "model": ErrorResponse,
            "description": f"{TITLES.get(status, 'Error')}: " + ", ".join(f"`{code}`" for code in merged[status]),
        }
        for status in sorted(merged)
    }
