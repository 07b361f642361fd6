"""`healthledger`: the operator's command line (status, reconcile, doctors, integrity report,
self-test), and `verify-bundle`, which anyone can run on a patient's verification bundle.

It reads the same settings as the API (environment or `.env`) and talks to MongoDB, IPFS and the
chain directly, so it works whether or not the API is running. Failures print one clear line on
stderr and exit non-zero. `verify-bundle` needs nothing but a JSON-RPC URL.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import typer

from .container import Services, build_services
from .domain_errors import DomainError
from .errors import ApiError
from .selftest.workflow import (
    HttpRegistrar,
    Registrar,
    SelftestReport,
    api_client,
    run_selftest,
)
from .services import directory
from .services.bundle_check import (
    ChainError,
    ChainUnavailable,
    MalformedBundle,
    check_bundle,
    load_bundle,
)
from .services.integrity_report import build_report
from .services.reconcile import reconcile_pending
from .services.selftest import ServerRegistrar
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
    except (DomainError, ApiError) as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(code=1) from None
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
    """Settle records with the chain: finish or remove pending uploads, re-send or mark `unanchored` what a
    reorganisation or a reset chain took back (see README, Confirmations and reorganisations)."""
    report = _run(lambda services: reconcile_pending(services, grace_seconds))
    _print(report.as_dict())


@app.command("register-doctor")
def register_doctor(
    address: str = typer.Argument(..., help="The doctor's wallet address."),
    name: str = typer.Option(..., "--name", help="Display name, e.g. 'Dr. Jane Doe'."),
    licence: str = typer.Option(..., "--licence", help="Medical licence number (kept off chain)."),
) -> None:
    """Register a doctor on chain (the relayer must hold REGISTRAR_ROLE) and store name and licence."""
    _print(_run(lambda services: directory.register_doctor(services, address, name, licence)))


@app.command("integrity-report")
def integrity_report(
    patient: str | None = typer.Option(None, help="Only this patient's records (default: all)."),
) -> None:
    """Check every record against MongoDB, the chain and IPFS; exit 3 if any is not verified."""

    async def report(services: Services) -> dict[str, Any]:
        return (await build_report(services, patient.lower() if patient else None)).as_json()

    result = _run(report)
    _print(result)
    if result["counts"].get("verified", 0) != result["total"]:
        raise typer.Exit(code=3)


@app.command("verify-bundle")
def verify_bundle(
    bundle: Path = typer.Argument(..., help="A verification bundle downloaded from the app (JSON)."),
    rpc_url: str | None = typer.Option(
        None, "--rpc-url", help="JSON-RPC URL of the record's chain (default: ETH_RPC_URL from the settings)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the verdict as JSON."),
) -> None:
    """Check a record's verification bundle against the chain: SHA-256(salt ‖ file) is what the vault
    holds for that record id, added by that transaction. Exit 0 verified, 1 not (with the reason),
    2 the chain could not be reached."""
    url = rpc_url or Settings().eth_rpc_url
    try:
        verdict = asyncio.run(check_bundle(load_bundle(bundle), url))
    except (OSError, MalformedBundle) as exc:
        typer.echo(f"NOT VERIFIED (malformed_bundle): {exc}", err=True)
        raise typer.Exit(code=1) from None
    except ChainError as exc:  # not a verdict: the node could not be asked (or gave no usable answer)
        what = "could not be reached" if isinstance(exc, ChainUnavailable) else "gave no usable answer"
        typer.echo(f"error: the chain at {url} {what}", err=True)
        raise typer.Exit(code=2) from None
    if as_json:
        _print(verdict.as_json())
    elif verdict.verified:
        typer.echo(f"VERIFIED: {verdict.message}")
    else:
        typer.echo(f"NOT VERIFIED ({verdict.reason}): {verdict.message}")
    if not verdict.verified:
        raise typer.Exit(code=1)


@app.command()
def selftest(
    api: str = typer.Option(..., "--api", help="Base URL of the API to test, e.g. https://healthledger.example."),
    registrar_key: str = typer.Option(
        "",
        "--registrar-key",
        envvar="SELFTEST_REGISTRAR_KEY",
        help="Private key of a registrar account (better: the SELFTEST_REGISTRAR_KEY variable) to register the "
        "throwaway doctor through the API. Without it, the relayer of these settings does (as register-doctor).",
        show_default=False,
    ),
    timeout: float = typer.Option(180.0, help="Seconds the whole run may take."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Run a synthetic patient and doctor workflow with throwaway wallets against a live API: sign in,
    key setup, upload, verify, register a doctor, request, approve, read, revoke, refused, clean up.
    Exit 0 if every step passed, 1 if one failed."""

    async def run(registrar_from_settings: Registrar | None) -> SelftestReport:
        async with api_client(api) as http:
            registrar = registrar_from_settings or HttpRegistrar(http, registrar_key)
            return await run_selftest(http, registrar, timeout_seconds=timeout)

    if registrar_key:
        try:
            report = asyncio.run(run(None))
        except ValueError:  # a malformed key: eth-account's message would quote nothing secret, but say less
            typer.echo("error: --registrar-key is not a valid private key", err=True)
            raise typer.Exit(code=1) from None
    else:
        report = _run(lambda services: run(ServerRegistrar(services)))
    if as_json:
        _print(report.as_json())
    else:
        for step in report.steps:
            typer.echo(f"{'ok    ' if step.ok else 'FAILED'} {step.name:<16} {step.latency_ms:>9.1f} ms  {step.message}")
        typer.echo(f"self-test {'passed' if report.ok else 'FAILED'} in {report.duration_ms / 1000:.1f} s")
    if not report.ok:
        raise typer.Exit(code=1)


def main() -> None:  # pragma: no cover - console-script entry point
    sys.exit(app())
