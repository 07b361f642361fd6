"""One validator per kind of value the API takes in: addresses, record ids, paging, names, queries.

Each raises `InvalidInput` (a 400) with the code and message the API has always answered with, so
routers and services check a value the same way wherever it arrives. The limits live here too:
a person's name (a doctor's display name, a patient's published name) and a record's name are
different values with different limits, and are named so.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from eth_utils import is_address, to_checksum_address

from .domain_errors import bad_request

__all__ = [
    "DEFAULT_PAGE_SIZE",
    "MAX_LICENCE_LENGTH",
    "MAX_PAGE",
    "MAX_PAGE_SIZE",
    "MAX_PERSON_NAME_LENGTH",
    "MAX_QUERY_LENGTH",
    "MAX_RECORD_NAME_LENGTH",
    "address",
    "looks_like_address",
    "paging",
    "record_ids",
    "record_name",
    "search_query",
    "text",
]

# Names and search text, in characters (the paging limits stand with `paging`).
MAX_PERSON_NAME_LENGTH = 100
MAX_LICENCE_LENGTH = 64
MAX_RECORD_NAME_LENGTH = 200
MAX_QUERY_LENGTH = 100


def looks_like_address(value: Any) -> bool:
    """`0x` + 40 hex digits (any case, checksum not required)."""
    return isinstance(value, str) and value.startswith("0x") and is_address(value)


def address(
    value: Any, field: str = "address", *, strict: bool = True, code: str = "invalid_address", message: str = ""
) -> str:
    """The checksummed address; `code` (`invalid_address`) otherwise.

    `strict` (path and directory values) trims blanks and wants the `0x` prefix; otherwise (the
    access flow's body fields) anything eth_utils reads as an address is taken as it comes.
    `code` and `message` are for an endpoint that answers in its own words (the signing endpoint's
    `invalid_params`); the message defaults to one naming `field`.
    """
    if strict:
        candidate = value.strip() if isinstance(value, str) else ""
        if not looks_like_address(candidate):
            raise bad_request(code, message or f"{field} is not an Ethereum address (0x + 40 hex digits)")
        return to_checksum_address(candidate)
    if not isinstance(value, str) or not is_address(value):
        raise bad_request(code, message or f"{field} is not an Ethereum address")
    return to_checksum_address(value)


def record_ids(
    value: Any,
    *,
    code: str = "invalid_records",
    message: str = "select at least one record (a list of record ids)",
) -> list[int]:
    """A non-empty list of record ids (ints >= 0, not bools); `code` (`invalid_records`) otherwise."""
    valid = isinstance(value, list) and value and all(
        isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value
    )
    if not valid:
        raise bad_request(code, message)
    return value


# Entries per page, and 1-based pages up to a bound no real list reaches (it keeps a request from
# making MongoDB skip an absurd number of documents).
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
MAX_PAGE = 1_000_000


def paging(page: int, page_size: int) -> tuple[int, int]:
    """(skip, limit) for a 1-based page; `invalid_page` / `invalid_page_size` when out of range."""
    if not 1 <= page <= MAX_PAGE:
        raise bad_request("invalid_page", f"page must be between 1 and {MAX_PAGE}")
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise bad_request("invalid_page_size", f"page_size must be between 1 and {MAX_PAGE_SIZE}")
    return (page - 1) * page_size, page_size


def has_control_characters(value: str) -> bool:
    """NUL, escapes and other control characters: never part of a name, and MongoDB refuses NUL in a $regex."""
    return any(unicodedata.category(char) == "Cc" for char in value)


def text(value: str, field: str, maximum: int, *, required: bool = True) -> str:
    """A one-line name: trimmed, runs of blanks collapsed, no control characters, at most `maximum`."""
    clean = " ".join((value or "").split())
    if has_control_characters(clean):
        raise bad_request(f"invalid_{field}", f"{field} must not contain control characters")
    if required and not clean:
        raise bad_request(f"invalid_{field}", f"{field} must not be empty")
    if len(clean) > maximum:
        raise bad_request(f"invalid_{field}", f"{field} must be at most {maximum} characters")
    return clean


def record_name(value: str) -> str:
    """A record's name as the patient typed it (trimmed), 1 to MAX_RECORD_NAME_LENGTH characters."""
    clean = value.strip()
    if not clean or len(clean) > MAX_RECORD_NAME_LENGTH:
        raise bad_request("invalid_name", f"name must be 1 to {MAX_RECORD_NAME_LENGTH} characters")
    return clean


def search_query(q: str) -> str:
    """A search box's text: trimmed, at most MAX_QUERY_LENGTH, no control characters."""
    clean = (q or "").strip()
    if len(clean) > MAX_QUERY_LENGTH:
        raise bad_request("invalid_query", f"q must be at most {MAX_QUERY_LENGTH} characters")
    if has_control_characters(clean):
        raise bad_request("invalid_query", "q must not contain control characters")
    return clean
