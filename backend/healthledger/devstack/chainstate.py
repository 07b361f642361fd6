"""`make run`'s local chain on disk: saved after every block, checked at start for blocks a crash lost.

Anvil keeps the chain in memory. Its own persistence (`--state`, `--state-interval N`) writes only
every N seconds and at exit, and rewrites the file in place (O_TRUNC), so a SIGKILL lost the last
seconds of blocks (while MongoDB kept the records the API had confirmed in them), and a kill during
a write left half a file. Here instead:

- Anvil only loads the file (`--load-state`); it never writes it.
- `ChainSaver`, a thread in the orchestrator, polls the head about 5 times a second. When it sees a
  new head (local Anvil mines one block per transaction) it first records that head, number and
  hash, in the marker `head.json`, then saves `anvil_dumpState` to `state.json`. At a clean stop it
  saves once more before Anvil gets SIGTERM (`stop`).
- Every write is atomic (`write_atomic`: a temporary file in the same directory, fsync, rename,
  fsync of the directory), so each file on disk is always a complete old or new version.
- At the next start `find_lost_blocks` compares the loaded chain with the marker: a chain behind
  the marker, or with another block at the marker's height, lost blocks (a crash between a block and
  its save, or a state file replaced by an older one), and `lost_blocks_warning` says which.

A crash can still lose the blocks of the last fraction of a second (mined, not yet saved); the
marker makes such a loss visible at the next start instead of silent.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time
import urllib.error
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .anvil import AnvilRpcError, decode_state_dump, rpc_call

__all__ = [
    "ChainFiles",
    "ChainHead",
    "ChainLoss",
    "ChainSaver",
    "chain_head",
    "find_lost_blocks",
    "lost_blocks_warning",
    "prepare_state_dir",
    "read_head",
    "save_chain",
    "write_atomic",
]

POLL_INTERVAL_SECONDS = 0.2
HEAD_RPC_TIMEOUT_SECONDS = 5.0
# A dump grows with the chain (every block and transaction); generous for a long-lived dev chain.
DUMP_RPC_TIMEOUT_SECONDS = 30.0
# What a failed RPC or write raises (the node is gone or busy, the disk is full, a garbled answer).
SAVE_ERRORS = (OSError, urllib.error.URLError, AnvilRpcError, ValueError, KeyError, TypeError)


@dataclass(frozen=True)
class ChainFiles:
    """Where the chain lives on disk: Anvil's state and the marker of the last head seen."""

    state: Path
    head: Path

    @classmethod
    def in_dir(cls, directory: Path) -> ChainFiles:
        return cls(state=directory / "state.json", head=directory / "head.json")


@dataclass(frozen=True)
class ChainHead:
    """A block the stack saw at the head of the chain."""

    number: int
    hash: str


@dataclass(frozen=True)
class ChainLoss:
    """Blocks the stack had seen that the chain no longer holds.

    `first`..`last` are the lost blocks. When `replaced`, the chain reaches block `last` but with
    another hash there: it is not the chain the stack last saw (and from which block on it differs
    is unknown, so `first` is `last`).
    """

    first: int
    last: int
    now_at: int
    replaced: bool = False

    @property
    def count(self) -> int:
        return self.last - self.first + 1

    @property
    def blocks(self) -> str:
        """The lost blocks in words: `block 12` or `blocks 12-14`."""
        return f"block {self.first}" if self.count == 1 else f"blocks {self.first}-{self.last}"


# ------------------------------------------------------------------------------------------ files


def write_atomic(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Replace `path` with `data` so that a reader (or a kill at any moment) sees the old or the new file.

    The temporary file is in the same directory (a rename is atomic only within one file system);
    its data is fsynced before the rename and the directory after it, so even a power cut leaves a
    whole file. On any error the temporary file is removed and `path` is left as it was.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fchmod(f.fileno(), mode)
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def remove_stale_temp_files(files: ChainFiles) -> list[Path]:
    """Delete the temporary files of writes a kill interrupted (never renamed, so never the real file)."""
    removed = []
    for path in (files.state, files.head):
        for tmp in path.parent.glob(f".{path.name}.*.tmp"):
            tmp.unlink(missing_ok=True)
            removed.append(tmp)
    return removed


def _json_file_ok(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            json.load(f)
    except (OSError, ValueError):
        return False
    return True


def prepare_state_dir(files: ChainFiles, say: Callable[[str], None]) -> None:
    """Before Anvil starts: drop interrupted temporary files, and move a state file that is not JSON aside.

    Our writes cannot leave half a file, but a file from before they were atomic (Anvil's own
    in-place `--state` dumps) or one edited by hand can be damaged; Anvil refuses to start on it.
    Moving it aside starts a new chain, and the marker then reports every block as lost.
    """
    remove_stale_temp_files(files)
    state = files.state
    if not state.exists() or _json_file_ok(state):
        return
    damaged = state.with_name(f"{state.name}.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
    state.rename(damaged)
    say(f"warning: {state} is damaged (moved to {damaged.name}): starting a new chain")


def read_head(path: Path) -> ChainHead | None:
    """The head recorded by the last run, or None when there is none (a new data dir) or it is unreadable.

    Unreadable cannot come from our atomic writes; treating it as absent only skips one check.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return ChainHead(number=int(data["number"]), hash=str(data["hash"]).lower())
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write_head(path: Path, head: ChainHead) -> None:
    """Record `head` as the last block seen (atomically: the marker is never half written)."""
    payload = {"number": head.number, "hash": head.hash, "seen_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    write_atomic(path, (json.dumps(payload) + "\n").encode())


# -------------------------------------------------------------------------------------------- rpc


def chain_head(rpc_url: str, timeout: float = HEAD_RPC_TIMEOUT_SECONDS) -> ChainHead:
    """The latest block's number and hash in one request (the hash also reveals a revert and re-mine)."""
    block = rpc_call(rpc_url, "eth_getBlockByNumber", ["latest", False], timeout=timeout)
    return ChainHead(number=int(block["number"], 16), hash=str(block["hash"]).lower())


def block_hash(rpc_url: str, number: int, timeout: float = HEAD_RPC_TIMEOUT_SECONDS) -> str | None:
    """The hash of block `number`, or None when the chain has no such block."""
    block = rpc_call(rpc_url, "eth_getBlockByNumber", [hex(number), False], timeout=timeout)
    return str(block["hash"]).lower() if block else None


def save_chain(rpc_url: str, files: ChainFiles, head: ChainHead | None = None) -> ChainHead:
    """Record the head in the marker, then save the whole chain; returns the head recorded.

    The marker comes first: if the process dies between the two writes, the next start sees a
    chain behind the marker and reports the loss, rather than silently missing those blocks. The
    dump may already hold later blocks than `head`; the marker only has to be no later than the state.
    """
    head = head or chain_head(rpc_url)
    write_head(files.head, head)
    state = decode_state_dump(rpc_call(rpc_url, "anvil_dumpState", timeout=DUMP_RPC_TIMEOUT_SECONDS))
    write_atomic(files.state, state)
    return head


# ------------------------------------------------------------------------------------- comparison


def find_lost_blocks(
    recorded: ChainHead | None, now_at: int, hash_at: Callable[[int], str | None]
) -> ChainLoss | None:
    """Compare the chain just loaded (head `now_at`, `hash_at(n)` for block n) with the recorded head.

    None when nothing was recorded, or the chain still holds the recorded block (it may be longer:
    blocks saved after the marker was written are not a loss).
    """
    if recorded is None:
        return None
    if now_at < recorded.number:
        return ChainLoss(first=now_at + 1, last=recorded.number, now_at=now_at)
    found = hash_at(recorded.number)
    if found is not None and found.lower() == recorded.hash.lower():
        return None
    return ChainLoss(first=recorded.number, last=recorded.number, now_at=now_at, replaced=True)


def lost_blocks_warning(loss: ChainLoss) -> str:
    """The start-up warning for `loss` (two lines): which blocks, what it means for records, where to look.

    The API's reconciler (services/anchoring.py) sends a lost record again with the patient's own
    signature, or marks it unanchored with the reason; the integrity report shows which.
    """
    consequence = (
        "  Records the API had anchored in them are sent again with the patients' signatures when it "
        "starts, or marked unanchored with the reason: `healthledger integrity-report` (or GET "
        "/api/system/integrity-report) shows which (`reanchored`, status `unanchored`)."
    )
    if loss.replaced:
        return (
            f"warning: the local chain is not the one seen when it was last stopped: block {loss.last} "
            f"has another hash (was the state file replaced?), so earlier blocks may differ too.\n{consequence}"
        )
    return (
        f"warning: the local chain lost {loss.blocks} when it was last stopped (crash?): it now ends at "
        f"block {loss.now_at}, but the last run saw block {loss.last}.\n{consequence}"
    )


# ------------------------------------------------------------------------------------------ saver


class ChainSaver:
    """A thread that saves the chain whenever its head changes, and once more at `stop()`.

    Polling the head (one small RPC every 0.2 s) is simpler and more robust than subscribing to
    blocks: it needs no websocket, it coalesces bursts (one save covers every block mined since the
    last), and a revert (`evm_revert`) shows as a new head too, so the marker follows it.
    """

    def __init__(
        self,
        rpc_url: str,
        files: ChainFiles,
        say: Callable[[str], None],
        *,
        interval: float = POLL_INTERVAL_SECONDS,
        node_alive: Callable[[], bool] = lambda: True,
    ) -> None:
        self.rpc_url = rpc_url
        self.files = files
        self.say = say
        self.interval = interval
        self.node_alive = node_alive
        self.saved: ChainHead | None = None
        self.saves = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._failing = False

    def start(self) -> ChainSaver:
        self._thread = threading.Thread(target=self._run, name="chain-saver", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            self.save_if_new()
            self._stop.wait(self.interval)

    def save_if_new(self) -> bool:
        """Save when the head differs from the last one saved; report failures once, not every poll."""
        try:
            head = chain_head(self.rpc_url)
            if head == self.saved:
                return False
            self.saved = save_chain(self.rpc_url, self.files, head)
            self.saves += 1
        except SAVE_ERRORS as exc:
            # A node that died is reported by the orchestrator's watch; only a live one's failure is news.
            if not self._failing and self.node_alive():
                self.say(f"warning: could not save the local chain to {self.files.state}: {_reason(exc)} (retrying)")
                self._failing = True
            return False
        if self._failing:
            self.say(f"note: the local chain is saved again (block {head.number})")
            self._failing = False
        return True

    def stop(self, final_save: bool = True) -> ChainHead | None:
        """Stop polling, then (if `final_save`) save once more; returns the head saved, None if none was."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(DUMP_RPC_TIMEOUT_SECONDS + HEAD_RPC_TIMEOUT_SECONDS)
            self._thread = None
        if not final_save:
            return None
        try:
            # Always dump (not only on a new head): cheat codes such as anvil_setBalance change state without a block.
            self.saved = save_chain(self.rpc_url, self.files)
        except SAVE_ERRORS as exc:
            self.say(f"warning: could not save the local chain at stop: {_reason(exc)}")
            return None
        return self.saved


def _reason(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 200 else text[:200] + "..."
