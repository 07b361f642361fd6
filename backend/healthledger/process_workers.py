"""CPU-heavy pure work in worker processes, so that the GIL it holds is not the event loop's.

Why not a thread: a thread helps only while the work releases the GIL. `json.loads` of a 48 MiB FHIR
Bundle, the base64 of its files, pydantic's validation and `model_dump_json` of an exported Bundle
hold it for tens to hundreds of milliseconds at a time, and while they do no other request of the
instance moves: GET /api/system/config waited up to 98-115 ms while 8 Bundles of 48 MiB were
imported, and up to 195-394 ms while two such Bundles were exported (scripts/bench_fhir_import.py,
bench_fhir_export.py; 58-92 and 38-91 ms with worker processes). A worker process has a GIL of its
own; what is left on the API's process is pickling the input and unpickling the answer (one copy of
the bytes each way).

The standard library's ProcessPoolExecutor, with these choices:
- `spawn`, not `fork`: forking a process that runs an event loop and threads can copy a lock some
  other thread holds, and the child would hang on it;
- made on first use: most instances never import or export a Bundle, and an idle pool would cost
  every API start (and every test stack) its processes;
- at most `workers` processes (FHIR_BUNDLE_CONCURRENCY, the turns that bound this work anyway);
- each worker sets the API's malloc thresholds (allocator.py): a 48 MiB Bundle's buffers go back to
  the kernel when the call ends;
- a worker that dies (killed for its memory) breaks the whole pool: that call fails with
  `ServiceUnavailable` (503 `worker_unavailable`) and the next call starts a fresh pool.

The functions run must be importable by name (module-level) and take and return picklable values;
a DomainError raised in a worker reaches the caller as itself (domain_errors.DomainError pickles).
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

from .allocator import fix_malloc_thresholds
from .domain_errors import ServiceUnavailable

log = logging.getLogger(__name__)

T = TypeVar("T")


class ProcessWorkers:
    """A lazily started pool of `workers` processes; `await run(fn, *args)` runs `fn(*args)` in one."""

    def __init__(self, workers: int) -> None:
        if workers < 1:
            raise ValueError("workers must be at least 1")
        self._workers = workers
        self._pool: ProcessPoolExecutor | None = None

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """`fn(*args)` in a worker process. Cancelling the caller drops the call if it has not
        started; one already running finishes in its worker and its answer is dropped."""
        pool = self._pool_now()
        try:
            return await asyncio.get_running_loop().run_in_executor(pool, fn, *args)
        except BrokenProcessPool as exc:
            self._discard(pool)
            log.warning("a worker process died; its pool is started again on the next call")
            raise ServiceUnavailable(
                "worker_unavailable", "the server could not finish this work (a worker process stopped): try again"
            ) from exc

    def close(self) -> None:
        """Stop the workers (pending calls are cancelled); the next `run` would start new ones."""
        if self._pool is not None:
            self._discard(self._pool)

    def _pool_now(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                self._workers, mp_context=multiprocessing.get_context("spawn"), initializer=fix_malloc_thresholds
            )
        return self._pool

    def _discard(self, pool: ProcessPoolExecutor) -> None:
        """Shut `pool` down without waiting; forget it if it is still the current one."""
        if self._pool is pool:
            self._pool = None
        pool.shutdown(wait=False, cancel_futures=True)

    def __repr__(self) -> str:
        return f"ProcessWorkers(workers={self._workers}, started={self._pool is not None})"
