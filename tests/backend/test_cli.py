"""The operator CLI against the same real servers as the API."""

from __future__ import annotations

import json
import os

import pytest
from eth_account import Account
from typer.testing import CliRunner

from healthledger.cli import app

from .support.records import upload
from .support.wallet import Wallet


@pytest.fixture
def cli_env(api_settings, monkeypatch: pytest.MonkeyPatch) -> None:
    values = {
        "MONGODB_URI": api_settings.mongodb_uri,
        "MONGODB_DATABASE": api_settings.mongodb_database,
        "IPFS_API_URL": api_settings.ipfs_api_url,
        "ETH_RPC_URL": api_settings.eth_rpc_url,
        "FACTORY_ADDRESS": api_settings.factory_address,
        "RELAYER_PRIVATE_KEY": api_settings.relayer_private_key.get_secret_value(),
        "JWT_SECRET": api_settings.jwt_secret.get_secret_value(),
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)


def test_help_on_everything() -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["--help"]).exit_code == 0
    for command in ("status", "reconcile", "register-doctor", "integrity-report", "verify-bundle", "selftest"):
        result = runner.invoke(app, [command, "--help"])
        assert result.exit_code == 0, result.output


def test_status_and_reconcile(cli_env) -> None:
    runner = CliRunner()
    status = runner.invoke(app, ["status"])
    assert status.exit_code == 0, status.output
    assert json.loads(status.stdout)["status"] == "ok"
    reconcile = runner.invoke(app, ["reconcile", "--grace-seconds", "3600"])
    assert reconcile.exit_code == 0, reconcile.output
    assert {"confirmed", "removed", "still_pending", "resubmitted", "unanchored"} <= set(json.loads(reconcile.stdout))


def test_integrity_report_for_a_patient(cli_env, client) -> None:
    wallet = Wallet.random()
    wallet.login(client)
    upload(client, wallet, os.urandom(300))
    result = CliRunner().invoke(app, ["integrity-report", "--patient", wallet.address])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["total"] == 1 and report["counts"]["verified"] == 1


def test_register_doctor_without_registrar_role_fails_clearly(cli_env) -> None:
    result = CliRunner().invoke(app, ["register-doctor", Account.create().address, "--name", "Dr. A", "--licence", "L-1"])
    assert result.exit_code == 1
    assert "REGISTRAR_ROLE" in result.stderr or "registrar" in result.stderr.lower()


def test_bad_configuration_exits_non_zero(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FACTORY_ADDRESS", "")
    result = CliRunner().invoke(app, ["status"])
    assert result.exit_code == 1
    assert "FACTORY_ADDRESS" in result.stderr
