"""The stack's queue depth counts each message once, also while its delay ends."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.stack import LocalStack, running

MESSAGES = 40


@pytest.fixture
def aws_only(tmp_path: Path) -> Iterator[LocalStack]:
    with running(tmp_path, worker=False, web=False) as stack:
        yield stack


@pytest.mark.timeout(60)
def test_messages_whose_delay_ends_meanwhile_are_counted_once(aws_only: LocalStack) -> None:
    # moto computes each count at its own instant: a message whose delay ends between them
    # is counted in neither (seen: 38 and 39 of 40 while the delays ended).
    sqs = aws_only.client("sqs")
    for index in range(MESSAGES):
        sqs.send_message(QueueUrl=aws_only.queue_url, MessageBody=str(index), DelaySeconds=1)

    seen = set()
    deadline = time.monotonic() + 2.5
    while time.monotonic() < deadline:
        seen.add(aws_only.queue_depth())

    assert seen == {MESSAGES}
