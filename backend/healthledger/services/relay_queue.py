"""Every relayer transaction goes through the shared queue: enqueue, then await the outcome.

Any API instance enqueues (db/relay_jobs.py) and polls its job's document with a backoff until it is
mined or failed, or the wait ends; the instance holding the relayer lease sends it
(services/relay_worker.py). The HTTP semantics of a direct send are kept: a mined job gives its
receipt, a revert the same TransactionReverted (decoded, so the same 4xx), a wait that ends after the
job was sent a TransactionTimeout (the caller answers 202 with the pending record), one that ends
before it was sent gives the job up (RelayerUnavailable, nothing sent).

Signed actions are ordered per signer: a job signed with a nonce ahead of the signer's current one
waits in the queue (at most RELAY_MAX_NONCES_AHEAD ahead, RELAY_NONCE_WAIT_SECONDS long) until the
earlier ones are mined, so one patient can send several uploads at once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from eth_utils import to_checksum_address
from hexbytes import HexBytes
from web3.types import TxReceipt

from ..chain.actions import SignedAction
from ..chain.actions import action as find_action
from ..chain.client import ChainClient, ChainUnavailable
from ..chain.relayer import (
    Relayer,
    RelayerUnavailable,
    TransactionReverted,
    TransactionTimeout,
    TxResult,
)
from ..chain.relayer_types import _PreparedCall as PreparedCall
from ..chain.reverts import DecodedRevert
from ..concurrency import wait_until_set
from ..db.relay_jobs import RelayJob, RelayJobStore
from ..domain_errors import conflict
from ..settings import Settings
from .relay_worker import RelayWorker

FIRST_POLL_SECONDS = 0.05
MAX_POLL_SECONDS = 0.5
POLL_GROWTH = 1.5
# A job still queued when its waiter's time is up gets this much longer when it waits for its nonce.
NONCE_WAIT_SLACK_SECONDS = 5.0


class NothingSent(ChainUnavailable):
    """The node could not be reached to prepare the job's transaction: nothing was sent (502)."""


def nonce_wait_expired(error: Mapping[str, Any]) -> Exception:
    return conflict(
        "nonce_wait_expired",
        f"this action was signed with nonce {error.get('nonce')}, but the signer's earlier actions did not land "
        f"in time (the chain is at nonce {error.get('current')}): sign again",
    )


class RelayQueue:
    """Enqueue relayer transactions and await them (see the module docstring)."""

    def __init__(
        self, *, relayer: Relayer, chain: ChainClient, jobs: RelayJobStore, worker: RelayWorker,
        settings: Settings, relayer_id: str,
    ) -> None:
        self.relayer = relayer
        self._chain = chain
        self._jobs = jobs
        self.worker = worker
        self._settings = settings
        self._relayer_id = relayer_id

    @property
    def address(self) -> str:
        return self.relayer.address

    # -- enqueueing -----------------------------------------------------------------------------

    async def encode_signed(
        self, action: SignedAction | str, patient: str, message: Mapping[str, Any], signature: bytes
    ) -> PreparedCall:
        """The signed action's call on `patient`'s vault (which must exist), encoded, not estimated:
        a caller may do this chain read early and pass the result to `submit_signed` as `call`."""
        entry = action if isinstance(action, SignedAction) else find_action(action)
        return await self.relayer.encode_signed(entry, patient, message, signature)

    async def submit_signed(
        self, action: SignedAction | str, patient: str, message: Mapping[str, Any], signature: bytes,
        *, signer: str, record_cid: str | None = None, call: PreparedCall | None = None,
    ) -> RelayJob:
        """Queue a signed action (`call`: its `encode_signed` result, if already made); a live job
        for the same signer nonce with the same call is joined, one with a different call is refused
        (409 `stale_nonce`)."""
        if call is None:
            call = await self.encode_signed(action, patient, message, signature)
        nonce = int(message["nonce"])
        key = f"{patient.lower()}:{signer.lower()}"
        job = RelayJob(
            id=f"sig:{self._relayer_id}:{key}:{nonce}", relayer=self._relayer_id, action=call.action, to=call.to,
            data=call.data, signer_key=key, signer_nonce=nonce, record_cid=record_cid,
            wait_until=datetime.now(UTC) + timedelta(seconds=self._settings.relay_nonce_wait_seconds),
        )
        stored, _ = await self._jobs.enqueue(job)
        if stored.data != job.data:
            raise conflict("stale_nonce", f"another action signed with nonce {nonce} is already on its way: sign again")
        self.worker.wake()
        return stored

    async def submit_factory(self, fn_name: str, *args: Any, key: str | None = None) -> RelayJob:
        """Queue a call of the factory by the relayer itself (`key`: one live job per key)."""
        call = self.relayer.encode_factory(fn_name, *args)
        job = RelayJob(relayer=self._relayer_id, action=call.action, to=call.to, data=call.data)
        if key is not None:
            job.id = f"{key}:{self._relayer_id}"
        stored, _ = await self._jobs.enqueue(job)
        self.worker.wake()
        return stored

    async def has_call(self, key: str, data: str) -> bool:
        """Whether `submit_call` already queued (or sent, or mined) this very call under `key`: a retry
        of it joins that job, so checks that its own effects would now fail (a spent nonce) are skipped."""
        job = await self._jobs.get(f"{key}:{self._relayer_id}")
        return job is not None and job.data == data and (job.live or job.result is not None)

    async def submit_call(self, call: PreparedCall, *, key: str) -> RelayJob:
        """Queue any relayer call (a bill action on BillPayments) under `key`: a retry while the job
        is live joins it, and one after it was mined gets that mined job back rather than sending again
        (its signature's nonce is spent: a second send could only revert)."""
        job_id = f"{key}:{self._relayer_id}"
        existing = await self._jobs.get(job_id)
        if existing is not None and existing.result is not None and existing.data == call.data:
            return existing
        job = RelayJob(id=job_id, relayer=self._relayer_id, action=call.action, to=call.to, data=call.data)
        stored, _ = await self._jobs.enqueue(job)
        self.worker.wake()
        return stored

    # -- awaiting -------------------------------------------------------------------------------

    async def wait(self, job: RelayJob, timeout: float) -> RelayJob:
        """The job once mined or failed; TransactionTimeout if it was sent but is not mined within
        `timeout`, RelayerUnavailable if nobody sent it (it is given up: nothing will be sent)."""
        self.worker.wanted(+1)
        try:
            with self._jobs.settled(job.id) as settled:
                return await self._wait(job, timeout, settled)
        finally:
            self.worker.wanted(-1)

    async def _wait(self, job: RelayJob, timeout: float, settled: asyncio.Event) -> RelayJob:
        """`wait`'s loop: read the job's document, then pause until this process settles it or the
        next poll (FIRST_POLL_SECONDS growing to MAX_POLL_SECONDS: other instances settle by document only)."""
        deadline = time.monotonic() + timeout
        started_at = datetime.now(UTC) - timedelta(seconds=1)
        pause = FIRST_POLL_SECONDS
        if job.state == "queued":
            # Just queued: a read now would find it queued. The first read waits for this process's
            # worker to settle it, or for the first poll (one MongoDB read fewer per relayed action).
            await wait_until_set(settled, min(pause, timeout))
        while True:
            current = await self._jobs.get(job.id)
            if current is None:
                raise RelayerUnavailable(
                    "the relayer's queue lost the transaction; nothing was sent", maybe_sent=False
                )
            if not current.live:
                return current
            if current.state == "sent" and current.outage_at is not None and current.outage_at >= started_at:
                # Sent, and the node went away: the outcome is unknown (the caller answers 202).
                raise TransactionTimeout(current.tx_hashes[-1] if current.tx_hashes else "", timeout)
            now = time.monotonic()
            if now >= deadline:
                if current.state == "queued" and current.wait_until is not None:
                    extra = (current.wait_until - datetime.now(UTC)).total_seconds() + NONCE_WAIT_SLACK_SECONDS
                    if extra > 0 and now < deadline + extra:
                        deadline = now + extra
                        continue
                if current.state == "queued" and await self._jobs.finish(
                    job.id, error={"kind": "unavailable", "maybe_sent": False, "detail": "not sent in time"},
                    only_if_queued=True,
                ):
                    raise RelayerUnavailable("the relayer is busy and did not send the transaction in time; "
                                             "nothing was sent", maybe_sent=False)
                last = current.tx_hashes[-1] if current.tx_hashes else ""
                raise TransactionTimeout(last, timeout)
            await wait_until_set(settled, min(pause, max(deadline - now, 0.01)))
            pause = min(pause * POLL_GROWTH, MAX_POLL_SECONDS)

    async def receipt(self, job: RelayJob, timeout: float) -> TxReceipt:
        """Wait for `job` and return its (status 1) receipt; its failure as the exception a direct send raises."""
        with self.worker.receipt_handoff(job.id) as handed_over:
            done = await self.wait(job, timeout)
            mined_here = handed_over()
        error = done.error
        if error is not None:
            if error.get("kind") == "reverted":
                revert = DecodedRevert(error["name"], dict(error.get("args") or {}), error.get("selector") or "") \
                    if error.get("name") else None
                raise TransactionReverted(done.action, revert, tx_hash=error.get("tx_hash"), detail=error.get("detail"))
            if error.get("kind") == "nonce_wait":
                raise nonce_wait_expired(error)
            if error.get("kind") == "chain_unavailable":
                raise NothingSent("the chain node could not be reached")
            raise RelayerUnavailable(error.get("detail") or "the relayer could not send the transaction",
                                     maybe_sent=bool(error.get("maybe_sent")))
        assert done.result is not None
        if mined_here is not None and HexBytes(mined_here["transactionHash"]).to_0x_hex() == done.result["tx_hash"]:
            return mined_here
        receipt = await self._chain.receipt_or_none(done.result["tx_hash"])
        if receipt is None:  # mined, then taken back by a reorganisation: the caller's record settles later
            raise TransactionTimeout(done.result["tx_hash"], timeout)
        return receipt

    async def transact(self, job: RelayJob, timeout: float) -> TxResult:
        receipt = await self.receipt(job, timeout)
        return await self.relayer.require_success(HexBytes(receipt["transactionHash"]).to_0x_hex(), receipt, job.action)

    # -- what the services call -----------------------------------------------------------------

    async def relay_signed(
        self, action: SignedAction | str, patient: str, message: Mapping[str, Any], signature: bytes,
        *, timeout: float, signer: str,
    ) -> TxResult:
        """Queue a signed action and wait for it (as Relayer.relay_signed)."""
        job = await self.submit_signed(action, patient, message, signature, signer=signer)
        return await self.transact(job, timeout)

    async def ensure_vault(self, patient: str, *, timeout: float) -> str:
        """The patient's vault address, created first through the queue if needed (one job however many ask)."""
        if not await self._chain.vault_exists(patient):
            job = await self.submit_factory("createVault", to_checksum_address(patient), key=f"vault:{patient.lower()}")
            try:
                await self.transact(job, timeout)
            except TransactionReverted as exc:
                if exc.error_name != "VaultAlreadyExists":
                    raise
        return await self._chain.vault_address(patient)

    async def register_doctor(self, doctor: str, *, timeout: float) -> TxResult:
        return await self.transact(await self.submit_factory("registerDoctor", to_checksum_address(doctor)), timeout)

    async def unregister_doctor(self, doctor: str, *, timeout: float) -> TxResult:
        return await self.transact(await self.submit_factory("unregisterDoctor", to_checksum_address(doctor)), timeout)

    async def live_for_record(self, cid: str) -> bool:
        return await self._jobs.live_for_record(cid)

    async def depth(self) -> dict[str, int]:
        return await self._jobs.depth(self._relayer_id)

    async def close(self) -> None:
        await self.worker.stop()
