"""A restarted service finishes or cleans up uploads left pending."""

from __future__ import annotations

import hashlib
import os
import socket
import threading
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from healthledger.container import build_services
from healthledger.crypto import new_data_key
from healthledger.db.records import RecordDoc
from healthledger.devstack.process import free_port
from healthledger.services.reconcile import reconcile_pending
from healthledger.storage.ipfs import IpfsClient

from .support.crypto import encrypt_bytes
from .support.records import upload
from .support.wallet import Wallet


async def _add_ciphertext(services, *, pin: bool = True) -> str:
    """A fresh record-sized ciphertext added to IPFS (pinned unless `pin=False`); its CID."""
    data = encrypt_bytes(os.urandom(100), new_data_key())

    async def chunks():
        yield data

    return (await services.ipfs.add_stream(chunks(), pin=pin)).cid


async def _waiting(services) -> set[str]:
    """CIDs in `pins_to_release` (db/pin_releases.py)."""
    return {entry.cid for entry in await services.pin_releases.oldest(10_000)}


def _pending_doc(patient: str, cid: str, created_at: datetime, tx_hash: str | None = None) -> RecordDoc:
    return RecordDoc(
        patient=patient.lower(),
        record_type="report",
        name="interrupted",
        content_type="application/pdf",
        cid=cid,
        content_hash="0x" + hashlib.sha256(cid.encode()).hexdigest(),
        ciphertext_hash="0x" + "00" * 32,
        size=1,
        ciphertext_size=1,
        wrapped_key="hlkw1.unused",
        vault_address="0x" + "00" * 20,
        tx_hash=tx_hash,
        created_at=created_at,
    )


async def _reconcile_with_ipfs_at(services, port: int, timeout_seconds: float):
    """One reconcile pass with the IPFS client pointed at 127.0.0.1:`port`; the real client after it."""
    real_ipfs, services.ipfs = services.ipfs, IpfsClient(f"http://127.0.0.1:{port}", timeout_seconds=timeout_seconds)
    try:
        return await reconcile_pending(services, grace_seconds=600)
    finally:
        await services.ipfs.aclose()
        services.ipfs = real_ipfs


class _HungNode:
    """A port that takes connections and never answers, as a hung IPFS node's does; `connections`
    counts them (the IPFS client opens a new one for each call after one timed out)."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.connections = 0
        self._held: list[socket.socket] = []
        threading.Thread(target=self._accept, name="hung-node", daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self._listener.accept()
            except OSError:  # closed
                return
            self.connections += 1
            self._held.append(connection)

    def close(self) -> None:
        self._listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        self._listener.close()
        for connection in self._held:
            connection.close()


@pytest.mark.asyncio
async def test_reconcile_confirms_mined_and_removes_abandoned(client: httpx.Client, api_settings) -> None:
    wallet = Wallet.random()
    wallet.login(client)
    finished = upload(client, wallet, os.urandom(200)).json()

    services = await build_services(api_settings)
    try:
        # 1. Mined while the service was down: its document still says pending.
        await services.db["records"].update_one(
            {"cid": finished["cid"]}, {"$set": {"state": "pending", "record_id": None, "confirmed_at": None}}
        )
        # 2. Pinned, never sent, and older than the grace period: abandoned.
        abandoned_cid = await _add_ciphertext(services)
        old = datetime.now(UTC) - timedelta(hours=1)
        await services.records.insert_pending(_pending_doc(wallet.address, abandoned_cid, old))
        # 3. Fresh and never sent: may still be in flight in another process, left alone.
        fresh_cid = await _add_ciphertext(services)
        await services.records.insert_pending(_pending_doc(wallet.address, fresh_cid, datetime.now(UTC)))

        report = await reconcile_pending(services, grace_seconds=600)

        # The pass covers every pending document in the database, also ones earlier tests in the
        # session left (an upload answered 202 and mined since): at least ours; each checked below.
        assert report.confirmed >= 1 and report.removed >= 1 and report.still_pending >= 1, report
        confirmed = await services.records.get_by_cid(finished["cid"])
        assert confirmed.state == "confirmed" and confirmed.record_id == finished["record_id"]
        assert await services.records.get_by_cid(abandoned_cid) is None
        assert not await services.ipfs.has(abandoned_cid)
        assert (await services.records.get_by_cid(fresh_cid)).state == "pending"
    finally:
        await services.db["records"].delete_many({"patient": wallet.address.lower(), "state": "pending"})
        await services.close()


@pytest.mark.asyncio
async def test_an_upload_sent_but_never_seen_is_sent_again_not_removed(client: httpx.Client, api_settings) -> None:
    """The process died right after saving the transaction hash (or answered 202 and the node then
    dropped the transaction). Before: removed after the grace period, though its client was told it
    may land. Now: sent again with the patient's signature, which can still land."""
    from healthledger.db.records import RelayAuthorization

    wallet = Wallet.random()
    wallet.login(client)
    services = await build_services(api_settings)
    try:
        cid = await _add_ciphertext(services)
        doc = _pending_doc(wallet.address, cid, datetime.now(UTC) - timedelta(hours=1), tx_hash="0x" + "5a" * 32)
        payload = wallet.typed_data(client, "addRecord", {"recordType": "report", "contentHash": doc.content_hash})
        doc.relay = RelayAuthorization(2, payload["message"]["nonce"], payload["message"]["deadline"], wallet.sign_typed_data(payload))
        await services.records.insert_pending(doc)

        report = await reconcile_pending(services, grace_seconds=600)

        assert report.resubmitted >= 1
        settled = await services.records.get_by_cid(cid)
        assert (settled.state, settled.record_id) == ("confirmed", 0) and len(settled.tx_hashes) == 2
        onchain = await services.chain.get_record(wallet.address, 0)
        assert onchain is not None and onchain.content_hash == doc.content_hash
    finally:
        await services.close()


@pytest.mark.asyncio
async def test_a_removal_ipfs_cannot_unpin_keeps_the_pin_named_until_a_later_pass(api_settings) -> None:
    """An abandoned upload is removed while the IPFS node does not answer. Before: its document was
    deleted and the unpin failed, so its pin stayed with nothing naming it. Now: the CID waits in
    `pins_to_release`, and the first pass that reaches the node unpins it and forgets it."""
    wallet = Wallet.random()
    services = await build_services(api_settings)
    try:
        cid = await _add_ciphertext(services)
        await services.records.insert_pending(_pending_doc(wallet.address, cid, datetime.now(UTC) - timedelta(hours=1)))

        away = await _reconcile_with_ipfs_at(services, free_port(), timeout_seconds=2.0)  # nothing listens

        assert away.removed >= 1, away
        assert await services.records.get_by_cid(cid) is None
        assert cid in await _waiting(services)
        assert await services.ipfs.has(cid), "the node was away: the pin is still there"

        back = await reconcile_pending(services, grace_seconds=600)

        assert back.pins_released >= 1, back
        assert not await services.ipfs.has(cid)
        assert cid not in await _waiting(services)
    finally:
        await services.close()


@pytest.mark.asyncio
async def test_a_pass_asks_a_hung_ipfs_node_to_unpin_once_not_once_per_removal(api_settings) -> None:
    """Three abandoned uploads are removed while the IPFS node hangs. Before: each removal waited out
    the IPFS timeout (holding its patient's lock), and the release step once more. Now: after the
    first unanswered unpin, the pass's other removals put their CIDs straight in `pins_to_release`,
    and a later pass that reaches the node unpins them all."""
    wallet = Wallet.random()
    services = await build_services(api_settings)
    hung = _HungNode()
    try:
        cids = [await _add_ciphertext(services) for _ in range(3)]
        for cid in cids:
            await services.records.insert_pending(_pending_doc(wallet.address, cid, datetime.now(UTC) - timedelta(hours=1)))

        away = await _reconcile_with_ipfs_at(services, hung.port, timeout_seconds=1.0)

        assert away.removed >= 3, away
        assert hung.connections == 2, "one removal's unpin and one try of the release step, no more"
        waiting = await _waiting(services)
        for cid in cids:
            assert await services.records.get_by_cid(cid) is None
            assert cid in waiting and await services.ipfs.has(cid)

        back = await reconcile_pending(services, grace_seconds=600)

        assert back.pins_released >= 3, back
        waiting = await _waiting(services)
        for cid in cids:
            assert cid not in waiting and not await services.ipfs.has(cid)
    finally:
        hung.close()
        await services.close()


@pytest.mark.asyncio
async def test_a_pin_done_after_the_node_said_not_pinned_is_released_by_a_later_pass(api_settings) -> None:
    """A node that hung holding an upload's pin request may do that pin when it resumes, after a pass
    has asked it to unpin and heard "not pinned". Before: the CID was forgotten at that first answer,
    and the late pin stayed with nothing naming it. Now: the CID is asked about again (not before
    `pin_recheck_seconds`), and the late pin goes."""
    services = await build_services(api_settings)
    try:
        cid = await _add_ciphertext(services, pin=False)
        await services.pin_releases.add(cid)  # as the upload whose pin request went unanswered does

        await reconcile_pending(services, grace_seconds=600, pin_recheck_seconds=0)

        assert cid in await _waiting(services), "forgotten at the first 'not pinned': a late pin would stay"
        await services.ipfs.pin(cid)  # the node resumes and does the pin it held

        second = await reconcile_pending(services, grace_seconds=600, pin_recheck_seconds=0)

        assert second.pins_released >= 1, second
        assert not await services.ipfs.has(cid), "the late pin is still there"
        assert cid not in await _waiting(services)
    finally:
        await services.close()


@pytest.mark.asyncio
async def test_a_cid_the_node_keeps_saying_is_not_pinned_is_forgotten_after_the_recheck_time(api_settings) -> None:
    """Asked again before the recheck time, "not pinned" keeps the CID; asked after it, the CID goes."""
    services = await build_services(api_settings)
    try:
        cid = await _add_ciphertext(services, pin=False)
        await services.pin_releases.add(cid)

        await reconcile_pending(services, grace_seconds=600, pin_recheck_seconds=600)
        await reconcile_pending(services, grace_seconds=600, pin_recheck_seconds=600)
        assert cid in await _waiting(services), "forgotten before the recheck time"

        await reconcile_pending(services, grace_seconds=600, pin_recheck_seconds=0)
        assert cid not in await _waiting(services)
        assert not await services.ipfs.has(cid)
    finally:
        await services.close()


@pytest.mark.asyncio
async def test_a_noted_pin_whose_pending_document_outlived_the_note_is_still_released_late(api_settings) -> None:
    """The double fault: an upload's pin went unanswered (its CID noted for release) and deleting its
    pending document failed too. Before: a pass while that document was younger than the grace time
    forgot the note (a record named the CID), and the pass that later removed the upload heard "not
    pinned" and took it as final, so a pin the hung node did after that stayed with nothing naming
    it. Now: the note stays while the document is pending, and the late pin goes."""
    wallet = Wallet.random()
    services = await build_services(api_settings)
    try:
        cid = await _add_ciphertext(services, pin=False)
        await services.pin_releases.add(cid)  # the upload's pin went unanswered...
        await services.records.insert_pending(_pending_doc(wallet.address, cid, datetime.now(UTC)))  # ...and its deletion failed

        await reconcile_pending(services, grace_seconds=600, pin_recheck_seconds=0)

        assert await services.records.get_by_cid(cid) is not None, "removed before the grace time"
        assert cid in await _waiting(services), "forgotten while its pending document was still there"
        # Past the grace time: this pass removes the upload (and releases the noted CID).
        await services.db["records"].update_one({"cid": cid}, {"$set": {"created_at": datetime.now(UTC) - timedelta(hours=1)}})
        removed = await reconcile_pending(services, grace_seconds=600, pin_recheck_seconds=0)
        assert removed.removed >= 1 and await services.records.get_by_cid(cid) is None, removed
        await services.ipfs.pin(cid)  # the node resumes and does the pin it held

        await reconcile_pending(services, grace_seconds=600, pin_recheck_seconds=0)

        assert not await services.ipfs.has(cid), "the late pin is still there"
        assert cid not in await _waiting(services)
    finally:
        await services.close()
