"""`queues` shows what SQS's attributes say, once or refreshed with --watch."""

from __future__ import annotations

import re
import signal
import subprocess
import threading

import pytest

from harness.processes import wait_until
from harness.stack import LocalStack
from tests.cli.conftest import TASKQUEUE, Queues

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(60)]

COUNTS = {
    "visible": "ApproximateNumberOfMessages",
    "in_flight": "ApproximateNumberOfMessagesNotVisible",
    "delayed": "ApproximateNumberOfMessagesDelayed",
}


def fill(stack: LocalStack, queues: Queues) -> None:
    """2 visible, 1 in flight and 1 delayed message in the queue; 1 in the DLQ."""
    sqs = stack.client("sqs")
    for n in range(3):
        sqs.send_message(QueueUrl=queues.queue_url, MessageBody=f"task {n}")
    sqs.receive_message(QueueUrl=queues.queue_url, MaxNumberOfMessages=1, VisibilityTimeout=600)
    sqs.send_message(QueueUrl=queues.queue_url, MessageBody="later", DelaySeconds=600)
    sqs.send_message(QueueUrl=queues.dlq_url, MessageBody="dead")


def test_queues_numbers_match_the_sqs_attributes(queues: Queues, aws_stack: LocalStack) -> None:
    fill(aws_stack, queues)
    sqs = aws_stack.client("sqs")

    tasks, dead, reports, reports_dead = queues.cli.json_lines("queues")

    for row, url in ((tasks, queues.queue_url), (dead, queues.dlq_url)):
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        assert {field: row[field] for field in COUNTS} == {
            field: int(attributes[name]) for field, name in COUNTS.items()
        }
    assert (tasks["visible"], tasks["in_flight"], tasks["delayed"]) == (2, 1, 1)
    assert (dead["visible"], dead["in_flight"], dead["delayed"]) == (1, 0, 0)
    # Each other declared queue and its DLQ: their own rows, under the queue's name.
    name = queues.queue_url.rsplit("/", 1)[1]
    assert (reports["queue"], reports["name"]) == ("reports", f"{name}-reports")
    assert (reports_dead["queue"], reports_dead["name"]) == (
        "reports dead-letter",
        f"{name}-reports-dlq",
    )
    assert reports["visible"] == reports_dead["visible"] == 0
    # moto's server publishes no SQS metrics to CloudWatch: the age is unknown, not made up.
    assert tasks["oldest_age_seconds"] is None


def test_queues_prints_one_row_per_queue(queues: Queues, aws_stack: LocalStack) -> None:
    fill(aws_stack, queues)

    result = queues.cli("queues")

    assert result.returncode == 0, result.stderr
    name = queues.queue_url.rsplit("/", 1)[1]
    assert re.search(rf"^\s*tasks\s+{name}\s+2\s+1\s+1\s+-\s*$", result.stdout, re.M)
    assert re.search(rf"^\s*dead-letter\s+{name}-dlq\s+1\s+0\s+0\s+-\s*$", result.stdout, re.M)


# A loaded machine: the CLI may take tens of seconds to start (its imports alone took 12-20 s
# beside other test runs on 2 cores), and as long to exit after Ctrl-C.
@pytest.mark.timeout(240)
def test_queues_watch_refreshes_until_interrupted(queues: Queues, aws_stack: LocalStack) -> None:
    row = re.compile(rf"^\s*tasks\s+{queues.queue_url.rsplit('/', 1)[1]}\s+(\d+)\s")
    lines: list[str] = []

    def visible_counts() -> list[int]:
        return [int(match[1]) for line in list(lines) if (match := row.match(line))]

    with subprocess.Popen(
        [TASKQUEUE, "queues", "--watch", "--interval", "0.2"],
        env=queues.cli.environment(),
        cwd=queues.cli.cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    ) as watch:
        assert watch.stdout is not None
        stdout = watch.stdout
        reader = threading.Thread(target=lambda: lines.extend(iter(stdout.readline, "")))
        reader.start()
        try:
            wait_until(lambda: 0 in visible_counts(), 90, "a table with the empty queue")
            aws_stack.client("sqs").send_message(QueueUrl=queues.queue_url, MessageBody="new")
            wait_until(lambda: 1 in visible_counts(), 60, "a refreshed table with the new message")
        finally:
            watch.send_signal(signal.SIGINT)  # how an operator ends a watch: Ctrl-C
            try:
                watch.wait(60)
            except subprocess.TimeoutExpired:
                watch.kill()
                watch.wait(5)
            reader.join(5)

    assert watch.returncode == 0
