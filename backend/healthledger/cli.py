"""`healthledger`: the operator's command line (status, reconcile, doctors, integrity report).

It reads the same settings as the API (environment or `.env`) and talks to MongoDB, IPFS and the
chain directly, so it works whether or not the API is running. Failures print one clear line on
stderr and exit non-zero.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import typer

from .container import Services, build_services
from .services.reconcile import reconcile_pending
from .services.status import collect_status
from .settings import Settings

T = TypeVar("T")

app = typer.Typer(
    help="Operate a HealthLedger deployment. Settings come from the environment or .env (see .env.example).",
    no_args_is_help=True,
    add_completion=False,
)


def _run(work: Callable[[Services], Awaitable[T]]) -> T:
    async def main() -> T:
        services = await build_services(Settings())
        try:
            return await work(services)
        finally:
            await services.close()

    try:
        return asyncio.run(main())
    except typer.Exit:
        raise
    except Exception as exc:  # one readable line, no traceback, no secrets
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=1) from None


def _print(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, default=str))


@app.command()
def status() -> None:
    """State and latency of MongoDB, IPFS, the chain and the relayer (as GET /api/system/status)."""
    report = _run(collect_status)
    _print(report)
    if report["status"] != "ok":
        raise typer.Exit(code=2)


@app.command()
def reconcile(
    grace_seconds: float | None = typer.Option(
        None, help="Leave pending uploads younger than this alone (default: TX_TIMEOUT_SECONDS)."
    ),
) -> None:
    """Finish or clean up uploads left pending (confirm mined ones, remove failed or abandoned ones)."""
    report = _run(lambda services: reconcile_pending(services, grace_seconds))
    _print({"confirmed": report.confirmed, "removed": report.removed, "still_pending": report.still_pending})


def main() -> None:  # pragma: no cover - console-script entry point
    sys.exit(app())
