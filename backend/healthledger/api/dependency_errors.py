"""Failures of the services the API depends on, each answered with its own status and code.

An outage is not a bug: MongoDB unreachable is 503 `database_unavailable`, IPFS 502
`ipfs_unavailable`, the chain node 502 `chain_unavailable`, the relayer unable to get a
transaction to the chain 502 `relayer_unavailable`, a transaction sent but not mined in time 504
`transaction_timeout`. These handlers catch what escapes a route; routes that can say more (e.g.
"nothing was saved") raise their own ApiError first. Messages never quote the underlying error,
whose text can carry URLs with credentials, addresses or request data.
"""

from __future__ import annotations

import logging

from aiohttp import ClientError as ChainConnectionError
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pymongo.errors import DuplicateKeyError, PyMongoError
from web3.exceptions import Web3Exception

from ..chain.client import ChainError
from ..chain.relayer import RelayerUnavailable, TransactionReverted, TransactionTimeout
from ..errors import ApiError, error_body
from ..services.relay import relayer_unavailable, revert_to_api_error, transaction_timeout
from ..storage.ipfs import IpfsError

log = logging.getLogger(__name__)


def _answer(error: ApiError) -> JSONResponse:
    return JSONResponse(
        error_body(error.code, error.message, **error.details), status_code=error.status, headers=error.headers
    )


def install_dependency_error_handlers(app: FastAPI) -> None:
    """Register one handler per dependency failure (see the module docstring)."""

    @app.exception_handler(DuplicateKeyError)
    async def _duplicate(_: Request, exc: DuplicateKeyError) -> JSONResponse:
        # A write raced with another one for the same identity: the client may simply retry.
        log.warning("duplicate key", extra={"error_type": type(exc).__name__})
        return _answer(ApiError(409, "conflict", "this changed at the same time elsewhere; try again"))

    @app.exception_handler(PyMongoError)
    async def _database(_: Request, exc: PyMongoError) -> JSONResponse:
        log.warning("database unavailable", extra={"error_type": type(exc).__name__})
        return _answer(ApiError(503, "database_unavailable", "the database did not answer; try again shortly"))

    @app.exception_handler(IpfsError)
    async def _ipfs(_: Request, exc: IpfsError) -> JSONResponse:
        log.warning("ipfs unavailable", extra={"error_type": type(exc).__name__})
        return _answer(ApiError(502, "ipfs_unavailable", "IPFS did not answer; try again"))

    @app.exception_handler(RelayerUnavailable)
    async def _relayer(_: Request, exc: RelayerUnavailable) -> JSONResponse:
        log.warning("relayer unavailable", extra={"error_type": type(exc).__name__})
        return _answer(relayer_unavailable(exc))

    @app.exception_handler(TransactionTimeout)
    async def _timeout(_: Request, exc: TransactionTimeout) -> JSONResponse:
        return _answer(transaction_timeout(exc))

    @app.exception_handler(TransactionReverted)
    async def _reverted(_: Request, exc: TransactionReverted) -> JSONResponse:
        return _answer(revert_to_api_error(exc))

    async def _chain(_: Request, exc: Exception) -> JSONResponse:
        log.warning("chain unavailable", extra={"error_type": type(exc).__name__})
        return _answer(ApiError(502, "chain_unavailable", "the chain did not answer; try again"))

    for kind in (ChainConnectionError, ChainError, Web3Exception, TimeoutError):
        app.add_exception_handler(kind, _chain)
