"""The relayer lease and the queue's documents on a real SecantusDB (no chain needed).

The lease decides which API instance may broadcast: a live lease is never taken, an expired one is,
every takeover raises the fencing token, and a holder whose token is no longer current (it was
paused while another took over) fails the fence check it makes before each broadcast.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
import pytest_asyncio
from healthledger.db.relay_jobs import RelayJob, RelayJobStore
from healthledger.db.relayer_lease import LeaseStore
from healthledger.domain_errors import Conflict
from healthledger.services.relay import check_signer_nonce
from tests.backend.fixtures.mongo import fresh_database

RELAYER = "0x" + "ab" * 20


@pytest_asyncio.fixture
async def db(mongo_server):
    async with fresh_database(mongo_server, "queue") as database:
        yield database


@pytest.mark.asyncio
async def test_a_live_lease_is_kept_an_expired_one_is_taken_over_with_a_new_token(db) -> None:
    leases = LeaseStore(db, RELAYER, 31337)
    first = await leases.acquire("a", 0.6)
    assert first is not None and first.token == 1
    assert await leases.acquire("b", 0.6) is None  # live: b waits
    renewed = await leases.acquire("a", 0.6)
    assert renewed is not None and renewed.token == 1  # a renewal keeps the token
    await asyncio.sleep(0.7)  # a stops renewing (dies, or is paused)
    taken = await leases.acquire("b", 5.0)
    assert taken is not None and taken.holder == "b" and taken.token == 2
    assert await leases.acquire("a", 5.0) is None
    # Per relayer and chain: another chain's lease is separate.
    assert (await LeaseStore(db, RELAYER, 1).acquire("a", 5.0)) is not None


@pytest.mark.asyncio
async def test_the_fence_refuses_a_stale_holder_and_a_lease_about_to_expire(db) -> None:
    leases = LeaseStore(db, RELAYER, 31337)
    old = await leases.acquire("a", 0.5)
    assert old is not None and await leases.fence(old, 0.1)
    assert not await leases.fence(old, 1.0)  # less than the margin left: no broadcast
    await asyncio.sleep(0.6)
    new = await leases.acquire("b", 5.0)
    assert new is not None and new.token == old.token + 1
    assert not await leases.fence(old, 0.0)  # the paused holder wakes up: refused
    assert await leases.fence(new, 1.0)
    # Releasing a lease one no longer holds changes nothing; the holder's release frees it at once.
    await leases.release(old)
    assert await leases.acquire("a", 5.0) is None
    await leases.release(new)
    again = await leases.acquire("a", 5.0)
    assert again is not None and again.token == new.token + 1


@pytest.mark.asyncio
async def test_one_live_job_per_id_and_settled_jobs_are_replaced(db) -> None:
    jobs = RelayJobStore(db)
    await jobs.ensure_indexes()
    first = RelayJob(
        id="sig:x:1", relayer="r", action="addRecordBySig", to=RELAYER, data="0x01", signer_key="p:s", signer_nonce=1
    )
    stored, created = await jobs.enqueue(first)
    assert created and stored.state == "queued"
    other = RelayJob(id="sig:x:1", relayer="r", action="addRecordBySig", to=RELAYER, data="0x02")
    stored, created = await jobs.enqueue(other)
    assert not created and stored.data == "0x01"  # the live job stands; the caller compares calls
    assert await jobs.note_sending("sig:x:1", tx_nonce=7, fees={"gasPrice": 10**9}, gas=21000, tx_hash="0xaa")
    assert await jobs.live_for_record("nope") is False
    assert [j.id for j in await jobs.in_flight("r")] == ["sig:x:1"]
    assert not await jobs.finish("sig:x:1", error={"kind": "unavailable"}, only_if_queued=True)  # sent: not given up
    assert await jobs.finish("sig:x:1", result={"tx_hash": "0xaa", "status": 1})
    assert not await jobs.note_sending("sig:x:1", tx_nonce=8, fees={}, gas=1, tx_hash="0xbb")  # settled: no broadcast
    stored, created = await jobs.enqueue(other)
    assert created and (await jobs.get("sig:x:1")).data == "0x02"  # type: ignore[union-attr]
    assert (await jobs.depth("r")) == {"queued": 1, "sent": 0}


def test_signer_nonces_from_the_current_one_up_to_the_bound_are_accepted() -> None:
    for nonce in (5, 6, 21):
        check_signer_nonce(nonce, 5, 16)
    with pytest.raises(Conflict) as behind:
        check_signer_nonce(4, 5, 16)
    assert behind.value.code == "stale_nonce"
    with pytest.raises(Conflict) as ahead:
        check_signer_nonce(22, 5, 16)
    assert ahead.value.code == "nonce_too_far_ahead"
    check_signer_nonce(5, 5, 0)
    with pytest.raises(Conflict):
        check_signer_nonce(6, 5, 0)


@pytest.mark.asyncio
async def test_the_backlog_counts_live_jobs_of_this_relayer_and_dates_the_oldest(db) -> None:
    """What /metrics reports as the queue's depth and age (services/relay_worker.py reads it)."""
    jobs = RelayJobStore(db)
    await jobs.ensure_indexes()
    assert await jobs.backlog("r") == (0, None)
    older = RelayJob(
        id="sig:b:1", relayer="r", action="addRecordBySig", to=RELAYER, data="0x01",
        created_at=datetime.now(UTC) - timedelta(minutes=5),
    )
    await jobs.enqueue(older)
    newer = RelayJob(id="sig:b:2", relayer="r", action="addRecordBySig", to=RELAYER, data="0x02")
    await jobs.enqueue(newer)
    await jobs.enqueue(RelayJob(id="sig:b:3", relayer="other", action="addRecordBySig", to=RELAYER, data="0x03"))
    depth, oldest = await jobs.backlog("r")
    assert depth == 2
    assert oldest is not None and oldest.tzinfo is not None
    assert abs((oldest - older.created_at).total_seconds()) < 0.01
    # A settled job leaves the backlog; the next oldest dates it.
    assert await jobs.finish("sig:b:1", result={"status": 1})
    depth, oldest = await jobs.backlog("r")
    assert depth == 1 and oldest is not None
    assert abs((oldest - newer.created_at).total_seconds()) < 0.01


@pytest.mark.asyncio
async def test_finishing_a_job_wakes_this_process_s_waiter_and_only_for_that_job(db) -> None:
    """The in-process nudge: a waiter of the job settled here hears it at once (not at its next
    poll); a waiter of another job does not; a second store (another instance) gets no event."""
    jobs, elsewhere = RelayJobStore(db), RelayJobStore(db)
    job, _ = await jobs.enqueue(RelayJob(relayer=RELAYER, action="createVault", to=RELAYER, data="0x"))
    other, _ = await jobs.enqueue(RelayJob(relayer=RELAYER, action="createVault", to=RELAYER, data="0x01"))
    with jobs.settled(job.id) as mine, jobs.settled(other.id) as theirs, elsewhere.settled(job.id) as remote:
        assert not mine.is_set()
        assert await jobs.finish(job.id, result={"tx_hash": "0x" + "00" * 32})
        assert mine.is_set() and not theirs.is_set() and not remote.is_set()
    assert job.id not in jobs._settled  # the registry does not grow with finished waits
