"""Structured logs that cannot leak: JSON lines with an explicit allow-list of fields.

What may appear in a log line is decided here, not at each call site: the logger name, the level,
the message *template* (never interpolated with its arguments), the fields below passed as
`extra=`, and for an exception its type and stack frames (never its message). Exception texts of
libraries quote URLs with credentials, patient addresses and request data; arguments of
third-party log calls can carry the same. Patient addresses are not an allowed field.

Every line of a request also carries its `request_id` (request_context.py; the same id the
response's `X-Request-ID` header names), so one request's lines can be found together.

`LOG_FORMAT=json` (the default, for log collectors) writes one JSON object per line;
`LOG_FORMAT=text` writes the same allow-listed content as `time level logger event k=v ...`, for
a person reading a terminal. Both go through the same allow-list.

Why not structlog or python-json-logger: the standard library's formatter hook is enough to enforce
an allow-list over every logger, including uvicorn's and the libraries', and it adds no dependency;
those libraries would serialise whatever `extra` holds, which is what the allow-list exists to stop.
"""

from __future__ import annotations

import json
import logging
import sys
import traceback
from datetime import UTC, datetime
from typing import Any, Literal

from .request_context import current_request_id

# Fields a log line may carry besides time, level, logger and event. Values are public on chain
# (tx hashes, nonces of the relayer), opaque (CIDs of ciphertext), or operational.
ALLOWED_FIELDS: frozenset[str] = frozenset(
    {
        "action",
        "cid",
        "code",
        "count",
        "duration_ms",
        "error_type",
        "gas",
        "method",
        "nonce",
        "reason",
        "record_id",
        "route",
        "status",
        "tx_hash",
        "version",
        "confirmed",
        "anchored",
        "removed",
        "still_pending",
        "resubmitted",
        "unanchored",
        "rechecked",
        "pins_released",
        "lost_blocks",
    }
)
_MAX_VALUE_LENGTH = 200


def _safe_value(value: Any) -> Any:
    if isinstance(value, (bool, int, float)) or value is None:
        return value
    return str(value)[:_MAX_VALUE_LENGTH]


def _frames(tb: Any) -> list[str]:
    return [f"{frame.filename.rsplit('/', 1)[-1]}:{frame.lineno}:{frame.name}" for frame in traceback.extract_tb(tb)]


class AllowListFormatter(logging.Formatter):
    """One JSON object per line with only allow-listed content (see the module docstring)."""

    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(self.fields(record), separators=(",", ":"))

    def fields(self, record: logging.LogRecord) -> dict[str, Any]:
        """The allow-listed content of `record`, in the order it is written."""
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": str(record.msg)[:_MAX_VALUE_LENGTH],
        }
        for name in ALLOWED_FIELDS:
            if name in record.__dict__:
                line[name] = _safe_value(record.__dict__[name])
        if record.exc_info and record.exc_info[0] is not None:
            line["error_type"] = record.exc_info[0].__name__
            line["frames"] = _frames(record.exc_info[2])
        request_id = current_request_id()
        if request_id is not None:
            line["request_id"] = request_id
        return line


class AllowListTextFormatter(AllowListFormatter):
    """The same allow-listed content as one readable line: `time level logger event k=v ...`."""

    def format(self, record: logging.LogRecord) -> str:
        line = self.fields(record)
        head = " ".join(str(line.pop(key)) for key in ("time", "level", "logger", "event"))
        rest = " ".join(f"{key}={json.dumps(value) if isinstance(value, (str, list)) else value}" for key, value in line.items())
        return f"{head} {rest}" if rest else head


LogFormat = Literal["json", "text"]


def configure_logging(level: str = "INFO", log_format: LogFormat = "json") -> None:
    """Send every logger through the allow-list formatter on stderr; silence uvicorn's access log.

    Called at start-up (after uvicorn applied its own logging config, so this one wins). The access
    log is written by the app instead (route templates, never paths or query strings, which carry
    CIDs and addresses).
    """
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(AllowListTextFormatter() if log_format == "text" else AllowListFormatter())
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers = []
        logger.propagate = True
    # Libraries that log every HTTP call they make at INFO: only their problems are of interest.
    for name in ("httpx", "httpcore", "web3", "urllib3", "pymongo", "aiohttp"):
        logging.getLogger(name).setLevel(logging.WARNING)
    access = logging.getLogger("uvicorn.access")
    access.handlers = []
    access.propagate = False
    access.disabled = True
