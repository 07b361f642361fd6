"""How the metrics mode is chosen: PROMETHEUS_MULTIPROC_DIR in the process environment switches
prometheus-client to multiprocess mode (metrics.py); a wrong value fails at start with a clear message."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from healthledger import metrics
from healthledger.app import create_app
from healthledger.devstack.stack import fresh_metrics_dir
from healthledger.settings import Settings


def _import_metrics(environ_dir: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": environ_dir}
    return subprocess.run(
        [sys.executable, "-c", "import healthledger.metrics as m; print(repr(m.MULTIPROCESS_DIR))"],
        env=env, capture_output=True, text=True, timeout=60,
    )


def test_this_process_is_single_process_mode() -> None:
    assert metrics.MULTIPROCESS_DIR == ""
    assert b"process_resident_memory_bytes" in metrics.render()


def test_a_directory_in_the_environment_turns_multiprocess_mode_on(tmp_path: Path) -> None:
    done = _import_metrics(str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == repr(str(tmp_path))
    assert list(tmp_path.glob("gauge_livemostrecent_*.db"))  # the queue gauges' file, made at import


@pytest.mark.parametrize("value", ["", "/nonexistent/healthledger-metrics"])
def test_a_missing_or_empty_directory_is_refused_by_name(value: str) -> None:
    done = _import_metrics(value)
    assert done.returncode != 0
    assert "PROMETHEUS_MULTIPROC_DIR" in done.stderr and "is not a directory" in done.stderr


def test_a_setting_prometheus_client_did_not_see_is_refused(tmp_path: Path) -> None:
    """E.g. only in `.env`: each worker would silently serve its own counters."""
    with pytest.raises(RuntimeError, match="PROMETHEUS_MULTIPROC_DIR"):
        create_app(Settings(prometheus_multiproc_dir=str(tmp_path)))


def test_the_launcher_empties_the_directory_at_each_start(tmp_path: Path) -> None:
    target = tmp_path / "metrics"
    (target / "old").mkdir(parents=True)
    (target / "counter_123.db").write_bytes(b"x")
    assert fresh_metrics_dir(target) == target
    assert target.is_dir() and not any(target.iterdir())
    assert fresh_metrics_dir(tmp_path / "new" / "metrics").is_dir()
