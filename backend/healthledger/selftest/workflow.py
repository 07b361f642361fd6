"""The self-test: a synthetic patient and doctor go through the main workflow against the live API.

Steps, in order (a failed step stops the run; clean-up is attempted whatever happened):
sign in, key setup, upload a small file, verify it, register a throwaway doctor (the registrar's
part: `Registrar`), the doctor requests access, the patient approves, the doctor reads, the patient
revokes, the doctor is refused; clean-up unregisters the doctor.

Safe on a live system: both accounts are fresh random wallets (client.py) that nobody else can
hold, every call has a timeout and the whole run a deadline. What cannot be removed through the API
stays, harmless: the patient's vault and record (encrypted under a key nobody has any more), the
access request and the doctor's off-chain profile (marked unregistered).
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import httpx
from eth_account import Account

from .client import StepFailed, SyntheticWallet, expect

DEFAULT_CALL_TIMEOUT_SECONDS = 60.0
DEFAULT_RUN_TIMEOUT_SECONDS = 180.0
# How long a 202 upload (sent, not yet mined) is polled for before the run gives up on it.
ANCHOR_WAIT_SECONDS = 60.0
DOCTOR_NAME = "Self-test doctor"


class Registrar(Protocol):
    """Who registers the throwaway doctor on chain: the API's own relayer, or a registrar over HTTP."""

    async def register_doctor(self, address: str) -> None: ...

    async def unregister_doctor(self, address: str) -> None: ...


@dataclass
class StepResult:
    name: str
    ok: bool
    latency_ms: float
    message: str


@dataclass
class SelftestReport:
    ok: bool
    run_id: str
    started_at: str
    duration_ms: float
    steps: list[StepResult] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


class HttpRegistrar:
    """A registrar signing in with its own key and calling POST/DELETE /api/admin/doctors (the CLI's way)."""

    def __init__(self, http: httpx.AsyncClient, private_key: str) -> None:
        self._wallet = SyntheticWallet(http, Account.from_key(private_key))

    async def _signed_in(self) -> SyntheticWallet:
        if not self._wallet.role:
            await self._wallet.sign_in()
        if self._wallet.role != "registrar":
            raise StepFailed("the registrar key given does not hold the registrar role")
        return self._wallet

    async def register_doctor(self, address: str) -> None:
        wallet = await self._signed_in()
        body = {"address": address, "name": DOCTOR_NAME, "licenceId": "SELFTEST-" + address[2:10]}
        expect(await wallet.http.post("/api/admin/doctors", json=body, headers=wallet.headers), 201)

    async def unregister_doctor(self, address: str) -> None:
        wallet = await self._signed_in()
        expect(await wallet.http.delete(f"/api/admin/doctors/{address}", headers=wallet.headers), 200)


class _Run:
    """One run's state: the wallets, what was created (for clean-up) and the step results."""

    def __init__(self, http: httpx.AsyncClient, registrar: Registrar) -> None:
        self.http = http
        self.registrar = registrar
        self.patient = SyntheticWallet(http)
        self.doctor = SyntheticWallet(http)
        self.content = b"HealthLedger self-test " + os.urandom(512).hex().encode()
        self.record: dict[str, Any] = {}
        self.request_id = ""
        self.doctor_registered = False
        self.steps: list[StepResult] = []

    async def step(self, name: str, work: Callable[[], Awaitable[str]]) -> bool:
        started = time.perf_counter()
        try:
            message, ok = await work(), True
        except StepFailed as exc:
            message, ok = str(exc), False
        except httpx.TimeoutException:
            message, ok = "the API did not answer in time", False
        except httpx.TransportError as exc:
            message, ok = f"the API could not be reached ({type(exc).__name__})", False
        except Exception as exc:  # noqa: BLE001 - a step must report, never end the run (or the server's request) with a crash
            message, ok = f"unexpected failure ({type(exc).__name__})", False
        self.steps.append(StepResult(name, ok, round((time.perf_counter() - started) * 1000, 1), message))
        return ok

    # -- the steps --------------------------------------------------------------------------------

    async def sign_in(self) -> str:
        role = await self.patient.sign_in()
        if role != "patient":
            raise StepFailed(f"a fresh wallet signed in as {role}, not patient")
        return "signed in a fresh patient"

    async def key_setup(self) -> str:
        await self.patient.set_up_key()
        return "patient encryption key registered"

    async def upload(self) -> str:
        self.record = await self.patient.upload(self.content, "selftest.txt")
        deadline = time.monotonic() + ANCHOR_WAIT_SECONDS
        while self.record.get("record_id") is None:  # 202: sent, not yet mined
            if time.monotonic() > deadline:
                raise StepFailed(f"the upload was not mined within {ANCHOR_WAIT_SECONDS:.0f} s")
            await asyncio.sleep(0.5)
            self.record = next((r for r in await self.patient.records() if r["cid"] == self.record["cid"]), self.record)
        return f"record {self.record['record_id']} {self.record['state']}"

    async def verify(self) -> str:
        result = await self.patient.verify(self.record["cid"])
        if not result.get("verified"):
            raise StepFailed(f"the record did not verify: {result.get('problems') or result}")
        return "file, database and chain agree"

    async def register_doctor(self) -> str:
        await self.registrar.register_doctor(self.doctor.address)
        self.doctor_registered = True
        role = await self.doctor.sign_in()
        if role != "doctor":
            raise StepFailed(f"the registered doctor signed in as {role}")
        await self.doctor.set_up_key()
        return "throwaway doctor registered, signed in, key registered"

    async def request_access(self) -> str:
        body = {"patientAddress": self.patient.address, "requestReason": "self-test"}
        body.update(await self.doctor.signed("requestAccess", {"patientAddress": self.patient.address}))
        answer = expect(await self.http.post("/api/access-requests/doctor/request", json=body, headers=self.doctor.headers), 201)
        self.request_id = answer["id"]
        return "access requested"

    async def approve(self) -> str:
        record_id, duration = self.record["record_id"], 3600
        signed = await self.patient.signed(
            "approveRecords", {"doctor": self.doctor.address, "recordIds": [record_id], "duration": duration}, "approvalSignature"
        )
        body = {
            "requestId": self.request_id,
            "action": "approve",
            "selectedRecords": [record_id],
            "durationSeconds": duration,
            "walletSignature": await self.patient.key_signature(),
            **signed,
        }
        expect(await self.http.post("/api/access-requests/patient/respond", json=body, headers=self.patient.headers), 200)
        return "approved for one hour"

    async def doctor_read(self) -> str:
        answer = await self.doctor.view(self.record["cid"])
        expect(answer, 200)
        if answer.content != self.content:
            raise StepFailed("the doctor read different bytes than were uploaded")
        return "doctor read the exact file"

    async def revoke(self) -> str:
        body = {"doctorAddress": self.doctor.address, **await self.patient.signed("revokeAccess", {"doctor": self.doctor.address})}
        expect(await self.http.post("/api/access-requests/patient/revoke", json=body, headers=self.patient.headers), 200)
        return "access revoked"

    async def doctor_refused(self) -> str:
        answer = await self.doctor.view(self.record["cid"])
        if answer.status_code != 403:
            raise StepFailed(f"after the revocation the doctor's read answered {answer.status_code}, not 403")
        return "doctor refused (403)"

    async def clean_up(self) -> str:
        if not self.doctor_registered:
            return "nothing to clean up"
        await self.registrar.unregister_doctor(self.doctor.address)
        self.doctor_registered = False
        return "throwaway doctor unregistered"

    def steps_in_order(self) -> list[tuple[str, Callable[[], Awaitable[str]]]]:
        return [
            ("sign_in", self.sign_in),
            ("key_setup", self.key_setup),
            ("upload", self.upload),
            ("verify", self.verify),
            ("register_doctor", self.register_doctor),
            ("request_access", self.request_access),
            ("approve", self.approve),
            ("doctor_read", self.doctor_read),
            ("revoke", self.revoke),
            ("doctor_refused", self.doctor_refused),
        ]


async def run_selftest(
    http: httpx.AsyncClient,
    registrar: Registrar,
    *,
    timeout_seconds: float = DEFAULT_RUN_TIMEOUT_SECONDS,
) -> SelftestReport:
    """Run the workflow through `http` (an AsyncClient whose base_url is the API, with call timeouts).

    The steps share `timeout_seconds`; clean-up then gets its own bounded time, so a run that timed
    out still removes the doctor it registered.
    """
    started_at, started = datetime.now(UTC).isoformat(timespec="seconds"), time.perf_counter()
    # Every request of the run carries this id as its X-Request-ID: the API's log lines of the run
    # can be found by it.
    run_id = "selftest-" + uuid.uuid4().hex[:16]
    http.headers["X-Request-ID"] = run_id
    run = _Run(http, registrar)
    pending = run.steps_in_order()
    try:
        async with asyncio.timeout(timeout_seconds):
            for name, work in pending:
                if not await run.step(name, work):
                    break
    except TimeoutError:
        done = {step.name for step in run.steps}
        name = next((n for n, _ in pending if n not in done), "run")
        run.steps.append(StepResult(name, False, 0.0, f"the self-test exceeded {timeout_seconds:.0f} s"))
    try:
        async with asyncio.timeout(DEFAULT_CALL_TIMEOUT_SECONDS):
            await run.step("clean_up", run.clean_up)
    except TimeoutError:
        run.steps.append(StepResult("clean_up", False, 0.0, "clean-up did not finish in time"))
    ok = all(step.ok for step in run.steps) and len(run.steps) == len(pending) + 1
    return SelftestReport(ok, run_id, started_at, round((time.perf_counter() - started) * 1000, 1), run.steps)


def api_client(api_url: str, call_timeout_seconds: float = DEFAULT_CALL_TIMEOUT_SECONDS) -> httpx.AsyncClient:
    """An AsyncClient for `api_url` with a timeout on every call, not reading proxy settings."""
    return httpx.AsyncClient(base_url=api_url.rstrip("/"), timeout=call_timeout_seconds, trust_env=False)
