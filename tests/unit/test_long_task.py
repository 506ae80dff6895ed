"""The tasks' own logic, called directly (no worker, no broker)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from pydantic import ValidationError
from taskqueue.catalogue.registry import TASKS
from taskqueue.settings import Settings
from taskqueue.tasks.long_task import LongTaskParams, long_task


class RecordingTask:
    """Stands in for the bound task: records update_state calls."""

    request = SimpleNamespace(id=None)  # called directly, as no worker would

    def __init__(self) -> None:
        self.states: list[tuple[str, dict[str, Any]]] = []

    def update_state(self, state: str, meta: dict[str, Any]) -> None:
        self.states.append((state, meta))


def test_long_task_reports_progress_each_second_and_returns_its_duration(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    slept: list[float] = []
    monkeypatch.setattr("taskqueue.tasks.long_task.time.sleep", slept.append)
    task = RecordingTask()
    caplog.set_level("INFO")

    result = long_task.run.__func__(task, duration=3)  # the undecorated body

    assert result == {"duration": 3}
    assert slept == [1, 1, 1]
    assert task.states == [("PROGRESS", {"current": i, "total": 3}) for i in (1, 2, 3)]
    messages = [r.getMessage() for r in caplog.records]
    assert messages == ["Working... 1/3", "Working... 2/3", "Working... 3/3", "Completed work on 3"]


def test_every_task_is_registered_with_its_parameter_model() -> None:
    assert set(TASKS) >= {"long_task", "noop"}
    assert TASKS["long_task"].params is LongTaskParams


@pytest.mark.parametrize("duration", [0, -1, 11])
def test_duration_must_be_between_1_and_the_configured_maximum(duration: int) -> None:
    with pytest.raises(ValidationError, match="duration"):
        LongTaskParams.model_validate(
            {"duration": duration}, context={"settings": Settings(task_max_duration=10)}
        )
