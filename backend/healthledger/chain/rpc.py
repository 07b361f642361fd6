"""The JSON-RPC transport under `ChainClient`: the web3 provider, its retries, and its failures.

Why a module of its own: what a failure of the node *means* is decided here, once. A node that
cannot be reached or does not answer in time becomes `ChainUnavailable` (the API answers 502
`chain_unavailable`); a node that answers with an error or nonsense becomes `ChainError`. Callers
above the chain package never see aiohttp's or web3's transport exceptions.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, ParamSpec, TypeVar

from aiohttp import (
    ClientError,
    ClientOSError,
    ClientSession,
    ClientTimeout,
    ServerDisconnectedError,
    TCPConnector,
)
from aiohttp.client_exceptions import ClientConnectionResetError
from eth_typing import URI
from web3 import AsyncHTTPProvider, AsyncWeb3
from web3._utils.caching import generate_cache_key
from web3._utils.http_session_manager import HTTPSessionManager
from web3.providers.rpc.utils import (
    REQUEST_RETRY_ALLOWLIST,
    ExceptionRetryConfiguration,
)
from web3.types import RPCEndpoint, RPCResponse

from ..metrics import observe_dependency_seconds

P = ParamSpec("P")
R = TypeVar("R")

# Requests per JSON-RPC batch: large enough that 1,000 records take 2 requests, small enough that
# hosted providers (which cap batch sizes, often at 100-1000) and their body limits accept it.
DEFAULT_BATCH_SIZE = 500

# How long an idle connection to the node is kept for the next request (see LoopLocalSessionManager).
KEEPALIVE_SECONDS = 15.0

# web3 tries a failed request 5 times (back-off 0.125 s, doubling) on any transport error *or timeout*:
# a node that accepts connections but does not answer then costs 5 x RPC_TIMEOUT_SECONDS per call.
# Only failures that are quick and that a fresh connection may cure are tried again: the node
# refusing connections (restarting) or closing a pooled one. A timeout is answered at once.
#
# `eth_sendRawTransaction` is never tried again here: the relayer tells from the failure whether the
# transaction may have reached the node (`RelayerUnavailable.maybe_sent`), and a retry that ends
# refused would hide a first attempt the node took before it went away. The relayer re-sends
# (same signed transaction) itself when the node turns out not to have it.
RETRY_ON_CONNECTION_ERRORS = ExceptionRetryConfiguration(
    errors=(ClientOSError, ClientConnectionResetError, ServerDisconnectedError),
    method_allowlist=[method for method in REQUEST_RETRY_ALLOWLIST if method != "eth_sendRawTransaction"],
)


class ChainError(RuntimeError):
    """The node answered with a JSON-RPC error (or an answer we cannot use)."""


class ChainUnavailable(ChainError):
    """The node could not be reached, or did not answer in time. The message never quotes the cause."""


# What the raw transport raises when the node cannot be reached or does not answer in time.
_TRANSPORT_ERRORS: tuple[type[BaseException], ...] = (ClientError, TimeoutError)

# What a call to the node can raise for an outage: ChainClient's own methods raise ChainUnavailable;
# the relayer, which speaks to web3 directly, still sees the transport's exceptions.
CHAIN_TRANSPORT_ERRORS: tuple[type[BaseException], ...] = (ChainUnavailable, *_TRANSPORT_ERRORS)


def translate_outages(method: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """Wrap an async ChainClient method so transport failures leave it as `ChainUnavailable`."""

    @functools.wraps(method)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await method(*args, **kwargs)
        except ChainUnavailable:
            raise
        except _TRANSPORT_ERRORS as exc:
            raise ChainUnavailable(f"the chain node did not answer ({type(exc).__name__})") from exc

    return wrapper


class LoopLocalSessionManager(HTTPSessionManager):
    """web3's HTTP session manager without the thread lock it takes on every async request.

    Why: web3 7 acquires a `threading.Lock` through a thread pool (`async_lock`) before each request
    to find its cached aiohttp session. A request cancelled while that acquire is pending (a timeout,
    or a task given up, e.g. an upload's nonce read when the upload is refused mid-stream) leaves
    the lock taken for good once the thread gets it: every later chain request of the process waits
    for ever (seen in `make test`: the next sign-in never answered). Each event loop here has its
    own sessions and nothing awaits between looking a session up and caching a new one, so no lock
    is needed at all.

    Its connections are kept alive between requests (web3's session closes each one: `force_close`).
    A relayed upload makes about fifteen requests to the node, and a new TCP connection for each cost
    the API about 16 ms of CPU per 1 MB upload (measured per process on the benchmark's stack).
    An idle connection is closed after KEEPALIVE_SECONDS, sooner than nodes and the load balancers
    in front of hosted ones close theirs (geth 120 s, common balancers 60 s), so a request seldom
    meets a connection the far end closed; one that does is sent again on a fresh connection
    (RETRY_ON_CONNECTION_ERRORS), except a raw transaction, which the relayer checks for itself.
    """

    async def async_cache_and_return_session(
        self,
        endpoint_uri: URI,
        session: ClientSession | None = None,
        request_timeout: ClientTimeout | None = None,
    ) -> ClientSession:
        key = generate_cache_key(f"{id(asyncio.get_running_loop())}:{endpoint_uri}")
        cached = self.session_cache.get_cache_entry(key)
        if cached is not None and not cached.closed and not cached._loop.is_closed():
            return cached
        self.session_cache.pop(key)
        fresh = session or ClientSession(
            raise_for_status=True,
            connector=TCPConnector(keepalive_timeout=KEEPALIVE_SECONDS, enable_cleanup_closed=True),
        )
        _, evicted = self.session_cache.cache(key, fresh)
        for old in (evicted or {}).values():
            if not old.closed and not old._loop.is_closed():
                asyncio.ensure_future(old.close())  # a session of this process's oldest loop: let it go
        return fresh


class TimedHTTPProvider(AsyncHTTPProvider):
    """web3's HTTP provider, with every JSON-RPC request timed into the dependency histogram.

    The provider's two request methods are the one point every call to the node passes (web3's
    contract calls, the relayer's sends, our raw batches), so timing here misses nothing. The
    operation label is the JSON-RPC method (a fixed set); a batch is `batch`.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._request_session_manager = LoopLocalSessionManager()

    async def make_request(self, method: RPCEndpoint, params: Any) -> RPCResponse:
        started, ok = time.perf_counter(), False
        try:
            response = await super().make_request(method, params)
            ok = not (isinstance(response, Mapping) and response.get("error"))
            return response
        finally:
            observe_dependency_seconds("chain", str(method), time.perf_counter() - started, ok)

    async def make_batch_request(self, batch_requests: Any) -> Any:
        started, ok = time.perf_counter(), False
        try:
            response = await super().make_batch_request(batch_requests)
            ok = isinstance(response, list)
            return response
        finally:
            observe_dependency_seconds("chain", "batch", time.perf_counter() - started, ok)


def make_web3(rpc_url: str, timeout_seconds: float) -> AsyncWeb3:
    """An async web3 over HTTP with our timeout and retry rules, without web3's validation middleware.

    That middleware asks the node for its chain id twice (once for the request, once for the
    answer) around every `eth_call`, `eth_estimateGas` and `eth_sendTransaction`, only to check a
    `chainId` field we never put in those requests (the relayer signs its transactions itself, with
    the chain id ChainClient reads once). That was three round trips instead of one for each
    contract read made through web3 (a role check on a doctor's request, a bill's state) and the
    relayer's gas estimate. Its other check refuses a block whose `extraData` is longer than 32 bytes
    (proof-of-authority chains keep signatures there); we read only timestamps and fees from blocks.
    """
    # web3's async session manager reads `.total` from the timeout: it must be a ClientTimeout.
    w3 = AsyncWeb3(
        TimedHTTPProvider(
            rpc_url,
            request_kwargs={"timeout": ClientTimeout(total=timeout_seconds)},
            exception_retry_configuration=RETRY_ON_CONNECTION_ERRORS,
        )
    )
    w3.middleware_onion.remove("validation")
    return w3


def rpc_result(response: Mapping[str, Any], what: str) -> Any:
    """The `result` of one JSON-RPC answer; ChainError for an error answer or a malformed one."""
    if not isinstance(response, Mapping):
        raise ChainError(f"{what}: unexpected JSON-RPC answer {response!r}")
    if response.get("error"):
        raise ChainError(f"{what}: {response['error']}")
    return response.get("result")


async def raw_request(w3: AsyncWeb3, method: str, params: list[Any], what: str) -> Any:
    """One raw JSON-RPC request through the session's provider (timed, with its timeout); its result."""
    return rpc_result(await w3.provider.make_request(method, params), what)  # type: ignore[arg-type]


async def batch_request(
    w3: AsyncWeb3,
    calls: Sequence[tuple[str, list[Any]]],
    what: str,
    batch_size: int,
    *,
    concurrency: int = 1,
) -> list[Any]:
    """Send raw JSON-RPC requests in batches of `batch_size`, up to `concurrency` batches in flight
    at once; results in request order. The first failure cancels the batches still running."""
    provider = w3.provider

    async def one(chunk: list[tuple[str, list[Any]]]) -> list[Any]:
        responses = await provider.make_batch_request(chunk)  # type: ignore[arg-type]
        if not isinstance(responses, list):  # the node rejected the whole batch
            raise ChainError(f"{what}: {rpc_result(responses, what)!r}")
        if len(responses) != len(chunk):
            raise ChainError(f"{what}: {len(chunk)} requests but {len(responses)} answers")
        return [rpc_result(r, what) for r in responses]

    chunks = [list(calls[start : start + batch_size]) for start in range(0, len(calls), batch_size)]
    if concurrency <= 1 or len(chunks) <= 1:
        return [result for chunk in chunks for result in await one(chunk)]
    limit = asyncio.Semaphore(concurrency)

    async def bounded(chunk: list[tuple[str, list[Any]]]) -> list[Any]:
        async with limit:
            return await one(chunk)

    tasks = [asyncio.ensure_future(bounded(chunk)) for chunk in chunks]
    try:
        answers = await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return [result for chunk_answers in answers for result in chunk_answers]
