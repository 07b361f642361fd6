"""What services tell their callers went wrong, without knowing about HTTP.

Services (and the CLI, and the jobs) raise these; each kind says *what* happened (bad input, not
allowed, not found, a dependency that did not answer...), carries a stable machine `code` and a
readable `message`, and optional `details` for the body. Only `errors.py` turns a kind into an HTTP
status, in one table, so a service can be called from the API, the CLI or a test alike.

The lower-case constructors (`bad_request`, `forbidden`, ...) are kept for brevity and so that
existing call sites read as before; they return domain errors, not HTTP ones.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "Conflict",
    "DomainError",
    "InvalidInput",
    "NotAllowed",
    "NotAuthenticated",
    "NotFound",
    "RateLimited",
    "ServiceUnavailable",
    "TimedOut",
    "TooLarge",
    "Unavailable",
    "Unprocessable",
    "bad_request",
    "conflict",
    "forbidden",
    "not_found",
    "unauthorized",
]


class DomainError(Exception):
    """A failure the caller should be told about: a stable `code`, a `message`, JSON `details`.

    A `retry_after_seconds` detail means "ask again after that long" (HTTP: a Retry-After header).
    """

    def __init__(self, code: str, message: str, **details: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled as its kind, code, message and details: an error raised in a worker process
        (process_workers.py) reaches the caller as itself. Exception's own pickling rebuilds from
        `args` (the message alone), which this constructor does not take."""
        return (_rebuild, (type(self), self.code, self.message, self.details), self.__dict__)


class InvalidInput(DomainError):
    """The request itself is wrong (a malformed value, a missing field): fixing it is the caller's job."""


class Unprocessable(DomainError):
    """Well-formed, but its content cannot be acted on (a signature that does not match, a record of
    the wrong kind, a deadline already passed): signing or choosing again is the caller's job."""


class NotAuthenticated(DomainError):
    """Who is asking is unknown or their credentials were refused."""


class NotAllowed(DomainError):
    """Known caller, but this is not theirs to do or read."""


class NotFound(DomainError):
    """The thing asked for does not exist (or is not visible to this caller)."""


class Conflict(DomainError):
    """The request is well-formed but clashes with the current state (stale nonce, closed request...)."""


class TooLarge(DomainError):
    """The input is over a size limit."""


class RateLimited(DomainError):
    """Too many requests of this kind; `retry_after_seconds` says when to ask again."""


class Unavailable(DomainError):
    """A dependency (IPFS, the chain node, the relayer) did not answer or could not do its part."""


class ServiceUnavailable(DomainError):
    """This service cannot do it right now (its database is down, it lacks a role it needs)."""


class TimedOut(DomainError):
    """Sent on, but not finished in time (a transaction not mined yet): it may still complete."""


def _rebuild(kind: type[DomainError], code: str, message: str, details: dict[str, Any]) -> DomainError:
    return kind(code, message, **details)


def bad_request(code: str, message: str, **details: Any) -> InvalidInput:
    return InvalidInput(code, message, **details)


def unauthorized(code: str, message: str) -> NotAuthenticated:
    return NotAuthenticated(code, message)


def forbidden(code: str, message: str) -> NotAllowed:
    return NotAllowed(code, message)


def not_found(code: str, message: str) -> NotFound:
    return NotFound(code, message)


def conflict(code: str, message: str, **details: Any) -> Conflict:
    return Conflict(code, message, **details)
