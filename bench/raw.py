"""The ceiling: plain boto3 against the same endpoint, no Celery, no web."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from bench.load import LoadResult, run_load
from harness.stack import LocalStack

RECEIVE_BATCH = 10  # the SQS maximum per ReceiveMessage


def raw_send(
    stack: LocalStack, body: str, total: int, concurrency: int, deadline_s: float
) -> LoadResult:
    """`send_message` `total` times on `concurrency` threads, one client per thread."""

    def send(sqs: Any, _: int) -> None:
        sqs.send_message(QueueUrl=stack.queue_url, MessageBody=body)

    return run_load(total, concurrency, lambda: stack.client("sqs"), send, deadline_s)


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


def raw_drain(stack: LocalStack, total: int, deadline_s: float) -> RawDrain:
    """Receive (10 at a time) and batch-delete `total` messages in one plain loop."""
    sqs = stack.client("sqs")
    done = 0
    started, cpu_started = time.monotonic(), time.thread_time()
    while done < total and time.monotonic() - started < deadline_s:
        messages = sqs.receive_message(
            QueueUrl=stack.queue_url, MaxNumberOfMessages=RECEIVE_BATCH, WaitTimeSeconds=1
        ).get("Messages", [])
        if not messages:
            continue
        sqs.delete_message_batch(
            QueueUrl=stack.queue_url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)
            ],
        )
        done += len(messages)
    elapsed, cpu = time.monotonic() - started, time.thread_time() - cpu_started
    if done < total:
        raise RuntimeError(f"raw drain got {done} of {total} messages in {deadline_s}s")
    return RawDrain(messages=done, elapsed_s=elapsed, cpu_s=cpu)
