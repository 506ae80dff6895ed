"""bench.running_task_cost's arithmetic: what counts as the running task's cost, and its window."""

from __future__ import annotations

from bench.running_task_cost import MARGIN_S, RunningTaskCounts, window_for


def test_polls_and_progress_writes_are_not_the_running_tasks_cost() -> None:
    counts = RunningTaskCounts(
        window_s=60.0,
        by_action={
            "sqs:ReceiveMessage": 3,  # the free slot's long polls
            "sqs:ChangeMessageVisibility": 2,
            "dynamodb:UpdateItem (progress)": 60,  # long_task's own, once a second
            "dynamodb:UpdateItem": 1,
        },
    )
    assert counts.per_hour("sqs") == 120  # 2 extensions a minute
    assert counts.per_hour("dynamodb") == 60  # 1 lease renewal a minute


def test_a_worker_without_a_heartbeat_costs_nothing_while_a_task_runs() -> None:
    counts = RunningTaskCounts(
        window_s=54.0, by_action={"sqs:ReceiveMessage": 2, "dynamodb:UpdateItem (progress)": 54}
    )
    assert (counts.per_hour("sqs"), counts.per_hour("dynamodb")) == (0, 0)


def test_the_window_fits_inside_the_longest_long_task_the_web_accepts() -> None:
    assert window_for(60, 180.0) == 60 - 2 * MARGIN_S
    assert window_for(3600, 180.0) == 180.0
    assert window_for(3600, 5.0) == 5.0


def test_the_worker_s_presence_writes_are_not_the_running_task_s_cost() -> None:
    counts = RunningTaskCounts(
        window_s=60.0,
        by_action={"dynamodb:UpdateItem (presence)": 4, "dynamodb:UpdateItem": 1},
    )
    assert counts.per_hour("dynamodb") == 60  # the lease renewal only
