"""Failures of the services the API depends on, each answered with its own status and code.

An outage is not a bug: MongoDB unreachable is 503 `database_unavailable`, IPFS 502
`ipfs_unavailable`, the chain node 502 `chain_unavailable`, the relayer unable to get a
transaction to the chain 502 `relayer_unavailable`, a transaction sent but not mined in time 504
`transaction_timeout`. These handlers catch what escapes a route; routes that can say more (e.g.
"nothing was saved") raise their own domain error first. Messages never quote the underlying error,
whose text can carry URLs with credentials, addresses or request data.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import ClientError as ChainConnectionError
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pymongo.errors import DuplicateKeyError, PyMongoError
from web3.exceptions import Web3Exception

from ..chain.client import ChainError, ChainUnavailable
from ..chain.relayer import RelayerUnavailable, TransactionReverted, TransactionTimeout
from ..domain_errors import Conflict, DomainError, ServiceUnavailable, Unavailable
from ..errors import ApiError, error_body, to_api_error
from ..services.relay import relayer_unavailable, revert_to_domain_error, transaction_timeout
from ..storage.ipfs import IpfsError

log = logging.getLogger(__name__)


def _conflict(_: Exception) -> DomainError:
    # A write raced with another one for the same identity: the client may simply retry.
    return Conflict("conflict", "this changed at the same time elsewhere; try again")


def _database(_: Exception) -> DomainError:
    return ServiceUnavailable("database_unavailable", "the database did not answer; try again shortly")


def _ipfs(_: Exception) -> DomainError:
    return Unavailable("ipfs_unavailable", "IPFS did not answer; try again")


def _chain(_: Exception) -> DomainError:
    return Unavailable("chain_unavailable", "the chain did not answer; try again")


# Most specific first is not needed (Starlette picks the handler by the exception's class hierarchy),
# but reading top-down gives the same answer.
TRANSLATIONS: tuple[tuple[type[Exception], Callable[[Any], DomainError | ApiError]], ...] = (
    (DuplicateKeyError, _conflict),
    (PyMongoError, _database),
    (IpfsError, _ipfs),
    (RelayerUnavailable, relayer_unavailable),
    (TransactionTimeout, transaction_timeout),
    (TransactionReverted, revert_to_domain_error),
    (ChainUnavailable, _chain),
    (ChainConnectionError, _chain),
    (ChainError, _chain),
    (Web3Exception, _chain),
    (TimeoutError, _chain),
)


def _handler(
    translate: Callable[[Any], DomainError | ApiError],
) -> Callable[[Request, Exception], Awaitable[JSONResponse]]:
    async def answer(_: Request, exc: Exception) -> JSONResponse:
        translated = translate(exc)
        error = to_api_error(translated) if isinstance(translated, DomainError) else translated
        log.warning("dependency failure", extra={"error_type": type(exc).__name__, "code": error.code})
        return JSONResponse(
            error_body(error.code, error.message, **error.details), status_code=error.status, headers=error.headers
        )

    return answer


def install_dependency_error_handlers(app: FastAPI) -> None:
    """Register one handler per dependency failure (see the module docstring)."""
    for kind, translate in TRANSLATIONS:
        app.add_exception_handler(kind, _handler(translate))
