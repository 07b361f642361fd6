"""Removing an upload that never reached the chain, without leaving a pin that nothing names.

An upload's ciphertext is pinned only once its pending document names it (services/upload.py).
Removing the upload must keep that rule the other way round: the document may go only once the pin
is gone, or once another document (`pins_to_release`, db/pin_releases.py) names the pin instead.

The order used to be the reverse (delete the document, then unpin as a best effort). When the node
did not answer the unpin (it was down, or stopped after pinning and before answering), the pin stayed
and nothing named it any more: no pass could ever find it. Now:

1. unpin; the node's answer "not pinned" counts as done;
2. if the node did not answer, write the CID to `pins_to_release` (a database outage here raises,
   and the document stays, so a later reconcile pass removes the upload again);
3. delete the document.

`release_pins` (each reconcile pass) unpins what step 2 kept, oldest first, and forgets each CID once
the node has removed its pin. A "not pinned" answer is not enough the first time: a node that hung
while an upload's pin request was on its way may do that pin when it resumes, after the pass has
asked. Such a CID is asked about again, and forgotten only when the node still says "not pinned" at
least PIN_RELEASE_RECHECK_SECONDS after it first did (before, it was forgotten at once, and the late
pin stayed with nothing naming it).

A caller that has just seen the node fail skips step 1: the upload whose pin went unanswered (timed
out or refused), and a reconcile pass after its first failed unpin. Asking a hung node again would
wait out the same timeout once more (before the client hears its error; for each removal of the
pass), and the pass that finds the node back unpins those CIDs anyway.
"""

from __future__ import annotations

import enum
import logging
from datetime import UTC, datetime, timedelta

from ..container import Services
from ..storage.ipfs import IpfsError

log = logging.getLogger(__name__)

PINS_PER_PASS = 200  # a pass after a long IPFS outage works through the backlog over several passes


async def remove_unanchored_upload(services: Services, cid: str, *, unpin_now: bool = True) -> bool:
    """Unpin `cid` (or note that its pin must go) and then delete its pending document; whether the
    node answered the unpin (False: the CID waits in `pins_to_release`).

    `unpin_now=False` notes the CID without asking the node: for a caller whose last IPFS call just
    went unanswered, so that it does not wait for the same timeout again (an upload's error answer,
    a reconcile pass's next removals).
    Raises the database's error when the note or the deletion could not be written: the document
    then still names the ciphertext, and a later reconcile pass removes the upload again.
    """
    answered = unpin_now and await _unpin(services, cid) is not Unpin.UNANSWERED
    if not answered:
        await services.pin_releases.add(cid)
    await services.records.delete(cid)
    return answered


class Unpin(enum.Enum):
    """What became of one unpin request."""

    REMOVED = "removed"
    NOT_PINNED = "not pinned"
    UNANSWERED = "unanswered"  # an IPFS error: the pin may still be there, as far as anyone knows


async def _unpin(services: Services, cid: str) -> Unpin:
    """Ask the node to unpin `cid`; an IPFS error is logged (with the CID, never a secret)."""
    try:
        removed = await services.ipfs.unpin(cid)
    except IpfsError as exc:
        log.warning("unpin deferred to the next reconcile pass", extra={"cid": cid, "error_type": type(exc).__name__})
        return Unpin.UNANSWERED
    return Unpin.REMOVED if removed else Unpin.NOT_PINNED


async def release_pins(services: Services, limit: int = PINS_PER_PASS, recheck_seconds: float | None = None) -> int:
    """Unpin the CIDs `remove_unanchored_upload` could not, oldest first; how many pins the node removed.

    A CID that a pending record still names (its deletion failed after the note was written) is
    skipped, and its note kept: the reconciler removes that upload once it is past the grace time,
    and a later pass then releases the CID as any other (a pin the node does late included; that
    removal's own unpin takes its first "not pinned" as final). A CID a record on chain names is
    that record's, and forgotten. An IPFS error ends this step (the node is still away; the rest
    waits for the next pass) without failing the pass.
    A CID the node says is not pinned is kept until it says so again `recheck_seconds` (default
    PIN_RELEASE_RECHECK_SECONDS) or more after the first time: a pin it held while hung may come late.
    """
    if recheck_seconds is None:
        recheck_seconds = services.settings.pin_release_recheck_seconds
    recheck = timedelta(seconds=recheck_seconds)
    released = 0
    for entry in await services.pin_releases.oldest(limit):
        record = await services.records.get_by_cid(entry.cid)
        if record is not None:
            if record.state != "pending":
                await services.pin_releases.done(entry.cid)
            continue
        outcome = await _unpin(services, entry.cid)
        if outcome is Unpin.UNANSWERED:
            break  # not the records' pass's failure: the rest waits for the next pass
        now = datetime.now(UTC)
        if outcome is Unpin.REMOVED:
            released += 1
            await services.pin_releases.done(entry.cid)
        elif entry.not_pinned_since is None:
            await services.pin_releases.not_pinned(entry.cid, now)
        elif now - entry.not_pinned_since >= recheck:
            await services.pin_releases.done(entry.cid)
    return released
