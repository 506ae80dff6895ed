"""Plain boto3 loops against the same endpoint, no Celery, no web: the ceiling (a bare
receive-and-delete loop), and the like-for-like baseline (a task's requests, no Celery)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from bench.load import LoadResult, run_load
from bench.network import Network
from harness.stack import LocalStack

RECEIVE_BATCH = 10  # the SQS maximum per ReceiveMessage
# A short long poll: the queue is full while the loops run, an empty answer only at the end.
RAW_WAIT_S = 1
# Empty polls before a like-for-like call gives up (a lost message would block it for good).
EMPTY_POLLS = 30


def raw_send(
    stack: LocalStack, net: Network, body: str, total: int, concurrency: int, deadline_s: float
) -> LoadResult:
    """`send_message` `total` times on `concurrency` threads, one client per thread."""

    def send(sqs: Any, _: int) -> None:
        sqs.send_message(QueueUrl=net.queue_url, MessageBody=body)

    return run_load(total, concurrency, lambda: net.client(stack, "sqs"), send, deadline_s)


@dataclass(frozen=True)
class RawDrain:
    """Messages received and deleted, the wall time and this thread's CPU time."""

    messages: int
    elapsed_s: float
    cpu_s: float

    @property
    def per_s(self) -> float:
        return self.messages / self.elapsed_s

    @property
    def cpu_ms_per_msg(self) -> float:
        return self.cpu_s * 1000 / self.messages


def raw_drain(stack: LocalStack, net: Network, total: int, deadline_s: float) -> RawDrain:
    """Receive (10 at a time) and batch-delete `total` messages in one plain loop."""
    sqs = net.client(stack, "sqs")
    done = 0
    started, cpu_started = time.monotonic(), time.thread_time()
    while done < total and time.monotonic() - started < deadline_s:
        messages = sqs.receive_message(
            QueueUrl=net.queue_url, MaxNumberOfMessages=RECEIVE_BATCH, WaitTimeSeconds=RAW_WAIT_S
        ).get("Messages", [])
        if not messages:
            continue
        sqs.delete_message_batch(
            QueueUrl=net.queue_url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)
            ],
        )
        done += len(messages)
    elapsed, cpu = time.monotonic() - started, time.thread_time() - cpu_started
    if done < total:
        raise RuntimeError(f"raw drain got {done} of {total} messages in {deadline_s}s")
    return RawDrain(messages=done, elapsed_s=elapsed, cpu_s=cpu)


@dataclass(frozen=True)
class TaskRequests:
    """One thread's clients and where they write: the like-for-like loop's context."""

    sqs: Any
    dynamodb: Any
    queue_url: str
    table: str


def raw_task_drain(
    stack: LocalStack, net: Network, total: int, concurrency: int, deadline_s: float
) -> LoadResult:
    """`total` queued messages, each handled with the requests a status-tracking queue makes
    per task, on `concurrency` threads (the worker's pool): receive one, record STARTED and
    then SUCCESS (conditional UpdateItems, as the worker's), delete it."""
    table = stack.settings.results_table

    def connect() -> TaskRequests:
        return TaskRequests(
            net.client(stack, "sqs"), net.client(stack, "dynamodb"), net.queue_url, table
        )

    return run_load(total, concurrency, connect, handle_one, deadline_s)


def handle_one(clients: TaskRequests, _: int) -> None:
    """Receive one message and handle it as a task: STARTED, SUCCESS, delete."""
    for _ in range(EMPTY_POLLS):
        messages = clients.sqs.receive_message(
            QueueUrl=clients.queue_url, MaxNumberOfMessages=1, WaitTimeSeconds=RAW_WAIT_S
        ).get("Messages", [])
        if messages:
            break
    else:
        raise RuntimeError(f"no message after {EMPTY_POLLS} polls of {RAW_WAIT_S} s")
    message = messages[0]
    for state in ("STARTED", "SUCCESS"):
        record_state(clients, f"raw-{message['MessageId']}", state)
    clients.sqs.delete_message(QueueUrl=clients.queue_url, ReceiptHandle=message["ReceiptHandle"])


def record_state(clients: TaskRequests, item_id: str, state: str) -> None:
    """One state of a task in one conditional UpdateItem, unless it already succeeded (the
    worker's write, taskqueue.stores.results, with a small record in place of Celery's)."""
    clients.dynamodb.update_item(
        TableName=clients.table,
        Key={"id": {"S": item_id}},
        UpdateExpression="SET #state = :state, #result = :result, #timestamp = :now",
        ConditionExpression="attribute_not_exists(#state) OR #state <> :success",
        ExpressionAttributeNames={
            "#state": "state",
            "#result": "result",
            "#timestamp": "timestamp",
        },
        ExpressionAttributeValues={
            ":state": {"S": state},
            ":result": {"B": f'{{"status": "{state}", "result": null}}'.encode()},
            ":now": {"N": str(time.time())},
            ":success": {"S": "SUCCESS"},
        },
    )
