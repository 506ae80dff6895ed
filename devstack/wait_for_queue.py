"""`python -m devstack.wait_for_queue CMD...`: wait until the task queue answers, then exec CMD."""

from __future__ import annotations

import os
import sys
import time

import boto3
from botocore.exceptions import BotoCoreError, ClientError
from taskqueue.settings import get_settings

TIMEOUT_SECONDS = 60


def wait_for_queue(timeout: float = TIMEOUT_SECONDS) -> None:
    """Poll the queue's attributes until it exists or `timeout` passes."""
    settings = get_settings()
    sqs = boto3.client(
        "sqs", region_name=settings.aws_region, endpoint_url=settings.aws_endpoint_url
    )
    deadline = time.monotonic() + timeout
    while True:
        try:
            sqs.get_queue_attributes(QueueUrl=settings.task_queue_url, AttributeNames=["QueueArn"])
            return
        except (BotoCoreError, ClientError) as error:
            if time.monotonic() > deadline:
                sys.exit(f"queue {settings.task_queue_url} not ready after {timeout}s: {error}")
            time.sleep(0.2)


if __name__ == "__main__":
    wait_for_queue()
    os.execvp(sys.argv[1], sys.argv[1:])
