"""Reading an EIP-4361 (Sign-In with Ethereum) message in time linear in its length.

Why not `siwe.SiweMessage.from_message`: its ABNF parser is super-linear (a 4,096-character
message took 59 s of one event loop, and its parse cache grew without bound), and its regular
expression parser backtracks exponentially on crafted `Resources` lines (measured here: a 4 KB
message never finished). The message format is line-oriented, so this reader splits lines once and
checks each with `str` operations and anchored, non-nested patterns; no input can make it do more
than a few passes over the text. The values are then validated by `siwe`'s own pydantic model, and
the message must be exactly what that model prints (`prepare_message`), so nothing non-canonical
is ever signed off.
"""

from __future__ import annotations

import re
from typing import Any

from siwe import SiweMessage

MAX_MESSAGE_LENGTH = 4096
MAX_RESOURCES = 32
HEADER_SUFFIX = " wants you to sign in with your Ethereum account:"
# Fields after the statement, in the order EIP-4361 fixes; the first five are required.
REQUIRED_FIELDS = (("URI", "uri"), ("Version", "version"), ("Chain ID", "chain_id"), ("Nonce", "nonce"), ("Issued At", "issued_at"))
OPTIONAL_FIELDS = (("Expiration Time", "expiration_time"), ("Not Before", "not_before"), ("Request ID", "request_id"))

_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
_SCHEME = re.compile(r"[a-zA-Z][a-zA-Z0-9+\-.]{0,31}")
_CHAIN_ID = re.compile(r"[0-9]{1,20}")
_NONCE = re.compile(r"[a-zA-Z0-9]{8,128}")


class MalformedSiweMessage(ValueError):
    """The text is not a well-formed EIP-4361 message; the text says what is wrong."""


def parse_siwe_message(message: str) -> SiweMessage:
    """The message's fields as a validated `SiweMessage`, or MalformedSiweMessage."""
    if len(message) > MAX_MESSAGE_LENGTH:
        raise MalformedSiweMessage(f"the message is longer than {MAX_MESSAGE_LENGTH} characters")
    lines = message.split("\n")
    fields: dict[str, Any] = {}
    position = _read_preamble(lines, fields)
    position = _read_fields(lines, position, fields)
    _read_resources(lines, position, fields)
    try:
        parsed = SiweMessage(**fields)
    except Exception as exc:  # pydantic's ValidationError: report which field, not its text
        raise MalformedSiweMessage("a field of the message has an invalid value") from exc
    if parsed.prepare_message() != message:
        raise MalformedSiweMessage("the message is not in the canonical EIP-4361 form")
    return parsed


def _line(lines: list[str], index: int) -> str:
    if index >= len(lines):
        raise MalformedSiweMessage("the message ends too early")
    return lines[index]


def _read_preamble(lines: list[str], fields: dict[str, Any]) -> int:
    """Header, address, and the optional statement; returns the index of the `URI:` line."""
    header = _line(lines, 0)
    if not header.endswith(HEADER_SUFFIX):
        raise MalformedSiweMessage("the first line must be '<domain> wants you to sign in with your Ethereum account:'")
    authority = header[: -len(HEADER_SUFFIX)]
    scheme, separator, domain = authority.partition("://")
    if separator:
        if not _SCHEME.fullmatch(scheme):
            raise MalformedSiweMessage("the scheme before the domain is not valid")
        fields["scheme"] = scheme
    else:
        domain = authority
    if not domain or any(char in domain for char in "/?# \t"):
        raise MalformedSiweMessage("the domain must be a host[:port]")
    fields["domain"] = domain
    address = _line(lines, 1)
    if not _ADDRESS.fullmatch(address):
        raise MalformedSiweMessage("the second line must be the 0x address")
    fields["address"] = address
    if _line(lines, 2) != "":
        raise MalformedSiweMessage("a blank line must follow the address")
    if _line(lines, 3) == "":
        return 4
    fields["statement"] = lines[3]
    if _line(lines, 4) != "":
        raise MalformedSiweMessage("a blank line must follow the statement")
    return 5


def _value(line: str, label: str) -> str | None:
    prefix = label + ": "
    return line[len(prefix):] if line.startswith(prefix) else None


def _read_fields(lines: list[str], position: int, fields: dict[str, Any]) -> int:
    for label, name in REQUIRED_FIELDS:
        value = _value(_line(lines, position), label)
        if value is None:
            raise MalformedSiweMessage(f"the line '{label}: ...' is missing or out of order")
        fields[name] = value
        position += 1
    for label, name in OPTIONAL_FIELDS:
        if position < len(lines) and (value := _value(lines[position], label)) is not None:
            fields[name] = value
            position += 1
    if fields["version"] != "1":
        raise MalformedSiweMessage("only EIP-4361 version 1 is supported")
    if not _CHAIN_ID.fullmatch(fields["chain_id"]):
        raise MalformedSiweMessage("the chain id must be a number")
    fields["chain_id"] = int(fields["chain_id"])
    if not _NONCE.fullmatch(fields["nonce"]):
        raise MalformedSiweMessage("the nonce must be 8 to 128 letters and digits")
    return position


def _read_resources(lines: list[str], position: int, fields: dict[str, Any]) -> None:
    if position == len(lines):
        return
    if lines[position] != "Resources:":
        raise MalformedSiweMessage("unexpected text after the message's fields")
    resources = []
    for line in lines[position + 1 :]:
        if not line.startswith("- "):
            raise MalformedSiweMessage("each resource must be a line '- <uri>'")
        resources.append(line[2:])
    if not resources or len(resources) > MAX_RESOURCES:
        raise MalformedSiweMessage(f"'Resources:' must list 1 to {MAX_RESOURCES} URIs")
    fields["resources"] = resources
