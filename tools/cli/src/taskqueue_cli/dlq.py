"""The dead-letter queue: look at its messages, move them back, or empty it."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from taskqueue.runtime.celery_message import CeleryTask, decode
from taskqueue.runtime.message_group import group_arguments
from taskqueue.stores.queue_depth import read_depth

from taskqueue_cli.errors import CliError

# Long enough to read the whole DLQ before the first message becomes visible again.
HOLD_SECONDS = 30
BATCH = 10  # SQS's maximum per ReceiveMessage / ChangeMessageVisibilityBatch


@dataclass(frozen=True)
class Moved:
    """What a redrive moved: how many messages, and the ids of the Celery tasks among them
    that it knows (all, moving by hand; those a look at the DLQ saw before SQS's move task)."""

    count: int
    task_ids: list[str]


@dataclass(frozen=True)
class DeadLetter:
    """One message in the DLQ; `receive_count` is before this look (it adds one)."""

    message_id: str
    task: CeleryTask | None
    receive_count: int
    sent_at: datetime


def receive(sqs: Any, url: str, limit: int) -> list[dict[str, Any]]:
    """Up to `limit` messages, each held invisible for HOLD_SECONDS."""
    answer = sqs.receive_message(
        QueueUrl=url,
        MaxNumberOfMessages=max(1, min(BATCH, limit)),
        VisibilityTimeout=HOLD_SECONDS,
        WaitTimeSeconds=1,  # a short long-poll asks every SQS host, not a sample
        MessageSystemAttributeNames=["All"],
        MessageAttributeNames=["All"],
    )
    messages: list[dict[str, Any]] = answer.get("Messages", [])
    return messages


def release(sqs: Any, url: str, messages: list[dict[str, Any]]) -> None:
    """Make held messages visible again at once."""
    for start in range(0, len(messages), BATCH):
        entries = [
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
            for i, m in enumerate(messages[start : start + BATCH])
        ]
        sqs.change_message_visibility_batch(QueueUrl=url, Entries=entries)


def peek(sqs: Any, url: str, limit: int) -> list[DeadLetter]:
    """Up to `limit` dead letters, left in the DLQ (each receive counts as a receive)."""
    return [dead_letter(message) for message in peek_messages(sqs, url, limit)]


def peek_messages(sqs: Any, url: str, limit: int) -> list[dict[str, Any]]:
    """Up to `limit` messages as received, left in the DLQ (visible again at once)."""
    held: list[dict[str, Any]] = []
    try:
        while len(held) < limit and (batch := receive(sqs, url, limit - len(held))):
            held.extend(batch)
    finally:
        release(sqs, url, held)
    return held


def dead_letter(message: dict[str, Any]) -> DeadLetter:
    """The task, receive count and send time of one received message."""
    attributes = message.get("Attributes", {})
    sent_ms = int(attributes.get("SentTimestamp", 0))
    return DeadLetter(
        message_id=message["MessageId"],
        task=decode(message["Body"]),
        # Less the receive that read it here.
        receive_count=max(int(attributes.get("ApproximateReceiveCount", 1)) - 1, 0),
        sent_at=datetime.fromtimestamp(sent_ms / 1000, UTC),
    )


def task_ids(messages: list[dict[str, Any]]) -> list[str]:
    """The ids of the Celery tasks among received messages."""
    return [task.task_id for message in messages if (task := decode(message["Body"]))]


def move_by_hand(sqs: Any, dlq_url: str, queue_url: str, limit: int | None) -> Moved:
    """Receive, send to the queue, then delete: a message is deleted only once it was sent."""
    moved: list[dict[str, Any]] = []
    while limit is None or len(moved) < limit:
        batch = receive(sqs, dlq_url, BATCH if limit is None else limit - len(moved))
        if not batch:
            break
        for index, message in enumerate(batch):
            try:
                sqs.send_message(QueueUrl=queue_url, **resend_arguments(message))
            except Exception:
                release(sqs, dlq_url, batch[index:])
                raise
            sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=message["ReceiptHandle"])
            moved.append(message)
    return Moved(count=len(moved), task_ids=task_ids(moved))


def resend_arguments(message: dict[str, Any]) -> dict[str, Any]:
    """The body, message attributes and message group (its client, for SQS fair queues:
    taskqueue.runtime.message_group) of a received message, as SendMessage takes them."""
    arguments: dict[str, Any] = {"MessageBody": message["Body"]}
    if attributes := message.get("MessageAttributes"):
        arguments["MessageAttributes"] = attributes
    arguments.update(group_arguments(message.get("Attributes", {}).get("MessageGroupId")))
    return arguments


def queue_arn(sqs: Any, url: str) -> str:
    """The ARN of the queue at `url`."""
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    arn: str = attributes["Attributes"]["QueueArn"]
    return arn


def start_move(sqs: Any, dlq_url: str, queue_url: str) -> str:
    """Start an SQS message move task from the DLQ to the queue; the DLQ's ARN."""
    source = queue_arn(sqs, dlq_url)
    sqs.start_message_move_task(SourceArn=source, DestinationArn=queue_arn(sqs, queue_url))
    return source


def wait_for_move(
    sqs: Any, source: str, timeout: float, sleep: Callable[[float], None] = time.sleep
) -> int:
    """Wait for the newest move task from `source` to finish; how many messages it moved."""
    deadline = time.monotonic() + timeout
    while True:
        results = sqs.list_message_move_tasks(SourceArn=source, MaxResults=1)["Results"]
        if not results:
            raise CliError("SQS lists no message move task for the DLQ")
        task, moved = results[0], int(results[0].get("ApproximateNumberOfMessagesMoved", 0))
        if task["Status"] == "COMPLETED":
            return moved
        if task["Status"] in {"FAILED", "CANCELLED", "CANCELLING"}:
            reason = task.get("FailureReason", "no reason given")
            raise CliError(
                f"the SQS message move task {task['Status'].lower()} "
                f"after {moved} messages: {reason}"
            )
        if time.monotonic() > deadline:
            raise CliError(
                f"the SQS message move task is still running after {timeout:g} s "
                f"({moved} moved so far)"
            )
        sleep(1)


def redrive(
    sqs: Any,
    dlq_url: str,
    queue_url: str,
    limit: int | None,
    timeout: float,
    note: Callable[[str], None],
) -> Moved:
    """Move up to `limit` messages (all without a limit) back to the task queue.

    StartMessageMoveTask moves everything, so it serves redrives without a limit (the tasks
    it moves are those a look at the DLQ sees first, plus any that arrive meanwhile); an
    endpoint without it (moto's server) or a limit moves them one by one.
    """
    if limit is None:
        seen = task_ids(peek_messages(sqs, dlq_url, read_depth(sqs, dlq_url).visible))
        try:
            source = start_move(sqs, dlq_url, queue_url)
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "?")
            note(f"StartMessageMoveTask is not available here ({code}): moving one by one")
        else:
            return Moved(count=wait_for_move(sqs, source, timeout), task_ids=seen)
    return move_by_hand(sqs, dlq_url, queue_url, limit)


def recorded_states(dynamodb: Any, table: str, task_ids: list[str]) -> dict[str, str]:
    """Each task's state as its record says, with the reason when DEAD_LETTERED
    (`DEAD_LETTERED (failed 3 times)`); a task with no record (expired) is left out."""
    from taskqueue.stores.results import read_status_in, table_backend  # Celery: `requeue`

    backend = table_backend(dynamodb, table)
    states: dict[str, str] = {}
    try:
        for task_id in task_ids:
            if status := read_status_in(backend, task_id):
                states[task_id] = status.state + (f" ({status.reason})" if status.reason else "")
    except (BotoCoreError, ClientError) as error:
        raise CliError(f"could not read the tasks' states ({error})") from error
    return states


def requeue(dynamodb: Any, table: str, task_ids: list[str]) -> int:
    """Record each moved task that is DEAD_LETTERED as PENDING again (one conditional
    UpdateItem each; a task a worker took meanwhile is left as it is): how many were."""
    # Here, not at the top: Celery costs 0.4 s to import, and the other commands never need it.
    from taskqueue.runtime.dead_letters import requeue as requeue_task
    from taskqueue.stores.results import table_backend

    backend = table_backend(dynamodb, table)
    try:
        return sum(requeue_task(backend, task_id) for task_id in task_ids)
    except (BotoCoreError, ClientError) as error:
        raise CliError(
            f"moved, but the tasks' states could not be set back to PENDING ({error}); "
            "each becomes STARTED when a worker takes it"
        ) from error
