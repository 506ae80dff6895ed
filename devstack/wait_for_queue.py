"""`python -m devstack.wait_for_queue CMD...`: wait until the task queue answers, then exec CMD.

Without TASK_QUEUE_URL in the environment, CMD gets the URL the endpoint answers for
TASK_QUEUE_NAME (GetQueueUrl): the endpoint's own account and form, whatever emulator it is.
"""

from __future__ import annotations

import os
import sys
import time

import boto3
from botocore.exceptions import BotoCoreError, ClientError
from taskqueue.settings import get_settings

TIMEOUT_SECONDS = 60


def wait_for_queue(timeout: float = TIMEOUT_SECONDS) -> str:
    """Poll until the queue exists or `timeout` passes; its URL (TASK_QUEUE_URL if set, else
    the endpoint's answer)."""
    settings = get_settings()
    sqs = boto3.client(
        "sqs", region_name=settings.aws_region, endpoint_url=settings.aws_endpoint_url
    )
    configured = os.environ.get("TASK_QUEUE_URL")
    deadline = time.monotonic() + timeout
    while True:
        try:
            url: str = (
                configured or sqs.get_queue_url(QueueName=settings.task_queue_name)["QueueUrl"]
            )
            sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
            return url
        except (BotoCoreError, ClientError) as error:
            if time.monotonic() > deadline:
                queue = configured or settings.task_queue_name
                sys.exit(f"queue {queue} not ready after {timeout}s: {error}")
            time.sleep(0.2)


if __name__ == "__main__":
    os.environ["TASK_QUEUE_URL"] = wait_for_queue()
    os.execvp(sys.argv[1], sys.argv[1:])
