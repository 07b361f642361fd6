"""The lease holder's side of the shared relayer queue: the one instance that sends.

Every API instance runs one RelayWorker. It holds the relayer lease (db/relayer_lease.py) only while
the queue (db/relay_jobs.py) has work: it renews the lease every LEASE/3, takes it when it is free or
expired, and gives it back once the queue is empty, so an idle or paused instance never keeps the
others waiting. While it holds the lease it:

- sends queued jobs oldest first. A signed action goes out only when its signer's contract nonce is
  the one it was signed with (earlier actions of that signer mined); one signed ahead waits, one
  behind fails as `InvalidAccountNonce`, one still waiting after RELAY_NONCE_WAIT_SECONDS fails
  `nonce_wait_expired`. Each job is estimated just before it is sent, so a revert is decoded as today;
- assigns transaction nonces, bumps fees and re-broadcasts dropped transactions with the Relayer's own
  logic (chain/relayer.py: `send`, `wait`), a watcher task per sent job;
- saves each version's hash (and nonce and fees) to the job, and to the record it anchors, *before*
  the broadcast, then checks its fencing token with a conditional update: a holder paused past its
  lease never broadcasts after a takeover;
- on taking over, adopts the jobs the previous holder left `sent` and waits on their hashes (re-sent
  or replaced only if the node forgot them or they are stuck), never sending them blindly again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from hexbytes import HexBytes

from ..chain.client import CHAIN_TRANSPORT_ERRORS, ChainClient
from ..chain.relayer import (
    Relayer,
    RelayerUnavailable,
    SentTransaction,
    TransactionReverted,
    TransactionTimeout,
)
from ..chain.rpc import ChainError
from ..concurrency import cancel_and_wait, gather_in_order, wait_until_set
from ..db.records import RecordStore
from ..db.relay_jobs import RelayJob, RelayJobStore
from ..db.relayer_lease import Lease, LeaseStore
from ..metrics import set_relayer_backlog, set_relayer_balance
from ..settings import Settings

log = logging.getLogger(__name__)

POLL_SECONDS = 0.2  # how often the holder looks for new jobs (a local submit wakes it at once)
IDLE_RELEASE_SECONDS = 1.0  # an empty queue for this long: give the lease back
BACKLOG_SECONDS = 2.0  # how often each instance reads the queue's size and age for /metrics
BALANCE_SECONDS = 30.0  # how often each instance reads the relayer's balance for /metrics


class LeaseLost(Exception):
    """The fencing check failed: another instance holds the lease now; nothing was broadcast."""


class JobSettled(Exception):
    """The job was settled (e.g. given up by its waiter) before this version could be broadcast."""


def reverted_error(exc: TransactionReverted) -> dict[str, Any]:
    revert = exc.revert
    return {
        "kind": "reverted",
        "name": revert.name if revert else None,
        "args": {k: str(v) for k, v in (revert.args.items() if revert else [])},
        "selector": revert.selector if revert else None,
        "tx_hash": exc.tx_hash,
        "detail": str(exc),
    }


class RelayWorker:
    """Holds the lease while there is work and sends the queue's jobs (see the module docstring)."""

    def __init__(
        self, *, relayer: Relayer, chain: ChainClient, jobs: RelayJobStore, leases: LeaseStore,
        records: RecordStore, settings: Settings, relayer_id: str,
    ) -> None:
        self._relayer = relayer
        self._chain = chain
        self._jobs = jobs
        self._leases = leases
        self._records = records
        self._settings = settings
        self._relayer_id = relayer_id
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self.lease: Lease | None = None
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._watchers: dict[str, asyncio.Task[None]] = {}
        self._checked_at: dict[str, int] = {}  # waiting job -> head block its signer's nonce was read at
        self._wanted = 0  # jobs this process awaits: try for the lease while any is open
        # Receipts this process's waiters want (job id -> the receipt once mined here, else None).
        self._receipts: dict[str, Any] = {}
        self._idle_since: float | None = None
        self._next_renew = 0.0
        self._next_backlog = 0.0
        self._next_balance = 0.0
        self._closed = False

    # -- life -----------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the loop (idempotent; the queue starts it on first use; never again after `stop`)."""
        if not self._closed and (self._task is None or self._task.done()):
            self._task = asyncio.create_task(self._loop(), name="healthledger-relay-worker")

    async def stop(self) -> None:
        """Stop sending and give the lease back, so another instance resumes at once."""
        self._closed = True
        if self._task is not None:
            await cancel_and_wait(self._task)
            self._task = None
        await self._drop_lease(release=True)

    def wake(self) -> None:
        self.start()
        self._wake.set()

    def wanted(self, delta: int) -> None:
        """A local waiter starts (+1) or stops (-1) waiting for a job."""
        self._wanted += delta
        self.wake()

    @contextlib.contextmanager
    def receipt_handoff(self, job_id: str) -> Iterator[Callable[[], Any]]:
        """While a waiter of this process awaits `job_id`: if this process mines it, its receipt is
        kept for that waiter, which then need not fetch it from the node again (one round trip
        less per relayed action). Yields a getter: the receipt, or None if another instance mined it."""
        self._receipts.setdefault(job_id, None)  # several waiters of one job: the first to end drops it
        try:
            yield lambda: self._receipts.get(job_id)
        finally:
            self._receipts.pop(job_id, None)

    @property
    def lease_seconds(self) -> float:
        return self._settings.relayer_lease_seconds

    # -- the loop -------------------------------------------------------------------------------

    async def _loop(self) -> None:
        while not self._closed:
            try:
                now = time.monotonic()
                if self.lease is not None and now >= self._next_renew:
                    await self._renew()
                elif self.lease is None and (self._wanted > 0 or now >= self._next_renew):
                    # A local waiter, or now and then: live jobs nobody sends (their holder died).
                    if self._wanted > 0 or await self._jobs.has_live(self._relayer_id):
                        await self._renew()
                    self._next_renew = now + self.lease_seconds / 3
                if now >= self._next_backlog:
                    await self._report_backlog()
                    self._next_backlog = now + BACKLOG_SECONDS
                if now >= self._next_balance:
                    self._next_balance = now + BALANCE_SECONDS
                    await self._report_balance()
                if self.lease is not None:
                    busy = await self._dispatch()
                    if busy or self._watchers:
                        self._idle_since = None
                    elif self._idle_since is None:
                        self._idle_since = now
                    elif now - self._idle_since >= IDLE_RELEASE_SECONDS:
                        await self._drop_lease(release=True)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # an outage (MongoDB, the node): try again shortly
                log.warning("relay worker pass failed", extra={"error_type": type(exc).__name__})
                await asyncio.sleep(1.0)
            self._wake.clear()
            holding = self.lease is not None or self._wanted > 0
            await wait_until_set(self._wake, POLL_SECONDS if holding else self.lease_seconds / 3)

    async def _report_backlog(self) -> None:
        """Every instance, holder or not, reports the whole queue: a queue nobody sends (its holder
        died, the lease not yet taken over) still shows as growing and ageing."""
        depth, oldest = await self._jobs.backlog(self._relayer_id)
        age = (datetime.now(UTC) - oldest).total_seconds() if oldest is not None else 0.0
        set_relayer_backlog(depth, age)

    async def _report_balance(self) -> None:
        """The relayer's balance for /metrics: it pays every relayed transaction, so an operator can
        alert before it runs dry instead of hearing of it from failed uploads. A balance the node
        does not give is left as last read (the dependency metrics show the node's errors)."""
        try:
            set_relayer_balance(await self._chain.balance_of(self._relayer.address))
        except ChainError:
            pass

    async def _renew(self) -> None:
        self._next_renew = time.monotonic() + self.lease_seconds / 3
        lease = await self._leases.acquire(self.holder, self.lease_seconds)
        if lease is None:
            await self._drop_lease(release=False)
            return
        if self.lease is None or self.lease.token != lease.token:
            await self._drop_lease(release=False)
            self.lease = lease
            self._idle_since = None
            log.info("relayer lease taken", extra={"holder": self.holder, "token": lease.token})
            await self._adopt()
        else:
            self.lease = lease
            await self._adopt()  # `sent` jobs nobody watches (a send interrupted after its hash was saved)

    async def _drop_lease(self, *, release: bool) -> None:
        lease, self.lease = self.lease, None
        watchers = list(self._watchers.values())
        for task in watchers:
            task.cancel()
        if watchers:
            # Not `suppress(CancelledError): await task`: that would also swallow a cancellation of
            # this task (a stop) arriving meanwhile. `asyncio.wait` raises neither.
            await asyncio.wait(watchers)
        for task in watchers:
            if not task.cancelled():
                task.exception()  # retrieved: a watcher's error is moot once the lease is gone
        self._watchers.clear()
        self._relayer.forget_in_flight()
        if lease is not None and release:
            with contextlib.suppress(Exception):
                await self._leases.release(lease)

    async def _adopt(self) -> None:
        """Resume the jobs a previous holder sent: wait on their hashes (re-sent only if needed)."""
        for job in await self._jobs.in_flight(self._relayer_id):
            if job.tx_nonce is None or not job.tx_hashes or job.id in self._watchers:
                continue
            call = self._relayer.unestimated(job.action, job.to, job.data, gas=job.gas)
            sent = self._relayer.adopt(call, job.tx_nonce, job.fees, job.tx_hashes)
            log.info("relayer job adopted", extra={"job": job.id, "nonce": job.tx_nonce})
            self._watch(job, sent)

    # -- sending --------------------------------------------------------------------------------

    async def _dispatch(self) -> bool:
        """Send every queued job whose turn it is; whether the queue had anything."""
        queued = await self._jobs.queued(self._relayer_id)
        ids = {job.id for job in queued}
        self._checked_at = {k: v for k, v in self._checked_at.items() if k in ids}
        if not queued:
            return False
        head = await self._chain.block_number()
        nonces: dict[str, int] = {}
        now = datetime.now(UTC)
        for job in queued:
            if self.lease is not None and time.monotonic() >= self._next_renew:
                await self._renew()  # a long pass must not outlive the lease
            if self.lease is None:
                break
            if job.signer_key is not None and job.signer_nonce is not None:
                if self._checked_at.get(job.id) == head and (job.wait_until is None or job.wait_until > now):
                    continue  # nothing mined since we last looked
                if job.signer_key not in nonces:
                    patient, signer = job.signer_key.split(":")
                    nonces[job.signer_key] = await self._chain.nonce_of(patient, signer)
                current = nonces[job.signer_key]
                if current < 0:
                    continue  # this pass sent the signer's current nonce: the next waits for its mining
                if job.signer_nonce > current:
                    self._checked_at[job.id] = head
                    if job.wait_until is not None and job.wait_until <= now:
                        await self._jobs.finish(job.id, error={
                            "kind": "nonce_wait", "nonce": job.signer_nonce, "current": current})
                        self._checked_at.pop(job.id, None)
                    continue
                self._checked_at.pop(job.id, None)
                if job.signer_nonce < current:
                    await self._jobs.finish(job.id, error={"kind": "reverted", "name": "InvalidAccountNonce",
                                                           "args": {}, "selector": None, "tx_hash": None,
                                                           "detail": "the signer's nonce was used by another action"})
                    continue
                nonces[job.signer_key] = -1  # this job takes it; a later one waits for the mining
            await self._send(job)
        return True

    async def _send(self, job: RelayJob) -> None:
        call = self._relayer.unestimated(job.action, job.to, job.data)
        unreachable = {"kind": "chain_unavailable", "detail": "the chain node could not be reached"}
        try:
            # Two independent reads at once: one round trip's wait on every relayed action's path.
            call, fees = await gather_in_order(self._relayer.estimate(call), self._relayer.current_fees())
        except TransactionReverted as exc:
            await self._jobs.finish(job.id, error=reverted_error(exc))
            return
        except CHAIN_TRANSPORT_ERRORS:  # as a direct send answered: 502 now, nothing was sent
            await self._jobs.finish(job.id, error=unreachable)
            return
        hook = self._version_hook(job)
        try:
            sent = await self._relayer.send(call, version_hook=hook, fees=fees)
        except CHAIN_TRANSPORT_ERRORS:
            if hook.sent is None:  # before any version was signed and saved
                await self._jobs.finish(job.id, error=unreachable)
            return  # else it is `sent` with a saved hash: `_adopt` resumes it at the next renewal
        except JobSettled:
            return
        except LeaseLost:
            await self._drop_lease(release=False)
            return
        except RelayerUnavailable as exc:
            # As a direct send answered: 502 at once. If it may have reached the node, its hash is
            # saved on the record, and the reconciler settles it (confirms, sends again or removes).
            maybe_sent = exc.maybe_sent and hook.sent is not None
            await self._jobs.finish(job.id, error={"kind": "unavailable", "maybe_sent": maybe_sent, "detail": str(exc)})
            return
        self._watch(job, sent, hook)

    def _version_hook(self, job: RelayJob) -> _VersionHook:
        return _VersionHook(self, job)

    def _watch(self, job: RelayJob, sent: SentTransaction, hook: _VersionHook | None = None) -> None:
        task = asyncio.create_task(self._watch_one(job, sent, hook or self._version_hook(job)))
        self._watchers[job.id] = task
        task.add_done_callback(lambda _t, job_id=job.id: self._watchers.pop(job_id, None))

    async def _watch_one(self, job: RelayJob, sent: SentTransaction, hook: _VersionHook) -> None:
        """Wait for one of the job's versions to be mined (re-sending as needed), then settle the job."""
        while self.lease is not None:
            try:
                receipt = await self._relayer.wait(sent, self.lease_seconds, version_hook=hook)
            except TransactionTimeout:
                continue
            except TransactionReverted as exc:  # re-estimated before a re-send: it can no longer land
                await self._jobs.finish(job.id, error=reverted_error(exc))
                return
            except (LeaseLost, JobSettled):
                return
            except (RelayerUnavailable, *CHAIN_TRANSPORT_ERRORS):
                # The node went away: its waiters answer now (202, the hash is saved) instead of
                # waiting out their timeout; this watcher keeps trying.
                await self._jobs.note_outage(job.id)
                await asyncio.sleep(1.0)
                continue
            tx_hash = HexBytes(receipt["transactionHash"]).to_0x_hex()
            if receipt["status"] != 1:
                try:
                    await self._relayer.require_success(tx_hash, receipt, job.action)
                except TransactionReverted as exc:
                    await self._jobs.finish(job.id, error=reverted_error(exc))
                    return
            if job.id in self._receipts:
                self._receipts[job.id] = receipt
            await self._jobs.finish(job.id, result={
                "tx_hash": tx_hash, "block_number": int(receipt["blockNumber"]),
                "block_hash": HexBytes(receipt["blockHash"]).to_0x_hex(), "status": int(receipt["status"]),
            })
            return


class _VersionHook:
    """Runs before each broadcast of a job's transaction: save the version, and check the fence.

    The job's version is saved first: a job settled meanwhile (its waiter gave it up, its upload is
    being removed) must not leave a hash on the record, which the reconciler would take as sent.
    Once the job is `sent` nobody else settles it, so the record's hash and the fencing check then
    run together: one MongoDB round trip fewer on every relayed action's path. Both have finished
    before the broadcast.
    """

    def __init__(self, worker: RelayWorker, job: RelayJob) -> None:
        self._w = worker
        self._job = job
        self.sent: SentTransaction | None = None

    async def __call__(self, sent: SentTransaction, tx_hash: str) -> None:
        self.sent = sent
        w = self._w
        if not await w._jobs.note_sending(self._job.id, tx_nonce=sent.nonce, fees=sent.fees, gas=sent.call.gas,
                                          tx_hash=tx_hash):
            raise JobSettled(self._job.id)

        async def save_to_record() -> None:
            if self._job.record_cid:
                await w._records.add_tx_hash(self._job.record_cid, tx_hash)

        async def still_holding() -> bool:
            lease = w.lease
            return lease is not None and await w._leases.fence(lease, w.lease_seconds / 3)

        _, holding = await gather_in_order(save_to_record(), still_holding())
        if not holding:
            raise LeaseLost(self._job.id)
