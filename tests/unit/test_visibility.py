"""The visibility extension's cancel: a soft signal first, then a kill after the grace."""

from __future__ import annotations

import os
import signal
import time
from types import SimpleNamespace
from typing import Any

import pytest
from taskqueue.runtime import visibility_extension as visibility
from taskqueue.runtime.visibility_extension import VisibilityExtension, receipt
from taskqueue.settings import Settings

SETTINGS = Settings.from_values(
    queue_visibility_timeout=1, visibility_heartbeat_interval=0.1, task_cancel_grace=0.3
)


@pytest.fixture
def signals(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """The signals the heartbeat sends, recorded instead of sent; REVOKED writes too."""
    sent: list[tuple[int, int]] = []
    monkeypatch.setattr(visibility.os, "kill", lambda pid, signum: sent.append((pid, signum)))
    monkeypatch.setattr(
        visibility, "mark_revoked", lambda app, task_id: sent.append((0, hash(task_id)))
    )
    return sent


def task(task_id: str = "t1") -> Any:
    return SimpleNamespace(app=None, request=SimpleNamespace(id=task_id))


def test_a_task_that_stops_on_the_soft_signal_is_not_killed(
    signals: list[tuple[int, int]],
) -> None:
    heartbeat = VisibilityExtension(task(), SETTINGS, renew_lease=lambda: True).start()
    deadline = time.monotonic() + 2
    while not signals and time.monotonic() < deadline:
        time.sleep(0.02)

    heartbeat.stop()  # the body raised SoftTimeLimitExceeded and returned
    time.sleep(0.5)

    assert heartbeat.cancelled
    assert signals == [(os.getpid(), signal.SIGUSR1)]


def test_a_task_still_running_after_the_grace_is_revoked_and_killed(
    signals: list[tuple[int, int]],
) -> None:
    heartbeat = VisibilityExtension(task("t2"), SETTINGS, renew_lease=lambda: True).start()
    deadline = time.monotonic() + 3
    while len(signals) < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    heartbeat.stop()

    assert signals == [
        (os.getpid(), signal.SIGUSR1),
        (0, hash("t2")),  # REVOKED first: the redelivery after the kill is dropped
        (os.getpid(), signal.SIGKILL),
    ]


def test_no_cancel_no_signal_and_no_receipt_outside_sqs(signals: list[tuple[int, int]]) -> None:
    beats: list[float] = []
    heartbeat = VisibilityExtension(
        task(), SETTINGS, renew_lease=lambda: bool(beats.append(time.monotonic()))
    ).start()
    time.sleep(0.55)
    heartbeat.stop()

    assert len(beats) >= 3 and signals == []
    assert receipt(SimpleNamespace(id="t1")) is None


def test_the_receipt_is_what_kombu_s_sqs_transport_passes() -> None:
    request = SimpleNamespace(
        properties={"delivery_tag": "handle", "delivery_info": {"sqs_queue": "https://q"}}
    )
    assert receipt(request) == ("https://q", "handle")
