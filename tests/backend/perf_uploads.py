"""Upload timings against the real stack (not collected by default: run it by path).

    BENCH_OUT=/tmp/bench.json .venv/bin/python -m pytest -p no:ape_test tests/backend/perf_uploads.py -q -s

Measures, on the session's Anvil, js-ipfs and SecantusDB, through the API over HTTP:
- a patient's upload of a 10 MB file, end to end (sign, post, 201): median of BENCH_PATIENT_RUNS (3);
- a doctor's upload of a small file for a patient who granted write access: median of
  BENCH_DOCTOR_RUNS (5). Skipped on code without the doctor upload route.

Only the POST is timed (the typed data and signatures are made before the clock starts), so the
numbers are the server's pipeline: hash, encrypt, pin, relay, wait for the receipt, confirm.
"""

from __future__ import annotations

import json
import os
import statistics
import time
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from healthledger.devstack.process import free_port

from .fixtures.api import serve
from .fixtures.wallets import registered_doctor
from .support import access
from .support.doctor_records import doctor_upload_form, register_key
from .support.records import upload_form
from .support.wallet import Wallet

MB = 1024 * 1024
_RESULTS: dict[str, object] = {}


@pytest.fixture(scope="module")
def bench_client(api_settings):
    """An API like the session's, but taking files up to 20 MB."""
    settings = api_settings.model_copy(update={"port": free_port(), "max_upload_bytes": 20 * MB})
    with serve(settings) as server, httpx.Client(base_url=server.url, timeout=120.0) as http:
        yield http


def _record(name: str, seconds: list[float], **extra: object) -> None:
    _RESULTS[name] = {"runs_s": [round(s, 3) for s in seconds], "median_s": round(statistics.median(seconds), 3), **extra}
    print(f"\n{name}: {_RESULTS[name]}")
    out = os.environ.get("BENCH_OUT")
    if out:
        Path(out).write_text(json.dumps(_RESULTS, indent=2))


def test_patient_upload_10mb(bench_client: httpx.Client) -> None:
    runs = int(os.environ.get("BENCH_PATIENT_RUNS", "3"))
    patient = Wallet.random()
    patient.login(bench_client)
    seconds = []
    for _ in range(runs):
        content = os.urandom(10 * MB)
        form = upload_form(bench_client, patient, content)
        started = time.perf_counter()
        response = bench_client.post(
            "/api/medical-records/upload",
            data=form,
            files={"file": ("big.bin", content, "application/octet-stream")},
            headers=patient.headers,
        )
        seconds.append(time.perf_counter() - started)
        assert response.status_code == 201, response.text
    median = statistics.median(seconds)
    _record("patient_upload_10mb", seconds, mb_per_s=round(10 / median, 2))


@pytest_asyncio.fixture
async def writer(bench_client: httpx.Client, registrar_relayer) -> Wallet:
    return await registered_doctor(bench_client, registrar_relayer)


def test_doctor_upload_small(bench_client: httpx.Client, writer: Wallet) -> None:
    runs = int(os.environ.get("BENCH_DOCTOR_RUNS", "5"))
    patient = Wallet.random()
    patient.login(bench_client)
    register_key(bench_client, patient)
    register_key(bench_client, writer)
    assert access.write_grant(bench_client, patient, writer.address, 86400).status_code == 200
    seconds = []
    for _ in range(runs):
        content = os.urandom(4096)
        form = doctor_upload_form(bench_client, writer, patient.address, content)
        started = time.perf_counter()
        response = bench_client.post(
            "/api/medical-records/doctor/upload",
            data=form,
            files={"file": ("rx.pdf", content, "application/pdf")},
            headers=writer.headers,
        )
        seconds.append(time.perf_counter() - started)
        if response.status_code == 500 and not seconds[1:]:
            pytest.skip("no doctor upload route in this code")
        assert response.status_code == 201, response.text
    _record("doctor_upload_4kb", seconds)
