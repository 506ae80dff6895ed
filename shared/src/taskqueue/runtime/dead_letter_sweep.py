"""The dead-letter sweep: a task whose message reached the DLQ unrecorded is recorded so.

The claim sees every delivery that reaches a pool process, and the last one records its end
or sends a watch (taskqueue.runtime.dead_letters). A receive that no claim sees still spends one of
SQS's MAX_RECEIVE_COUNT receives: SQS keeps a long poll open after its client died, and
hands it a message nobody will run (aws/aws-sdk-js#2350, aws/aws-sdk-java-v2#1395: a killed
worker's poll lasts up to its 20 s wait), and a worker can die between the receive and the
claim. When that receive was the last, SQS moves the message to the DLQ at the next receive
and nothing records it: the task would show what its last claimed run left (STARTED,
PROGRESS or FAILURE) for ever.

So each worker's main process looks into the DLQ every DEAD_LETTER_SWEEP_INTERVAL seconds
(worker_service.dead_letter_sweep): one short-poll ReceiveMessage of up to 10 messages with
VisibilityTimeout 0 (the messages stay visible to `taskqueue dlq show` and redrive), and for
each task among them whose last run is over and recorded no end, the conditional write the
watch makes (`dead_letters.settle`): DEAD_LETTERED, "worker lost N times" or "failed N
times". A task already DEAD_LETTERED, finished, cancelled or still leased costs one GetItem.
A short poll samples some of SQS's servers, so a large DLQ is covered over several sweeps.
A task whose every receive was swallowed before any claim shows PENDING still: nothing ran;
the sweep gives back the client's waiting slot it held (taskqueue.stores.waiting).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from taskqueue.runtime import dead_letters
from taskqueue.runtime.celery_message import decode
from taskqueue.stores import waiting
from taskqueue.stores.results import SLOT_ATTRIBUTE

logger = logging.getLogger(__name__)

BATCH = 10  # SQS's maximum per ReceiveMessage


def sweep(backend: Any, sqs: Any, dlq_url: str, now: float | None = None) -> list[str]:
    """Look at up to 10 of the DLQ's messages and record DEAD_LETTERED, through the result
    `backend`, for each task among them whose last run ended unrecorded; the ids recorded."""
    answer = sqs.receive_message(
        QueueUrl=dlq_url, MaxNumberOfMessages=BATCH, VisibilityTimeout=0, WaitTimeSeconds=0
    )
    task_ids = {
        task.task_id
        for message in answer.get("Messages", [])
        if (task := decode(message.get("Body", ""))) is not None
    }
    now = time.time() if now is None else now
    recorded = []
    for task_id in sorted(task_ids):
        item = dead_letters.read_item(backend, task_id)
        if SLOT_ATTRIBUTE in item:  # no run claimed it: it waits no more, its slot is free
            waiting.end_waiting(
                backend.client, backend.table_name, backend.item_key(task_id), task_id
            )
        settled = dead_letters.settle(backend, task_id, item, now)
        if settled.reason is not None:
            recorded.append(task_id)
    return recorded
