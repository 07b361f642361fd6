"""The current request's id, carried in a contextvar so every log line of the request names it.

Why a contextvar: asyncio tasks copy the context they are created in, so the id set by the HTTP
edge follows the request into services, adapters and any task they start, with no parameter passed
through every layer. Outside a request (start-up, the maintenance loop) it is None.

A client (or a load balancer) may send its own `X-Request-ID` so one id spans several systems; it
is accepted only if it is short and made of safe characters (it ends up in logs and headers),
otherwise a fresh one is generated.
"""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar

REQUEST_ID_HEADER = "X-Request-ID"
MAX_REQUEST_ID_LENGTH = 64
# Letters, digits and a few separators: no spaces, quotes or control characters to forge log lines
# or headers with.
_SAFE_ID = re.compile(rf"^[A-Za-z0-9._:-]{{1,{MAX_REQUEST_ID_LENGTH}}}$")

request_id_var: ContextVar[str | None] = ContextVar("healthledger_request_id", default=None)


def valid_request_id(value: str | None) -> str | None:
    """`value` if it may be used as a request id as it is, else None."""
    if value is not None and _SAFE_ID.fullmatch(value):
        return value
    return None


def new_request_id() -> str:
    """A fresh id: 32 hex characters (a UUID4 without dashes)."""
    return uuid.uuid4().hex


def current_request_id() -> str | None:
    """The id of the request being served, or None outside a request."""
    return request_id_var.get()
