"""Operators' view of the running API, over real HTTP on the real servers: /metrics, request ids in
the JSON log lines, and the self-test (endpoint and CLI), including a failed step while IPFS is down."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time

from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from healthledger.chain.client import REGISTRAR_ROLE, ChainClient
from healthledger.chain.relayer import Relayer
from healthledger.cli import app as cli_app
from healthledger.devstack.process import free_port
from healthledger.logging_setup import AllowListFormatter
from pydantic import SecretStr
from typer.testing import CliRunner

from .support.records import upload
from .support.responses import expect_error, expect_ok
from .support.wallet import Wallet

STEPS = [
    "sign_in", "key_setup", "upload", "verify", "register_doctor", "request_access", "approve",
    "doctor_read", "revoke", "doctor_refused", "clean_up",
]


@pytest_asyncio.fixture
async def relayer_is_registrar(chain_client: ChainClient, registrar_relayer: Relayer, relayer_account) -> AsyncIterator[None]:
    """The API's relayer sends the registry transactions (as for the registrar's screen), so the
    self-test's doctor registration needs it to hold REGISTRAR_ROLE, as `make run` grants it: granted
    for one test, revoked after (other tests check that it holds no role)."""
    await registrar_relayer.transact(chain_client.factory, "grantRole", REGISTRAR_ROLE, relayer_account.address)
    try:
        yield
    finally:
        await registrar_relayer.transact(chain_client.factory, "revokeRole", REGISTRAR_ROLE, relayer_account.address)


def _metric(text: str, name: str, **labels: str) -> float:
    """The value of the sample `name{labels...}` in a Prometheus exposition (0 if absent)."""
    for line in text.splitlines():
        if line.startswith((name + "{", name + " ")) and all(f'{key}="{value}"' in line for key, value in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_metrics_name_the_route_template_not_the_path(client: httpx.Client, patient_wallet: Wallet) -> None:
    record = expect_ok(upload(client, patient_wallet, os.urandom(400)), 201)
    cid = record["cid"]
    assert client.get(f"/api/medical-records/verify/{cid}", headers=patient_wallet.headers).status_code == 200

    answer = client.get("/metrics")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain")
    text = answer.text
    route = "/api/medical-records/verify/{cid}"
    assert _metric(text, "healthledger_http_request_duration_seconds_count", method="GET", route=route, status="2xx") >= 1
    assert cid not in text and patient_wallet.address.lower() not in text.lower()
    assert _metric(text, "healthledger_uploads_total", outcome="created") >= 1
    assert _metric(text, "healthledger_transactions_total", outcome="mined") >= 1
    for dependency, operation in (("mongodb", "find"), ("ipfs", "add"), ("chain", "eth_call")):
        assert _metric(
            text, "healthledger_dependency_duration_seconds_count", dependency=dependency, operation=operation, result="ok"
        ) >= 1, (dependency, operation)
    assert "healthledger_relayer_queue_depth" in text
    # Read at start-up: the funded dev relayer (10,000 ETH, less the gas of the tests so far).
    assert _metric(text, "healthledger_relayer_balance_eth") > 1.0
    # Not part of the typed client.
    assert "/metrics" not in client.get("/openapi.json").json()["paths"]


def _server_timing(header: str) -> dict[str, float]:
    """`store;dur=31.2, total;dur=90.0` -> {"store": 31.2, "total": 90.0}"""
    out: dict[str, float] = {}
    for entry in header.split(","):
        name, _, params = entry.strip().partition(";")
        assert params.startswith("dur="), header
        out[name] = float(params[4:])
    return out


def test_an_upload_says_where_its_time_went(client: httpx.Client, patient_wallet: Wallet) -> None:
    """Server-Timing on the upload (what a browser's developer tools show, what `make bench` reads),
    the same stages in the stage histogram; a request that has no stages has no header."""
    began = time.perf_counter()
    answer = upload(client, patient_wallet, os.urandom(2000))
    client_ms = (time.perf_counter() - began) * 1000
    expect_ok(answer, 201)
    stages = _server_timing(answer.headers["server-timing"])
    assert list(stages) == ["admit", "store", "check", "save", "anchor", "total"]
    assert all(value >= 0 for value in stages.values()), stages
    assert sum(v for k, v in stages.items() if k != "total") <= stages["total"] + 0.5  # 0.1 ms rounding each
    assert stages["total"] <= client_ms
    assert "server-timing" not in client.get("/api/system/status").headers

    text = client.get("/metrics").text
    for stage in ("admit", "store", "check", "save", "anchor"):
        assert _metric(
            text, "healthledger_request_stage_duration_seconds_count", route="/api/medical-records/upload", stage=stage
        ) >= 1, stage


def test_metrics_token_when_set(other_api_server) -> None:
    with other_api_server(metrics_token=SecretStr("scrape-me")) as server, httpx.Client(base_url=server.url, timeout=30) as http:
        expect_error(http.get("/metrics"), 401, "invalid_metrics_token")
        expect_error(http.get("/metrics", headers={"Authorization": "Bearer wrong"}), 401, "invalid_metrics_token")
        assert http.get("/metrics", headers={"Authorization": "Bearer scrape-me"}).status_code == 200


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(AllowListFormatter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


def test_request_id_is_echoed_and_in_the_json_log_line(client: httpx.Client) -> None:
    handler = _Lines()
    logger = logging.getLogger("healthledger.http")
    logger.addHandler(handler)
    try:
        given = client.get("/api/system/config", headers={"X-Request-ID": "ops-test-42"})
        refused = client.get("/api/system/config", headers={"X-Request-ID": "no spaces allowed"})
        fresh = refused.headers["x-request-id"]
        # The access line is written once the response has gone out: it may land just after the
        # client has the answer, so wait (bounded) for both requests' lines before looking at them.
        deadline = time.monotonic() + 10
        while sum(f'"{rid}"' in line for rid in ("ops-test-42", fresh) for line in handler.lines) < 2:
            assert time.monotonic() < deadline, f"no access line for both requests: {handler.lines}"
            time.sleep(0.02)
    finally:
        logger.removeHandler(handler)
    assert given.headers["x-request-id"] == "ops-test-42"
    assert fresh != "no spaces allowed" and len(fresh) == 32
    logged = [json.loads(line) for line in handler.lines]
    mine = [line for line in logged if line.get("request_id") == "ops-test-42"]
    assert mine and mine[0]["event"] == "request" and mine[0]["route"] == "/api/system/config" and mine[0]["status"] == 200
    assert any(line.get("request_id") == fresh for line in logged)
    # Error answers carry it too.
    missing = client.get("/api/medical-records/patient-records", headers={"X-Request-ID": "ops-err-1"})
    assert missing.status_code == 401 and missing.headers["x-request-id"] == "ops-err-1"


def test_selftest_reports_a_relayer_without_the_registrar_role(client: httpx.Client, registrar_wallet: Wallet) -> None:
    report = expect_ok(client.get("/api/system/selftest", headers=registrar_wallet.headers, timeout=300))
    assert report["ok"] is False
    assert [step["name"] for step in report["steps"]] == STEPS[:5] + ["clean_up"]
    failed = report["steps"][4]
    assert failed["ok"] is False and "relayer_not_registrar" in failed["message"]


@pytest.mark.usefixtures("relayer_is_registrar")
def test_selftest_endpoint_passes_end_to_end(client: httpx.Client, registrar_wallet: Wallet, patient_wallet: Wallet) -> None:
    expect_error(client.get("/api/system/selftest", headers=patient_wallet.headers), 403, "wrong_role")
    expect_error(client.get("/api/system/selftest"), 401, "missing_token")
    report = expect_ok(client.get("/api/system/selftest", headers=registrar_wallet.headers, timeout=300))
    assert [step["name"] for step in report["steps"]] == STEPS, report
    assert report["ok"] is True, report
    assert all(step["ok"] and step["latency_ms"] >= 0 for step in report["steps"])
    assert report["run_id"].startswith("selftest-")


@pytest.mark.asyncio
@pytest.mark.usefixtures("relayer_is_registrar")
async def test_concurrent_selftests_share_one_run(api_server, registrar_wallet: Wallet) -> None:
    async with httpx.AsyncClient(base_url=api_server.url, timeout=300) as http:
        answers = await asyncio.gather(
            *(http.get("/api/system/selftest", headers=registrar_wallet.headers) for _ in range(2))
        )
    first, second = (expect_ok(answer) for answer in answers)
    assert first == second and first["ok"] is True  # the same run (same start and timings), not two


@pytest.mark.usefixtures("relayer_is_registrar")
def test_selftest_cli_passes_end_to_end(api_server, dev_accounts) -> None:
    result = CliRunner().invoke(
        cli_app, ["selftest", "--api", api_server.url, "--json"], env={"SELFTEST_REGISTRAR_KEY": dev_accounts[0].private_key}
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["ok"] is True and [step["name"] for step in report["steps"]] == STEPS
    assert dev_accounts[0].private_key[2:] not in result.output


def test_selftest_reports_the_failed_step_when_ipfs_is_down(other_api_server, registrar_wallet: Wallet, dev_accounts) -> None:
    """IPFS stopped (nothing listens at its address): the upload step fails with the API's code, the
    run stops there, clean-up still runs, and the CLI exits 1 saying which step failed."""
    with other_api_server(ipfs_api_url=f"http://127.0.0.1:{free_port()}", ipfs_timeout_seconds=3.0) as server, \
            httpx.Client(base_url=server.url, timeout=120) as http:
        registrar = Wallet.from_key(dev_accounts[0].private_key)
        assert registrar.login(http)["role"] == "registrar"
        report = expect_ok(http.get("/api/system/selftest", headers=registrar.headers))
        assert report["ok"] is False
        names = [step["name"] for step in report["steps"]]
        assert names == ["sign_in", "key_setup", "upload", "clean_up"], report
        failed = report["steps"][2]
        assert failed["ok"] is False and "502 ipfs_unavailable" in failed["message"]
        assert report["steps"][3]["ok"] is True

        result = CliRunner().invoke(
            cli_app, ["selftest", "--api", server.url], env={"SELFTEST_REGISTRAR_KEY": dev_accounts[0].private_key}
        )
        assert result.exit_code == 1
        assert "FAILED upload" in result.output and "ipfs_unavailable" in result.output
