"""The local chain of `make run`: Anvil on the data dir's saved state, kept on disk while it runs.

Why a module of its own: Anvil is the one child whose state the launcher itself must save (Anvil
writes nothing at exit, see `chainstate.py`), so it needs care at three moments the other children
do not: at start (report blocks a crash lost, start the saver), before its stop (save once more),
and when a SIGKILLed run left it behind (save its chain before stopping it).
"""

from __future__ import annotations

from collections.abc import Callable

from .anvil import AnvilNode
from .chainstate import (
    SAVE_ERRORS,
    ChainFiles,
    ChainSaver,
    block_hash,
    chain_head,
    find_lost_blocks,
    lost_blocks_warning,
    prepare_state_dir,
    read_head,
    save_chain,
)
from .children import Child, Children, anvil_url_of, rotate_log
from .config import LOCAL_CHAIN_ID, StackConfig, StackError
from .ports import check_port_free
from .process import ProcessExitedError
from .summary import StackInfo

__all__ = ["LocalChain"]


class LocalChain:
    """Starts Anvil as the child "anvil" and keeps its chain saved until it stops."""

    def __init__(self, config: StackConfig, children: Children, info: StackInfo, say: Callable[[str], None]) -> None:
        self.config = config
        self.children = children
        self.info = info
        self.say = say
        self._node: AnvilNode | None = None
        self._saver: ChainSaver | None = None

    def start(self) -> str:
        """Start Anvil on the saved chain and the saver; returns its RPC URL."""
        cfg = self.config
        check_port_free(cfg.host, cfg.anvil_port, "Anvil (the local chain)", "stop the other process or set ANVIL_PORT")
        files = cfg.chain_files
        prepare_state_dir(files, self.say)
        # Anvil only loads the state; every write of it is the saver's (atomic), none is Anvil's (in place).
        # Its cwd is the data dir: before the first save its command line names no path there, and a
        # later run must still recognise it as ours if this one is killed (`children._is_ours`).
        node = AnvilNode(
            port=cfg.anvil_port,
            host=cfg.host,
            chain_id=LOCAL_CHAIN_ID,
            load_state_path=files.state,
            log_path=rotate_log(cfg.files.logs / "anvil.log"),
            cwd=cfg.data_dir,
        )
        try:
            self.children.launch("anvil", node)
        except ProcessExitedError as exc:
            raise StackError(f"Anvil did not start: {exc}") from None
        # Before anything mines a block (the deployment would hide a shorter chain) or the saver
        # overwrites the marker with the new head.
        self._report_lost_blocks(node.rpc_url, files)
        saver = ChainSaver(node.rpc_url, files, self.say, node_alive=node.is_running)
        self._node, self._saver = node, saver  # before start(): stop() must find it
        saver.start()
        return node.rpc_url

    def _report_lost_blocks(self, rpc_url: str, files: ChainFiles) -> None:
        """Warn now when the chain Anvil loaded lacks blocks the last run saw (see chainstate.py)."""
        try:
            loss = find_lost_blocks(read_head(files.head), chain_head(rpc_url).number, lambda n: block_hash(rpc_url, n))
        except SAVE_ERRORS as exc:  # Anvil answered its readiness probe; if it fails now, the next steps say so
            self.say(f"warning: could not compare the chain with the last head seen ({exc})")
            return
        if loss is not None:
            self.info.lost_blocks = loss
            self.say(lost_blocks_warning(loss))

    def save_before_stop(self, child: Child, running: bool) -> str | None:
        """For Anvil's child: stop the saver and, if Anvil runs, save once more (it writes nothing at exit).

        Returns a note naming the block saved, or None (another child, Anvil already dead, or the
        save failed: the saver says why).
        """
        if self._saver is None or child.service is not self._node:
            return None
        saver, self._saver = self._saver, None
        try:
            head = saver.stop(final_save=running)
        except Exception as exc:  # never let a failed save keep Anvil (or anything after it) running
            self.say(f"  {child.name}: error while saving the chain: {exc}")
            return None
        return f"chain saved at block {head.number}" if head is not None else None

    def stop_saver(self) -> None:
        """End the saver thread if its node never got to stop through `save_before_stop`."""
        if self._saver is not None:
            self._saver.stop(final_save=False)
            self._saver = None

    def save_leftover(self, pid: int) -> None:
        """Save the chain of an Anvil that outlived its run before stopping it.

        Its run's saver died with the run, so blocks mined since (the API may have outlived the run
        too) are only in that Anvil's memory, and Anvil does not write the state file itself.
        """
        url = anvil_url_of(pid)
        try:
            if url is None:
                raise ValueError("its command line names no --port")
            head = save_chain(url, self.config.chain_files)
        except SAVE_ERRORS as exc:
            self.say(f"  warning: could not save the chain of that anvil first ({exc}); blocks since its last save are lost")
            return
        self.say(f"  saved the chain of that anvil first (block {head.number})")
