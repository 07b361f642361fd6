"""Give large buffers back to the kernel: fixed glibc malloc thresholds for API and worker processes.

Why: glibc serves an allocation of 128 KiB or more with an mmap of its own, which it unmaps when the
block is freed. But once such a block is freed it raises that threshold to the block's size (up to
32 MiB) and its trim threshold to twice that: its "dynamic threshold". After one large FHIR export an
API process serves every later buffer up to 32 MiB from its heap, where freed space stays with the
process. Two 48 MiB exports at once, four rounds (6 files of 8 MiB; API RSS 140 MB at start): peak
555-590 MB, and 366-375 MB still held between rounds.

Fixed thresholds (blocks of MMAP_THRESHOLD_BYTES or more mmapped; the heap's free top returned past
TRIM_THRESHOLD_BYTES): peak 431-447 MB, 220-231 MB held between rounds. The rounds took 1.85-1.91 s
instead of 1.76-1.81 s, since each large buffer is fresh pages. Uploads stream in 256 KiB chunks,
below both thresholds: API CPU per 100 MB upload 432-455 ms against 424-472, and its minor page
faults 7-49 instead of 994-1267 (medians of 6 uploads, two runs each). Leaving the trim threshold
at glibc's 128 KiB kept only 193 MB, but cost those uploads 40% more API CPU, the heap's top
shrinking and growing again with every chunk. Eight 48 MiB FHIR imports at once: API RSS peak
473-482 MB before, 432-477 after, in 3.51-3.69 s instead of 3.24-3.49. (scripts/bench_fhir_export.py's
and bench_fhir_import.py's stacks, one session, 2026-12-01.)

No library sets these, so ctypes calls glibc's `mallopt`. On another C library (musl, macOS) this
does nothing, and with another allocator preloaded (jemalloc) it tunes a malloc nobody uses. An
operator who chose malloc settings (MALLOC_MMAP_THRESHOLD_, MALLOC_TRIM_THRESHOLD_, or `glibc.malloc.`
tunables in GLIBC_TUNABLES) keeps that choice.
"""

from __future__ import annotations

import ctypes
import logging
import os
import platform
from collections.abc import Mapping

log = logging.getLogger(__name__)

MMAP_THRESHOLD_BYTES = 1024 * 1024
TRIM_THRESHOLD_BYTES = 8 * 1024 * 1024
# mallopt's parameter numbers (glibc's malloc.h).
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3


def _operator_settings(environ: Mapping[str, str]) -> list[str]:
    """The environment's own malloc settings, by variable name."""
    chosen = [name for name in ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_") if environ.get(name)]
    if "glibc.malloc." in environ.get("GLIBC_TUNABLES", ""):
        chosen.append("GLIBC_TUNABLES")
    return chosen


def fix_malloc_thresholds(environ: Mapping[str, str] | None = None) -> bool:
    """Set glibc's mmap and trim thresholds for this process; True if they were set.

    Nothing happens (False) outside glibc, or when `environ` (the process's environment by default)
    holds an operator's own allocator settings. Safe to call more than once.
    """
    environ = os.environ if environ is None else environ
    if platform.libc_ver()[0] != "glibc":
        return False
    chosen = _operator_settings(environ)
    if chosen:
        log.info("malloc thresholds left as configured", extra={"settings": chosen})
        return False
    try:
        libc = ctypes.CDLL(None)  # this process's own C library
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    # mallopt returns 1 on success; setting either one also ends glibc's dynamic adjustment of both.
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) and mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES))
