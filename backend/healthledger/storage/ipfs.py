"""Async client for the Kubo RPC API (`/api/v0`), as served by Kubo and by js-ipfs 0.66.

Only what HealthLedger needs: streamed add (pinned, CIDv1, raw leaves, sha2-256), streamed cat,
pin checks, unpin and version. Every call has a client-side timeout; calls that may wait for content
the node lacks (`files/stat` before each `cat`, `cat`, `pin/ls`) also pass `timeout=` to the node,
because an offline or isolated node otherwise waits forever for blocks nobody will send.

Errors: `IpfsError` is the base class; `IpfsUnavailable` means the node could not be reached or did
not answer in time; `IpfsNotFound` means the node answered but does not have (or could not find in
time) the content. CIDs from callers are checked with `validate_cid` before any request.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import functools
import json
import math
import secrets
import time
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import base58
import httpx
from cid import make_cid

from ..metrics import observe_dependency_seconds

__all__ = [
    "AddResult",
    "IpfsClient",
    "IpfsError",
    "IpfsNotFound",
    "IpfsUnavailable",
    "validate_cid",
]

# Options for /add that give the same CID as Kubo's `ipfs add --cid-version=1` (which implies raw
# leaves) with its default chunker (size-262144) and hash (sha2-256).
ADD_PARAMS: dict[str, str] = {
    "cid-version": "1",
    "raw-leaves": "true",
    "hash": "sha2-256",
    "chunker": "size-262144",
    "pin": "true",
    "progress": "false",
}

_MAX_CID_LENGTH = 512
_CID_CHARSET = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
# Substrings of node error messages meaning "this content is not here / was not found in time".
_NOT_FOUND_HINTS = (
    "not found",
    "could not find",
    "timed out",
    "timeout",
    "deadline exceeded",
    "not pinned",
    "no link named",
)


class IpfsError(Exception):
    """The IPFS node failed a request."""


class IpfsUnavailable(IpfsError):
    """The IPFS node could not be reached, or did not answer within the timeout."""


class IpfsNotFound(IpfsError):
    """The IPFS node does not have the content (or could not find it before its timeout)."""


@dataclass(frozen=True)
class AddResult:
    cid: str
    """CIDv1, base32 (``bafk...`` for a file of one chunk, ``bafy...`` for a larger one)."""
    size: int
    """Bytes of content sent (the file's own size, not the DAG size the node reports)."""


def validate_cid(cid: str) -> str:
    """Return `cid` if it is a well-formed CID (v0 or v1, any multibase py-cid knows), else ValueError."""
    if not isinstance(cid, str):
        raise ValueError("a CID must be a string")
    if not cid or len(cid) > _MAX_CID_LENGTH or not _CID_CHARSET.issuperset(cid):
        raise ValueError(f"not a valid CID: {cid[:80]!r}")
    try:
        make_cid(cid)
    except Exception as exc:  # py-cid raises ValueError, KeyError, TypeError, ... for garbage
        raise ValueError(f"not a valid CID: {cid[:80]!r}") from exc
    return cid


def _cid_v1_bytes(cid: str) -> bytes | None:
    """The binary CIDv1 behind base58btc (`z...`) or base32 (`b...`) text; None for anything else.

    Decoded with the `base58` package and the standard library's base32 rather than py-cid: py-cid's
    `make_cid(...).encode("base32")` parses the multihash and codec too and costs 100-250 µs a CID,
    over a second for the 10,000+ pins of one integrity report; this takes a few µs (base32, the
    form IPFS nodes list CIDv1 pins in) to about 30 µs (base58btc). Only the version byte is checked:
    two texts normalise to the same string exactly when they carry the same bytes, which is all the
    pin comparison needs; anything else goes to py-cid.
    """
    try:
        if cid.startswith("z"):
            raw = base58.b58decode(cid[1:])
        elif cid.startswith("b"):
            body = cid[1:].upper()
            raw = base64.b32decode(body + "=" * (-len(body) % 8))
        else:
            return None
    except (ValueError, binascii.Error):
        return None
    return raw if len(raw) > 2 and raw[0] == 1 else None


@functools.lru_cache(maxsize=32_768)
def to_base32_v1(cid: str) -> str:
    """The base32 text form of a CIDv1 (CIDv0 is returned unchanged: it has only base58).

    Cached (a pure function): an integrity report normalises every pin of the node, the same ones
    each time; 32,768 entries are a few MB.
    """
    raw = _cid_v1_bytes(cid)
    if raw is not None:
        return "b" + base64.b32encode(raw).decode().lower().rstrip("=")
    parsed = make_cid(cid)
    if parsed.version == 0:
        return cid
    return parsed.encode("base32").decode()


_NORMALISE_IN_THREAD_FROM = 1000
# `pinned_among`: CIDs asked about per `pin/ls` call (about 3.5 KB of query string, far below the
# nodes' request-line limits) and calls in flight at once.
PIN_LS_ARGS = 50
PIN_LS_CONCURRENCY = 4


def _normalised_cids(cids: Any) -> set[str]:
    """`to_base32_v1` of each CID; unparsable ones are left out (they cannot match any record's CID)."""
    pinned = set()
    for cid in cids:
        try:
            pinned.add(to_base32_v1(cid))
        except Exception:  # noqa: BLE001 - py-cid raises many types for garbage
            continue
    return pinned


def _boundary() -> str:
    return "healthledger-" + secrets.token_hex(16)


async def _multipart_file(chunks: AsyncIterator[bytes], boundary: str, counter: list[int]) -> AsyncIterator[bytes]:
    """One `file` part of multipart/form-data, streamed; `counter[0]` accumulates the content size."""
    yield (
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="file"; filename="blob"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    async for chunk in chunks:
        if chunk:
            counter[0] += len(chunk)
            yield bytes(chunk)
    yield f"\r\n--{boundary}--\r\n".encode()


class TimedTransport(httpx.AsyncBaseTransport):
    """Times every request to the node into the dependency histogram (metrics.py).

    The transport is the one point all of this client's calls pass (`add`, `cat`, `files/stat`,
    pins, ...); the operation label is the RPC command from the path (a fixed set). The time is to
    the answer's headers: an `add` includes sending the whole file, a `cat` not the streaming of it.
    """

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self._inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        started, ok = time.perf_counter(), False
        try:
            response = await self._inner.handle_async_request(request)
            ok = response.status_code < 500
            return response
        finally:
            operation = request.url.path.rpartition("/api/v0/")[2] or "other"
            observe_dependency_seconds("ipfs", operation, time.perf_counter() - started, ok)

    async def aclose(self) -> None:
        await self._inner.aclose()


def _timeout_param(seconds: float) -> str:
    # Kubo and js-ipfs both parse Go-style durations; whole seconds are the least ambiguous.
    return f"{max(1, math.ceil(seconds))}s"


class IpfsClient:
    """One connection pool to one node's RPC API, e.g. ``IpfsClient("http://127.0.0.1:5001")``.

    `timeout_seconds` bounds connecting and each read/write (not a whole transfer, so large files
    are fine). `content_timeout_seconds` (default: the same) is what the node is given to find
    content (`cat_stream`, `file_size`, `has`); `transfer_timeout_seconds` is the node-side
    deadline for a whole `cat` once the file was found (a stalled transfer still fails after
    `timeout_seconds` without data).
    """

    def __init__(
        self,
        api_url: str,
        timeout_seconds: float = 30.0,
        *,
        content_timeout_seconds: float | None = None,
        transfer_timeout_seconds: float = 3600.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self.timeout_seconds = timeout_seconds
        self.content_timeout_seconds = content_timeout_seconds or timeout_seconds
        self.transfer_timeout_seconds = transfer_timeout_seconds
        self._http = httpx.AsyncClient(
            base_url=self.api_url + "/api/v0",
            timeout=httpx.Timeout(timeout_seconds),
            transport=TimedTransport(transport or httpx.AsyncHTTPTransport()),
            # The RPC API is not a web page: never follow redirects, never read proxy settings for
            # a node that normally sits on localhost.
            follow_redirects=False,
            trust_env=False,
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> IpfsClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- API ---------------------------------------------------------------------------------------

    async def version(self) -> str:
        data = await self._call_json("version")
        return str(data.get("Version", ""))

    async def add_stream(self, chunks: AsyncIterator[bytes], *, pin: bool = True) -> AddResult:
        """Add one file read from `chunks`, without holding it in memory; pinned unless `pin=False`.

        `pin=False` then `pin(cid)` once the caller has recorded the CID: content whose answer was
        lost (the node stored it, the caller never learnt its CID) then stays unpinned, and the
        node's garbage collection can take it, instead of a pin nobody can ever name.
        """
        boundary = _boundary()
        counter = [0]
        body = _multipart_file(chunks, boundary, counter)
        headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
        params = ADD_PARAMS if pin else {**ADD_PARAMS, "pin": "false"}
        try:
            response = await self._http.post("add", params=params, content=body, headers=headers)
        except httpx.TimeoutException as exc:
            raise IpfsUnavailable(f"IPFS add timed out: {exc!r}") from exc
        except httpx.TransportError as exc:
            raise IpfsUnavailable(f"IPFS node unreachable at {self.api_url}: {exc!r}") from exc
        _raise_for_status(response, "add")
        # The answer is newline-delimited JSON: one object per added file (just one here).
        last: dict[str, Any] | None = None
        for line in response.text.splitlines():
            if line.strip():
                obj = json.loads(line)
                if "Hash" in obj:
                    last = obj
        if last is None:
            raise IpfsError(f"IPFS add returned no hash: {response.text[:200]!r}")
        return AddResult(cid=to_base32_v1(last["Hash"]), size=counter[0])

    async def cat_stream(self, cid: str, chunk_size: int | None = 65536) -> AsyncIterator[bytes]:
        """The file's bytes, streamed. IpfsNotFound if the node cannot find it in time.

        Two requests: `files/stat` (bounded by `content_timeout_seconds`) finds the file and its
        size, then `cat` streams it. The RPC `timeout=` is a deadline for the whole command, and a
        node that hits it (or fails) mid-stream only says so in an HTTP trailer that clients
        cannot see: the stream just ends. So the bytes received are checked against the size, and a
        short stream raises IpfsError instead of passing as a complete file.
        """
        validate_cid(cid)
        size = await self.file_size(cid)
        params = {"arg": cid, "timeout": _timeout_param(self.transfer_timeout_seconds)}
        received = 0
        try:
            async with self._http.stream("POST", "cat", params=params) as response:
                if response.status_code != 200:
                    await response.aread()
                    _raise_for_status(response, "cat")
                async for chunk in response.aiter_bytes(chunk_size):
                    received += len(chunk)
                    yield chunk
        except httpx.TimeoutException as exc:
            raise IpfsUnavailable(f"IPFS cat of {cid} timed out: {exc!r}") from exc
        except httpx.TransportError as exc:
            raise IpfsUnavailable(f"IPFS cat of {cid} failed: {exc!r}") from exc
        if received != size:
            raise IpfsError(f"IPFS cat of {cid} returned {received} bytes, but the file has {size}")

    async def file_size(self, cid: str) -> int:
        """The size in bytes of the file `cid` (IpfsNotFound if the node cannot find it in time)."""
        validate_cid(cid)
        params = {"arg": f"/ipfs/{cid}", "timeout": _timeout_param(self.content_timeout_seconds)}
        data = await self._call_json("files/stat", params, read_timeout=self.content_timeout_seconds)
        if data.get("Type", "file") != "file":
            raise IpfsError(f"{cid} is a {data.get('Type')}, not a file")
        return int(data["Size"])

    async def cat(self, cid: str) -> bytes:
        """The whole file in memory: for small files only."""
        return b"".join([chunk async for chunk in self.cat_stream(cid)])

    async def has(self, cid: str) -> bool:
        """Whether the node keeps `cid` pinned (recursively, as `add_stream` pins).

        False only when the node says it is not pinned; another "not found" error (a deadline, a
        lost block) raises, as in `pinned_among` and `unpin`.
        """
        validate_cid(cid)
        params = {"arg": cid, "type": "recursive", "timeout": _timeout_param(self.content_timeout_seconds)}
        data = await self._call_about_a_pin("pin/ls", params, read_timeout=self.content_timeout_seconds)
        return data is not None and bool(data.get("Keys"))

    pin_ls = has

    async def pinned_cids(self) -> set[str]:
        """Every recursively pinned CID, in one `pin/ls` call, as base32 CIDv1 text.

        js-ipfs answers CIDv1 in base58btc (`zb2rh...`), Kubo in base32: both are normalised with
        `to_base32_v1` so they compare equal to the CIDs `add_stream` returns (CIDv0 stays as is).
        Listing pins needs no content, so no node-side timeout is passed; the client's timeouts apply.
        """
        data = await self._call_json("pin/ls", {"type": "recursive"})
        keys = data.get("Keys") or {}
        if not isinstance(keys, dict):
            raise IpfsError(f"IPFS pin/ls returned unexpected Keys: {str(keys)[:200]!r}")
        # Tens of thousands of pins take a noticeable moment to normalise: off the event loop then.
        if len(keys) > _NORMALISE_IN_THREAD_FROM:
            return await asyncio.to_thread(_normalised_cids, list(keys))
        return _normalised_cids(keys)

    async def pinned_among(self, cids: Iterable[str]) -> set[str]:
        """Which of `cids` are recursively pinned, as given, asking the node about these CIDs only.

        Why not `pinned_cids`: it lists every pin of the node, which grows with every patient's
        records, while one patient's integrity report needs only theirs. `pin/ls` with `arg`s answers
        for PIN_LS_ARGS CIDs a call (PIN_LS_CONCURRENCY calls at once), but refuses the whole call
        when one of them is not pinned (Kubo and js-ipfs alike: "path '<cid>' is not pinned"); that
        CID is set aside as missing and the call made again without it: one more call per missing
        file, which is rare. A malformed CID is not asked about (it cannot be pinned).
        """
        wanted = [cid for cid in dict.fromkeys(cids) if _well_formed(cid)]
        batches = [wanted[start : start + PIN_LS_ARGS] for start in range(0, len(wanted), PIN_LS_ARGS)]
        limit = asyncio.Semaphore(PIN_LS_CONCURRENCY)

        async def pinned_of(batch: list[str]) -> list[str]:
            async with limit:
                left = list(batch)
                while left:
                    try:
                        await self._call_json("pin/ls", [("type", "recursive"), *(("arg", cid) for cid in left)])
                        return left
                    except IpfsNotFound as exc:
                        if not _says_not_pinned(exc):
                            raise  # another "not found" (a timeout...): not an answer about pins
                        missing = _named_in(str(exc), left)
                        if missing is None:  # the node did not say which: one call each
                            return [cid for cid in left if await self.has(cid)]
                        left.remove(missing)
                return left

        found = await asyncio.gather(*(pinned_of(batch) for batch in batches))
        return {cid for batch in found for cid in batch}

    async def pin(self, cid: str) -> None:
        """Pin `cid` recursively (its blocks are local after `add_stream`, so this is quick)."""
        validate_cid(cid)
        params = {"arg": cid, "recursive": "true", "timeout": _timeout_param(self.content_timeout_seconds)}
        await self._call_json("pin/add", params, read_timeout=self.content_timeout_seconds)

    async def unpin(self, cid: str) -> bool:
        """Remove the recursive pin of `cid`: True if removed, False if the node says it was not pinned.

        Only that answer means False. Another "not found" error (a node-side deadline, say) raises:
        the pin may still be there, and callers that forget a CID once it is unpinned must not.
        The blocks stay in the repo until the node garbage-collects them.
        """
        validate_cid(cid)
        return await self._call_about_a_pin("pin/rm", {"arg": cid}) is not None

    # -- plumbing ----------------------------------------------------------------------------------

    async def _call_about_a_pin(
        self, path: str, params: Mapping[str, str], *, read_timeout: float | None = None
    ) -> dict[str, Any] | None:
        """`_call_json`, or None when the node answers that the CID is not pinned. Any other "not
        found" error (a node-side deadline, a lost block) raises: it says nothing about the pin."""
        try:
            return await self._call_json(path, params, read_timeout=read_timeout)
        except IpfsNotFound as exc:
            if not _says_not_pinned(exc):
                raise
            return None

    async def _call_json(
        self,
        path: str,
        params: Mapping[str, str] | list[tuple[str, str]] | None = None,
        *,
        read_timeout: float | None = None,
    ) -> dict[str, Any]:
        # A call given a node-side timeout gets that much longer on the client side, so the node's
        # own "timed out" answer (IpfsNotFound) arrives before we give up (IpfsUnavailable).
        timeout = httpx.Timeout(self.timeout_seconds, read=self.timeout_seconds + (read_timeout or 0))
        try:
            response = await self._http.post(path, params=params, timeout=timeout)
        except httpx.TimeoutException as exc:
            raise IpfsUnavailable(f"IPFS {path} timed out: {exc!r}") from exc
        except httpx.TransportError as exc:
            raise IpfsUnavailable(f"IPFS node unreachable at {self.api_url}: {exc!r}") from exc
        _raise_for_status(response, path)
        try:
            return response.json()
        except ValueError as exc:
            raise IpfsError(f"IPFS {path} returned non-JSON: {response.text[:200]!r}") from exc


def _well_formed(cid: str) -> bool:
    try:
        validate_cid(cid)
    except ValueError:
        return False
    return True


def _says_not_pinned(exc: IpfsNotFound) -> bool:
    """The node's answer that a CID has no (recursive) pin: `pin/ls` "path '<cid>' is not pinned"
    (Kubo and js-ipfs), `pin/rm` "<cid> is not pinned" (js-ipfs) or "not pinned or pinned
    indirectly" (Kubo)."""
    message = str(exc)
    return "is not pinned" in message or "not pinned or pinned indirectly" in message


def _named_in(message: str, cids: list[str]) -> str | None:
    """The CID of `cids` a node's "path '<cid>' is not pinned" names (as given or normalised), if any."""
    for cid in cids:
        if cid in message or to_base32_v1(cid) in message:
            return cid
    return None


def _raise_for_status(response: httpx.Response, what: str) -> None:
    if response.status_code == 200:
        return
    message = response.text[:500]
    try:
        message = str(response.json().get("Message", message))
    except ValueError:
        pass
    if response.status_code in (502, 503, 504):
        raise IpfsUnavailable(f"IPFS {what}: HTTP {response.status_code}: {message}")
    if response.status_code == 500 and any(hint in message.lower() for hint in _NOT_FOUND_HINTS):
        raise IpfsNotFound(f"IPFS {what}: {message}")
    raise IpfsError(f"IPFS {what}: HTTP {response.status_code}: {message}")
