"""Sign-In with Ethereum (EIP-4361) via the `siwe` package, with nonces that work once.

The message must name our domain and chain id and carry a nonce we issued that has neither been
used nor expired; the signature must come from the address in the message.
"""

from __future__ import annotations

from datetime import datetime

import siwe
from siwe import SiweMessage

from ..db.auth_store import NonceStore


class LoginError(Exception):
    """The sign-in message or its signature is not acceptable; the text says why."""


class SiweLogin:
    """Issues nonces and checks signed EIP-4361 messages."""

    def __init__(self, nonces: NonceStore, domain: str, chain_id: int) -> None:
        self._nonces = nonces
        self._domain = domain
        self._chain_id = chain_id

    @property
    def domain(self) -> str:
        return self._domain

    @property
    def chain_id(self) -> int:
        return self._chain_id

    async def issue_nonce(self) -> tuple[str, datetime]:
        nonce = siwe.generate_nonce()
        return nonce, await self._nonces.issue(nonce)

    async def verify(self, message: str, signature: str) -> str:
        """Check the message and signature; consume the nonce; return the checksummed address."""
        try:
            parsed = SiweMessage.from_message(message=message)
        except Exception as exc:  # the parser raises several types for malformed text
            raise LoginError("malformed sign-in message (EIP-4361 expected)") from exc
        if parsed.chain_id != self._chain_id:
            raise LoginError(f"sign-in message is for chain {parsed.chain_id}, this service runs on {self._chain_id}")
        try:
            parsed.verify(signature, domain=self._domain)
        except siwe.DomainMismatch as exc:
            raise LoginError(f"sign-in message is for another domain (expected {self._domain})") from exc
        except siwe.ExpiredMessage as exc:
            raise LoginError("sign-in message has expired") from exc
        except siwe.NotYetValidMessage as exc:
            raise LoginError("sign-in message is not valid yet") from exc
        except siwe.InvalidSignature as exc:
            raise LoginError("signature does not match the sign-in message's address") from exc
        except Exception as exc:  # malformed signatures raise from eth_account
            raise LoginError("signature could not be verified") from exc
        if not await self._nonces.consume(parsed.nonce):
            raise LoginError("nonce unknown, already used or expired: request a new one")
        return parsed.address
