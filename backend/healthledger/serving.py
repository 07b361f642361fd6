"""The one command line that starts the API process, for every launcher: `make run`, tests, benchmarks.

Why one builder: the API must be served with its own HTTP protocol (api/http_protocol.py: JSON even
for requests the HTTP parser refuses) and the same graceful-shutdown bound everywhere; five launchers
each spelling out uvicorn's flags drifted apart before. Operators starting uvicorn themselves use the
same flags (README, "Running it").
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from .api.http_protocol import UVICORN_HTTP

__all__ = ["APP_FACTORY", "GRACEFUL_SHUTDOWN_SECONDS", "uvicorn_command"]

APP_FACTORY = "healthledger.app:create_app"
# Requests still running at a stop get this long to finish before uvicorn closes their connections.
GRACEFUL_SHUTDOWN_SECONDS = 5


def uvicorn_command(
    host: str,
    port: int,
    *,
    workers: int = 1,
    log_level: str | None = None,
    python_args: Sequence[str] = (),
) -> list[str]:
    """`python -m uvicorn` serving the app factory on `host:port` with the API's HTTP protocol.

    `workers` > 1: uvicorn's supervisor shares the listening socket among that many processes.
    `python_args` go to the interpreter itself (e.g. `-X importtime`); the command runs this
    interpreter, not a console-script wrapper, so the process's PID is the one that serves.
    """
    command = [
        sys.executable, *python_args, "-m", "uvicorn",
        "--factory", APP_FACTORY,
        "--http", UVICORN_HTTP,
        "--host", host,
        "--port", str(port),
        "--timeout-graceful-shutdown", str(GRACEFUL_SHUTDOWN_SECONDS),
    ]
    if log_level is not None:
        command += ["--log-level", log_level]
    if workers > 1:
        command += ["--workers", str(workers)]
    return command
