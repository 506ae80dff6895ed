"""The dead-letter queue: a poison task ends there, `dlq show` lists it, `dlq redrive` moves
it back; `purge` wants --yes. Against real processes."""

from __future__ import annotations

import re
from typing import Any

import pytest
from taskqueue_cli import dlq
from taskqueue_cli.queues import read_depth

from harness.processes import wait_until
from harness.stack import LocalStack
from tests.cli.conftest import Cli, Queues, one_line_error

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(150)]


def depth(stack: LocalStack, url: str) -> int:
    return read_depth(stack.client("sqs"), url).total


def test_a_poison_task_lands_in_the_dlq_is_listed_and_redriven_to_the_queue(
    cli: Cli, full_stack: LocalStack
) -> None:
    dlq_url = full_stack.queue_url.replace("taskqueue-tasks", "taskqueue-tasks-dlq")
    watched = cli("enqueue", "fail", "message=poisoned", "--watch", "--interval", "0.2")
    task_id = watched.stdout.splitlines()[0]
    assert watched.returncode == 1
    assert watched.stdout.splitlines()[-1] == "error: RuntimeError: poisoned"

    # Three receives (MAX_RECEIVE_COUNT), each after the 6 s visibility timeout, then the DLQ.
    wait_until(lambda: depth(full_stack, dlq_url) == 1, 60, "the poison task in the DLQ")
    shown = cli("dlq", "show")
    assert shown.returncode == 0, shown.stderr
    assert re.search(
        rf"fail\s+{task_id}\s+message='poisoned'\s+DEAD_LETTERED \(failed 3 times\)\s+\d{{4}}-",
        shown.stdout,
    )
    assert "1 dead-lettered task(s) in taskqueue-tasks-dlq" in shown.stdout
    assert cli("dlq", "show").returncode == 0  # looking twice loses nothing
    [record] = cli.json_lines("dlq", "show")
    assert record["task"] == "fail" and record["id"] == task_id
    assert record["kwargs"] == {"message": "poisoned"}
    assert depth(full_stack, dlq_url) == 1

    refused = one_line_error(cli("dlq", "purge"))
    assert refused.startswith("error: refusing to purge the DLQ without --yes")
    assert depth(full_stack, dlq_url) == 1

    worker = full_stack.processes[1]
    runs = worker.log().count(f"Task fail[{task_id}] raised unexpected")
    redriven = cli("dlq", "redrive")
    assert redriven.returncode == 0, redriven.stderr
    assert redriven.stdout.strip() == "moved 1 message(s) from the DLQ to taskqueue-tasks"
    tasks, dead, _, _ = cli.json_lines("queues")  # then the reports queue's rows
    assert tasks["visible"] + tasks["in_flight"] == 1
    assert dead["visible"] + dead["in_flight"] == 0
    # Back in the queue, the worker receives it and runs the task again.
    wait_until(
        lambda: worker.log().count(f"Task fail[{task_id}] raised unexpected") > runs,
        30,
        "the redriven task to run again",
    )
    full_stack.client("sqs").purge_queue(QueueUrl=full_stack.queue_url)  # quiet for others


def test_dlq_show_lists_a_message_that_is_not_a_celery_task(
    queues: Queues, aws_stack: LocalStack
) -> None:
    sent = aws_stack.client("sqs").send_message(QueueUrl=queues.dlq_url, MessageBody="hello")

    result = queues.cli("dlq", "show")

    assert result.returncode == 0, result.stderr
    # No arguments, no recorded state: the id, then when it was sent.
    assert re.search(rf"\(not a Celery task\)\s+{sent['MessageId']}\s+\d{{4}}-", result.stdout)
    assert depth(aws_stack, queues.dlq_url) == 1


def test_redrive_with_a_limit_moves_that_many_and_leaves_the_rest(
    queues: Queues, aws_stack: LocalStack
) -> None:
    sqs = aws_stack.client("sqs")
    for n in range(3):
        sqs.send_message(QueueUrl=queues.dlq_url, MessageBody=f"message {n}")

    result = queues.cli("dlq", "redrive", "--limit", "2")

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("moved 2 message(s) from the DLQ to cli-")
    assert depth(aws_stack, queues.queue_url) == 2
    assert depth(aws_stack, queues.dlq_url) == 1
    moved = sqs.receive_message(QueueUrl=queues.queue_url, MaxNumberOfMessages=10)["Messages"]
    assert {m["Body"] for m in moved} < {"message 0", "message 1", "message 2"}


def test_redrive_without_a_limit_moves_every_message(queues: Queues, aws_stack: LocalStack) -> None:
    sqs = aws_stack.client("sqs")
    for n in range(12):  # more than one ReceiveMessage batch
        sqs.send_message(QueueUrl=queues.dlq_url, MessageBody=f"message {n}")

    result = queues.cli("dlq", "redrive")

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("moved 12 message(s)")
    # moto's server has no StartMessageMoveTask: the CLI says so and moves them one by one.
    assert "moving one by one" in result.stderr
    assert (depth(aws_stack, queues.queue_url), depth(aws_stack, queues.dlq_url)) == (12, 0)


def test_purge_refuses_without_yes_and_empties_the_dlq_with_it(
    queues: Queues, aws_stack: LocalStack
) -> None:
    aws_stack.client("sqs").send_message(QueueUrl=queues.dlq_url, MessageBody="doomed")

    refused = one_line_error(queues.cli("dlq", "purge"))
    assert "refusing to purge the DLQ without --yes" in refused
    assert depth(aws_stack, queues.dlq_url) == 1

    purged = queues.cli("dlq", "purge", "--yes")
    assert purged.returncode == 0, purged.stderr
    assert purged.stdout.strip() == "purged 1 message(s) from the DLQ"
    assert depth(aws_stack, queues.dlq_url) == 0


def test_redrive_by_hand_deletes_a_message_only_after_it_was_sent(
    queues: Queues, aws_stack: LocalStack
) -> None:
    """tools/cli/README.md: receive, send, then delete, never deleting before the send
    succeeded. The second send fails: that message stays in the DLQ, visible at once."""
    sqs = aws_stack.client("sqs")
    for n in range(2):
        sqs.send_message(QueueUrl=queues.dlq_url, MessageBody=f"message {n}")
    calls: list[str] = []

    def send_once(model: Any, **_: Any) -> None:
        calls.append(model.name)
        if model.name == "SendMessage" and calls.count("SendMessage") == 2:
            raise ConnectionError("the queue did not answer")

    sqs.meta.events.register("before-call.sqs", send_once)

    with pytest.raises(ConnectionError):
        dlq.move_by_hand(sqs, queues.dlq_url, queues.queue_url, limit=None)

    moved = [call for call in calls if call in {"SendMessage", "DeleteMessage"}]
    assert moved == ["SendMessage", "DeleteMessage", "SendMessage"]
    assert depth(aws_stack, queues.queue_url) == depth(aws_stack, queues.dlq_url) == 1
    assert read_depth(aws_stack.client("sqs"), queues.dlq_url).visible == 1  # not held


def test_the_dlq_commands_take_another_queue_s_dlq_with_queue(
    queues: Queues, aws_stack: LocalStack
) -> None:
    sqs = aws_stack.client("sqs")
    reports_url = f"{queues.queue_url}-reports"
    reports_dlq = f"{reports_url}-dlq"
    sent = sqs.send_message(QueueUrl=reports_dlq, MessageBody="a dead report")

    shown = queues.cli("dlq", "show", "--queue", "reports")
    default = queues.cli("dlq", "show")
    assert shown.returncode == 0, shown.stderr
    assert sent["MessageId"] in shown.stdout and sent["MessageId"] not in default.stdout
    assert "1 dead-lettered task(s) in cli-" in shown.stdout and "-reports-dlq" in shown.stdout

    redriven = queues.cli("dlq", "redrive", "--queue", "reports")
    assert redriven.returncode == 0, redriven.stderr
    assert redriven.stdout.strip().endswith("-reports")  # back to its own queue
    assert (depth(aws_stack, reports_url), depth(aws_stack, reports_dlq)) == (1, 0)
    assert depth(aws_stack, queues.queue_url) == 0

    sqs.send_message(QueueUrl=reports_dlq, MessageBody="doomed")
    assert queues.cli("dlq", "purge", "--yes", "--queue", "reports").returncode == 0
    assert depth(aws_stack, reports_dlq) == 0


def test_an_unknown_queue_is_refused_naming_the_stack_s_queues(queues: Queues) -> None:
    line = one_line_error(queues.cli("dlq", "show", "--queue", "reprots"))

    assert line == "error: the local stack has no queue 'reprots' (its queues: default, reports)"
