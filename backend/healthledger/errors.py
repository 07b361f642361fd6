"""One error shape for every failure the API reports: `{"error": {"code", "message"}}`.

Services raise domain errors (domain_errors.py: what went wrong, not which HTTP status); the one
table `HTTP_STATUS` here turns each kind into its status. Routers may still raise `ApiError` for
purely HTTP concerns. Handlers here turn both, FastAPI's validation errors and Starlette's HTTP
errors into that shape. Failures of MongoDB, IPFS, the chain and the relayer get their own codes
(api/dependency_errors.py); anything else unexpected becomes a 500 whose message reveals nothing
internal (api/error_handling.py).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from .domain_errors import (
    Conflict,
    DomainError,
    InvalidInput,
    NotAllowed,
    NotAuthenticated,
    NotFound,
    RateLimited,
    ServiceUnavailable,
    TimedOut,
    TooLarge,
    Unavailable,
    Unprocessable,
    bad_request,
    conflict,
    forbidden,
    not_found,
    unauthorized,
)

# `bad_request`, `forbidden`, ... are re-exported: they build domain errors, whoever imports them from here.
__all__ = [
    "HTTP_STATUS",
    "ApiError",
    "bad_request",
    "conflict",
    "error_body",
    "forbidden",
    "http_status",
    "install_error_handlers",
    "not_found",
    "to_api_error",
    "unauthorized",
]

log = logging.getLogger(__name__)


class ApiError(Exception):
    """An error meant for the client: an HTTP status, a stable machine code and a readable message.

    `headers` are sent with the response (e.g. `Retry-After` on a 429); `details` go into the body.
    """

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        headers: dict[str, str] | None = None,
        **details: Any,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers) if headers else None
        self.details = details


# The one place a kind of domain error becomes an HTTP status (most specific class first).
HTTP_STATUS: tuple[tuple[type[DomainError], int], ...] = (
    (InvalidInput, 400),
    (Unprocessable, 422),
    (NotAuthenticated, 401),
    (NotAllowed, 403),
    (NotFound, 404),
    (Conflict, 409),
    (TooLarge, 413),
    (RateLimited, 429),
    (Unavailable, 502),
    (ServiceUnavailable, 503),
    (TimedOut, 504),
)

def http_status(error: DomainError) -> int:
    """The HTTP status of a domain error (500 for a kind the table does not know: a bug)."""
    for kind, status in HTTP_STATUS:
        if isinstance(error, kind):
            return status
    return 500


def to_api_error(error: DomainError) -> ApiError:
    """A domain error as the HTTP error the API answers with (a Retry-After header when it says when)."""
    retry = error.details.get("retry_after_seconds")
    headers = {"Retry-After": str(retry)} if retry is not None else None
    return ApiError(http_status(error), error.code, error.message, headers=headers, **error.details)


def error_body(code: str, message: str, **details: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "message": message}
    body.update(details)
    return {"error": body}


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers that give every error response the same JSON shape."""

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(
            error_body(exc.code, exc.message, **exc.details), status_code=exc.status, headers=exc.headers
        )

    @app.exception_handler(DomainError)
    async def _domain_error(request: Request, exc: DomainError) -> JSONResponse:
        return await _api_error(request, to_api_error(exc))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = []
        for err in exc.errors():
            where = ".".join(str(part) for part in err.get("loc", ()) if part not in ("body", "query", "header"))
            if err.get("type") == "union_tag_invalid":
                # A body whose discriminator names nothing we know (a typed-data `action`): 400, not a shape error.
                return JSONResponse(error_body("unknown_action", f"{where}: {err.get('msg')}"), status_code=400)
            problems.append(f"{where}: {err.get('msg')}" if where else str(err.get("msg")))
        message = "invalid request: " + "; ".join(problems) if problems else "invalid request"
        return JSONResponse(error_body("invalid_request", message), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}.get(
            exc.status_code, "http_error"
        )
        return JSONResponse(error_body(code, str(exc.detail)), status_code=exc.status_code)
