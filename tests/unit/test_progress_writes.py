"""A running task's reports are written at most once an interval, the newest always, and
nothing held is written after its end (taskqueue.runtime.progress_writes), on a fake clock
and timers the test fires."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from taskqueue.runtime.progress_writes import ProgressWrites, is_held_back
from taskqueue.stores.results import DEAD_LETTERED, PROGRESS, SCHEDULED


class FakeTimer:
    """A timer the test fires by hand."""

    def __init__(self, delay: float, call: Callable[[], None]) -> None:
        self.delay, self.call, self.cancelled = delay, call, False

    def cancel(self) -> None:
        self.cancelled = True

    def fire(self) -> None:
        if not self.cancelled:
            self.call()


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def timers() -> list[FakeTimer]:
    return []


@pytest.fixture
def writes(clock: Clock, timers: list[FakeTimer]) -> ProgressWrites:
    def start(delay: float, call: Callable[[], None]) -> FakeTimer:
        timers.append(FakeTimer(delay, call))
        return timers[-1]

    return ProgressWrites(2.0, clock=clock, timer=start)


def test_reports_inside_an_interval_write_once_then_the_newest_when_it_ends(
    writes: ProgressWrites, clock: Clock, timers: list[FakeTimer]
) -> None:
    written: list[int] = []
    for step in range(1, 11):  # ten reports 0.1 s apart
        writes.report("t", lambda step=step: written.append(step))
        clock.now += 0.1

    assert written == [1]
    # Started at the second report, due when the interval since the first write ends.
    assert len(timers) == 1 and timers[0].delay == pytest.approx(1.9)
    clock.now = 102.0
    timers[0].fire()
    assert written == [1, 10]


def first_then_held(writes: ProgressWrites, clock: Clock, after: float) -> list[str]:
    """Task t reports "first" (written), then "held" `after` seconds later; what was written."""
    written: list[str] = []
    writes.report("t", lambda: written.append("first"))
    clock.now += after
    writes.report("t", lambda: written.append("held"))
    return written


def test_a_report_an_interval_after_the_last_write_is_written_at_once(
    writes: ProgressWrites, clock: Clock, timers: list[FakeTimer]
) -> None:
    written = first_then_held(writes, clock, 0.5)
    clock.now += 1.5  # the interval since the first write has passed; its timer not yet run
    writes.report("t", lambda: written.append("third"))

    assert written == ["first", "third"]
    assert timers[0].cancelled
    timers[0].fire()
    assert written == ["first", "third"]


def test_the_end_drops_what_is_held_and_its_timer_writes_nothing(
    writes: ProgressWrites, clock: Clock, timers: list[FakeTimer]
) -> None:
    written = first_then_held(writes, clock, 0.3)
    writes.end("t")
    clock.now += 5
    timers[0].call()  # even a timer already running when end() cancelled it

    assert written == ["first"]
    assert timers[0].cancelled


def test_each_task_has_its_own_interval(writes: ProgressWrites) -> None:
    written: list[str] = []
    writes.report("a", lambda: written.append("a"))
    writes.report("b", lambda: written.append("b"))

    assert written == ["a", "b"]


def test_a_held_write_that_fails_is_logged_and_the_next_report_still_writes(
    writes: ProgressWrites, clock: Clock, timers: list[FakeTimer], caplog: pytest.LogCaptureFixture
) -> None:
    def broken() -> None:
        raise ConnectionError("endpoint down")

    written: list[str] = []
    writes.report("t", lambda: written.append("first"))
    clock.now += 0.5
    writes.report("t", broken)
    clock.now += 1.5
    timers[0].fire()
    clock.now += 2.0
    writes.report("t", lambda: written.append("later"))

    assert written == ["first", "later"]
    assert "could not store the progress of task t" in caplog.text


def test_with_no_interval_every_report_is_written(clock: Clock) -> None:
    written: list[int] = []
    writes = ProgressWrites(0.0, clock=clock)
    for step in range(5):
        writes.report("t", lambda step=step: written.append(step))

    assert written == [0, 1, 2, 3, 4]


@pytest.mark.parametrize("state", [PROGRESS, "UPLOADING"])
def test_a_tasks_own_states_are_held_back(state: str) -> None:
    assert is_held_back(state)


@pytest.mark.parametrize(
    "state", ["SUCCESS", "FAILURE", "REVOKED", "RETRY", "STARTED", SCHEDULED, DEAD_LETTERED, None]
)
def test_celerys_and_the_projects_states_are_written_at_once(state: str | None) -> None:
    assert not is_held_back(state)
