"""Sign-In with Ethereum (EIP-4361) with nonces that work once, for the origin that asked for them.

A nonce is issued for one of the service's origins (the one the browser used: the app may be
reached as http://127.0.0.1:8000 and as http://localhost:8000, or under several public names) and
remembered with it. A message is accepted only if it names that origin's domain and URI, this
chain, a nonce we issued that has neither been used nor expired, an Issued At between the nonce's
issue and now (plus a little clock skew), and no Expiration Time / Not Before that excludes now;
the signature must come from the address in the message.

Parsing and signature recovery run in a worker thread: both are bounded (the parser is linear,
recovery is one ECDSA operation), but neither should ever run on the event loop.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import anyio
import siwe
from eth_account import Account
from eth_account.messages import encode_defunct
from siwe import SiweMessage

from ..db.auth_store import IssuedNonce, NonceStore
from .siwe_message import MalformedSiweMessage, parse_siwe_message


class LoginError(Exception):
    """The sign-in message or its signature is not acceptable; the text says why."""


@dataclass(frozen=True)
class NonceGrant:
    """A freshly issued nonce and the origin it is for."""

    nonce: str
    expires_at: datetime
    origin: str
    domain: str


def domain_of(origin: str) -> str:
    """The EIP-4361 domain (host[:port]) of an origin."""
    return urlsplit(origin).netloc


class SiweLogin:
    """Issues nonces and checks signed EIP-4361 messages."""

    def __init__(
        self,
        nonces: NonceStore,
        origins: list[str],
        chain_id: int,
        *,
        nonce_ttl_seconds: int,
        clock_skew_seconds: int = 60,
        main_domain: str | None = None,
    ) -> None:
        if not origins:
            raise ValueError("at least one origin is needed")
        self._nonces = nonces
        self._origins = list(origins)
        self._chain_id = chain_id
        self._ttl = timedelta(seconds=nonce_ttl_seconds)
        self._skew = timedelta(seconds=clock_skew_seconds)
        # SIWE_DOMAIN may name the main origin's domain differently (e.g. behind a proxy).
        self._domains = {origin: domain_of(origin) for origin in self._origins}
        if main_domain:
            self._domains[self._origins[0]] = main_domain

    @property
    def domain(self) -> str:
        """The main origin's domain."""
        return self._domains[self._origins[0]]

    @property
    def chain_id(self) -> int:
        return self._chain_id

    @property
    def origins(self) -> list[str]:
        return list(self._origins)

    def origin_for(self, requested: str | None) -> str:
        """The service origin matching what the browser used, else the main origin."""
        if requested:
            wanted = requested.strip().rstrip("/").lower()
            for origin in self._origins:
                if origin == wanted:
                    return origin
        return self._origins[0]

    async def issue_nonce(self, origin: str | None = None) -> NonceGrant:
        chosen = self.origin_for(origin)
        nonce = siwe.generate_nonce()
        domain = self._domains[chosen]
        expires_at = await self._nonces.issue(nonce, origin=chosen, domain=domain)
        return NonceGrant(nonce=nonce, expires_at=expires_at, origin=chosen, domain=domain)

    async def verify(self, message: str, signature: str) -> str:
        """Check the message and signature; consume the nonce; return the checksummed address."""
        parsed, signer = await anyio.to_thread.run_sync(_parse_and_recover, message, signature)
        if parsed.chain_id != self._chain_id:
            raise LoginError(f"sign-in message is for chain {parsed.chain_id}, this service runs on {self._chain_id}")
        if parsed.domain not in self._domains.values():
            raise LoginError(f"sign-in message is for another domain (expected {self.domain})")
        now = datetime.now(UTC)
        _check_times(parsed, now, self._ttl, self._skew)
        if signer is None or signer != parsed.address:
            raise LoginError("signature does not match the sign-in message's address")
        issued = await self._nonces.consume(parsed.nonce)
        if issued is None:
            raise LoginError("nonce unknown, already used or expired: request a new one")
        _check_origin(parsed, issued, self._skew)
        return parsed.address


def _parse_and_recover(message: str, signature: str) -> tuple[SiweMessage, str | None]:
    try:
        parsed = parse_siwe_message(message)
    except MalformedSiweMessage as exc:
        raise LoginError(f"malformed sign-in message (EIP-4361 expected): {exc}") from None
    try:
        signer: str | None = str(Account.recover_message(encode_defunct(text=message), signature=signature))
    except Exception:  # malformed signatures raise assorted types from eth_account / eth_keys
        signer = None
    return parsed, signer


def _as_datetime(value: str | None, label: str) -> datetime | None:
    """The time a message field names; it must carry a time zone, or it means no one moment."""
    if value is None:
        return None
    moment = siwe.siwe.datetime_from_iso8601_string(value)
    if moment.tzinfo is None:
        raise LoginError(f"{label} must carry a time zone (e.g. Z)")
    return moment


def _check_times(parsed: SiweMessage, now: datetime, ttl: timedelta, skew: timedelta) -> None:
    issued_at = _as_datetime(parsed.issued_at, "Issued At")
    assert issued_at is not None  # required by the parser
    if issued_at > now + skew:
        raise LoginError("sign-in message's Issued At lies in the future: check your device's clock")
    if issued_at < now - ttl - skew:
        raise LoginError("sign-in message was issued too long ago: sign in again")
    expiration = _as_datetime(parsed.expiration_time, "Expiration Time")
    if expiration is not None and now >= expiration:
        raise LoginError("sign-in message has expired")
    not_before = _as_datetime(parsed.not_before, "Not Before")
    if not_before is not None and now < not_before:
        raise LoginError("sign-in message is not valid yet")


def _check_origin(parsed: SiweMessage, issued: IssuedNonce, skew: timedelta) -> None:
    """The message must name the domain and origin the nonce was issued for, and postdate it."""
    issued_at = _as_datetime(parsed.issued_at, "Issued At")
    if issued_at is not None and issued_at < issued.issued_at - skew:
        raise LoginError("sign-in message's Issued At is earlier than its nonce: sign in again")
    if issued.domain is not None and parsed.domain != issued.domain:
        raise LoginError(f"sign-in message is for another domain (expected {issued.domain})")
    uri = urlsplit(parsed.uri)
    if issued.origin is not None and f"{uri.scheme}://{uri.netloc}".lower() != issued.origin:
        raise LoginError(f"sign-in message's URI must be this service ({issued.origin})")
    if parsed.scheme is not None and issued.origin is not None and parsed.scheme != urlsplit(issued.origin).scheme:
        raise LoginError("sign-in message's scheme does not match this service")
