"""`enqueue` sends each task with an Idempotency-Key and sends a POST that timed out again
with it: the task is queued once (a relay between the CLI and the real web loses the first
answer)."""

from __future__ import annotations

import json

import pytest
from taskqueue_cli.api import IDEMPOTENCY_KEY, TaskApi

from harness.processes import wait_until
from harness.stack import LocalStack
from tests.cli.conftest import Cli
from tests.relay import Exchange, relaying

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]


def test_a_post_that_timed_out_is_sent_again_with_its_key_and_queues_one_task(
    cli: Cli, full_stack: LocalStack, api: TaskApi
) -> None:
    def lose_the_first(exchange: Exchange) -> bool:
        return len(relay.posts("/tasks")) > 1  # the first hangs until the CLI gives up

    with relaying(full_stack.web_port, deliver=lose_the_first) as relay:
        result = cli("enqueue", "noop", "--url", relay.url, "--request-timeout", "2")

    assert result.returncode == 0, result.stderr
    task_id = result.stdout.strip()
    first, *again = relay.posts("/tasks")
    assert not first.delivered and first.status == 202  # the web queued it; the CLI never knew
    assert json.loads(first.answer)["id"] == task_id
    assert [e.status for e in again][-1] == 202
    keys = {e.headers[IDEMPOTENCY_KEY.lower()] for e in [first, *again]}
    assert len(keys) == 1
    wait_until(lambda: api.state(task_id) == "SUCCESS", 30, "SUCCESS")


def test_each_enqueue_sends_a_key_of_its_own(cli: Cli, full_stack: LocalStack) -> None:
    with relaying(full_stack.web_port) as relay:
        ids = [cli("enqueue", "noop", "--url", relay.url).stdout.strip() for _ in range(2)]

    keys = [e.headers.get(IDEMPOTENCY_KEY.lower()) for e in relay.posts("/tasks")]
    assert len(set(ids)) == 2
    assert len(keys) == 2 and None not in keys and keys[0] != keys[1]
