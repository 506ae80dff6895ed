"""`bench.load.run_load`: every call counted, every failure kept, a stuck thread reported."""

from __future__ import annotations

import threading

from bench.load import run_load


def test_every_call_runs_once_and_every_failure_is_kept_in_order_of_arrival() -> None:
    seen: list[int] = []
    lock = threading.Lock()

    def call(_: object, index: int) -> None:
        with lock:
            seen.append(index)
        if index % 3 == 0:
            raise ValueError(f"call {index}")

    result = run_load(9, 3, object, call, deadline_s=30)

    assert sorted(seen) == list(range(9))
    assert (result.ok, result.failed, result.hung) == (6, 3, 0)
    assert sorted(result.errors) == [
        "ValueError: call 0",
        "ValueError: call 3",
        "ValueError: call 6",
    ]
    assert result.first_error == result.errors[0]


def test_a_call_still_running_after_the_grace_period_counts_its_thread_as_hung() -> None:
    release = threading.Event()

    def call(_: object, index: int) -> None:
        if index == 0:
            release.wait(10)

    try:
        result = run_load(1, 1, object, call, deadline_s=0.2, grace_s=0.2)
    finally:
        release.set()

    assert result.hung == 1 and result.ok == 0
