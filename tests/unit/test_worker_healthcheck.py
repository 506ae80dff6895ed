"""The worker's health check reads the heartbeat file's age."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from worker_service import healthcheck


def run_check(monkeypatch: pytest.MonkeyPatch, heartbeat: Path) -> int:
    monkeypatch.setenv("WORKER_HEARTBEAT_FILE", str(heartbeat))
    monkeypatch.setenv("WORKER_HEARTBEAT_INTERVAL", "5")
    healthcheck.get_settings.cache_clear()
    try:
        healthcheck.main()
    except SystemExit as exit_:
        return int(exit_.code or 0)
    finally:
        healthcheck.get_settings.cache_clear()
    return 0


def test_fresh_heartbeat_is_healthy(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    heartbeat = tmp_path / "beat"
    heartbeat.touch()

    assert run_check(monkeypatch, heartbeat) == 0


def test_missing_heartbeat_is_unhealthy(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert run_check(monkeypatch, tmp_path / "beat") == 1


def test_stale_heartbeat_is_unhealthy(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    heartbeat = tmp_path / "beat"
    heartbeat.touch()
    old = time.time() - 16  # more than 3 missed 5 s beats
    os.utime(heartbeat, (old, old))

    assert run_check(monkeypatch, heartbeat) == 1
