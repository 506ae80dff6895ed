"""Effect once: a task delivered twice runs its body once.

SQS delivers at least once, and late acknowledgement redelivers a task whose worker died.
Before a task's body runs, the worker claims the task id in the results table with a
conditional write; the claim is a lease as long as the task's time limit. A second delivery
of the same id finds the claim and is dropped (`Ignore`: acknowledged, no state written)
once the task is done. A delivery that finds a live lease (another worker runs the task,
or died running it a moment ago) is rejected without requeue: the message stays in SQS and
comes back after the visibility timeout, which outlasts the lease. A delivery after the
lease expired takes the claim over and runs the task again, so nothing is lost.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError
from celery import Celery
from celery.exceptions import Ignore, Reject

logger = logging.getLogger(__name__)

CLAIM_PREFIX = "claim-"


def claim_key(task_id: str) -> dict[str, dict[str, str]]:
    """The claim's item key: beside Celery's `celery-task-meta-<id>` records."""
    return {"id": {"S": f"{CLAIM_PREFIX}{task_id}"}}


def claim(celery: Celery, task_id: str, lease_seconds: float) -> None:
    """Take the task id for this run; Ignore when it is done, Reject while a lease holds."""
    backend = celery.backend
    now = time.time()
    try:
        backend.client.put_item(
            TableName=backend.table_name,
            Item={
                **claim_key(task_id),
                "state": {"S": "RUNNING"},
                "lease_until": {"N": str(now + lease_seconds)},
                "ttl": {"N": str(int(now + celery.conf.result_expires))},
            },
            ConditionExpression=(
                "attribute_not_exists(id) OR (#state = :running AND lease_until < :now)"
            ),
            ExpressionAttributeNames={"#state": "state"},
            ExpressionAttributeValues={":running": {"S": "RUNNING"}, ":now": {"N": str(now)}},
        )
    except ClientError as error:
        if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        held = backend.client.get_item(
            TableName=backend.table_name, Key=claim_key(task_id), ConsistentRead=True
        ).get("Item", {})
        if held.get("state", {}).get("S") == "DONE":
            logger.warning("task %s was delivered again after it finished: dropped", task_id)
            raise Ignore() from error
        logger.warning(
            "task %s is claimed by another run: back after the visibility timeout", task_id
        )
        raise Reject("claimed by another run", requeue=False) from error


def complete(celery: Celery, task_id: str) -> None:
    """Mark the claim done: later deliveries of this id are dropped for good."""
    backend = celery.backend
    backend.client.update_item(
        TableName=backend.table_name,
        Key=claim_key(task_id),
        UpdateExpression="SET #state = :done",
        ExpressionAttributeNames={"#state": "state"},
        ExpressionAttributeValues={":done": {"S": "DONE"}},
    )


def release(celery: Celery, task_id: str) -> None:
    """End a running claim's lease, so the next delivery may run the task again at once.

    Called after the body raised, and by the transport when it hands an unfinished
    message back (taskqueue.sqs_transport). A finished claim is left alone.
    """
    backend = celery.backend
    try:
        backend.client.update_item(
            TableName=backend.table_name,
            Key=claim_key(task_id),
            UpdateExpression="SET lease_until = :expired",
            ConditionExpression="#state = :running",
            ExpressionAttributeNames={"#state": "state"},
            ExpressionAttributeValues={":expired": {"N": "0"}, ":running": {"S": "RUNNING"}},
        )
    except ClientError as error:
        if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise


def run_once(task: Any, body: Callable[[], Any]) -> Any:
    """Run `body` under a claim on the task's id; see the module docstring."""
    task_id = task.request.id
    if task_id is None:  # called directly, not through a worker
        return body()
    # The lease outlasts the task's time limit and ends before its message's visibility
    # timeout, so a redelivery after a crash finds it expired.
    conf = task.app.conf
    lease = (conf.task_time_limit + conf.queue_visibility_timeout) / 2
    claim(task.app, task_id, lease)
    try:
        result = body()
    except BaseException:
        release(task.app, task_id)
        raise
    complete(task.app, task_id)
    return result
