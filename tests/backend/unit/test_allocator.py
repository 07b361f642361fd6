"""Large buffers go back to the kernel once freed (allocator.py), in API processes and FHIR workers.

The probe frees one 8 MiB buffer (which, left to glibc's dynamic threshold, raises its mmap threshold
past 8 MiB), then measures how much resident memory freeing a second one gives back: nothing under
glibc's defaults (the buffer came from the heap and stays there), all of it with fixed thresholds.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest
from healthledger.allocator import fix_malloc_thresholds
from healthledger.devstack.procfs import status_kib
from healthledger.process_workers import ProcessWorkers

pytestmark = pytest.mark.skipif(
    platform.libc_ver()[0] != "glibc" or not os.path.exists("/proc/self/status"), reason="glibc on Linux only"
)

MIB = 1024 * 1024
PROBE_BYTES = 8 * MIB


def _rss_bytes() -> int:
    return status_kib("self", "VmRSS")["VmRSS"] * 1024


def returned_by_freeing_a_large_buffer() -> int:
    """Bytes of resident memory freeing a second PROBE_BYTES buffer gives back (run in a worker too)."""
    block = os.urandom(PROBE_BYTES)
    del block
    block = os.urandom(PROBE_BYTES)
    held = _rss_bytes()
    del block
    return held - _rss_bytes()


def _probe_in_fresh_process(fix: bool, extra_env: dict[str, str] | None = None) -> tuple[str, int]:
    """(what fix_malloc_thresholds returned, or "-" when not called; bytes returned) in a new interpreter."""
    code = (
        "from healthledger.allocator import fix_malloc_thresholds\n"
        "from test_allocator import returned_by_freeing_a_large_buffer\n"
        f"fixed = fix_malloc_thresholds() if {fix!r} else '-'\n"
        "print(fixed, returned_by_freeing_a_large_buffer())\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MALLOC_", "GLIBC_TUNABLES"))}
    env.update(extra_env or {})
    env["PYTHONPATH"] = os.pathsep.join([os.path.dirname(__file__), *sys.path])
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60, check=True)
    fixed, returned = done.stdout.split()
    return fixed, int(returned)


def test_glibc_defaults_keep_a_freed_large_buffer() -> None:
    # What the fix is for: without it, the probe's buffer stays resident after it is freed.
    fixed, returned = _probe_in_fresh_process(fix=False)
    assert fixed == "-"
    assert returned < MIB


def test_fixed_thresholds_give_a_freed_large_buffer_back() -> None:
    fixed, returned = _probe_in_fresh_process(fix=True)
    assert fixed == "True"
    assert returned >= PROBE_BYTES - MIB


def test_an_operators_own_setting_is_left_alone() -> None:
    assert fix_malloc_thresholds({"MALLOC_MMAP_THRESHOLD_": "65536"}) is False
    assert fix_malloc_thresholds({"GLIBC_TUNABLES": "glibc.malloc.trim_threshold=0"}) is False
    assert fix_malloc_thresholds({"GLIBC_TUNABLES": "glibc.cpu.hwcap_mask=0"}) is True  # not a malloc setting
    fixed, _ = _probe_in_fresh_process(fix=True, extra_env={"MALLOC_TRIM_THRESHOLD_": str(64 * MIB)})
    assert fixed == "False"


@pytest.mark.asyncio
async def test_fhir_workers_give_a_freed_large_buffer_back(workers: ProcessWorkers) -> None:
    assert await workers.run(returned_by_freeing_a_large_buffer) >= PROBE_BYTES - MIB
