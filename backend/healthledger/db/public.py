"""What the API shows of a stored document: its dataclass as JSON, minus what must stay inside."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any


def public_fields(document: Any, dates: tuple[str, ...], hidden: tuple[str, ...] = ()) -> dict[str, Any]:
    """`document` (a dataclass instance) as a dict without its `hidden` fields, its `dates` (datetimes
    or None) as ISO 8601 strings: one spelling of a stored time in every answer."""
    data = asdict(document)
    for key in hidden:
        data.pop(key)
    for key in dates:
        if data[key] is not None:
            data[key] = data[key].isoformat()
    return data
