"""The local stack assumes no account: the queue's URL is the endpoint's answer.

The endpoint here is moto's server with another account than its default (MOTO_ACCOUNT_ID:
LocalStack's 000000000000), as any emulator may have.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.processes import wait_until
from harness.stack import LocalStack, running

pytestmark = [pytest.mark.e2e]

ACCOUNT = "000000000000"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """moto as account ACCOUNT, a worker and the web."""
    with running(tmp_path_factory.mktemp("account"), MOTO_ACCOUNT_ID=ACCOUNT) as local:
        yield local


@pytest.mark.timeout(120)
def test_the_harness_takes_the_queue_url_from_the_endpoint(stack: LocalStack) -> None:
    answered = stack.client("sqs").get_queue_url(QueueName=stack.settings.task_queue_name)

    assert stack.queue_url == answered["QueueUrl"]
    assert f"/{ACCOUNT}/" in stack.queue_url
    task_id = stack.api().enqueue("noop")
    wait_until(lambda: stack.api().state(task_id) == "SUCCESS", 30, f"{task_id} to succeed")


@pytest.mark.timeout(120)
def test_make_run_s_processes_get_the_queue_url_from_the_endpoint(stack: LocalStack) -> None:
    # The Procfile starts the worker, the web and the scheduler through wait_for_queue, with
    # local.env, which names no queue URL.
    env = {key: value for key, value in stack.env.items() if key != "TASK_QUEUE_URL"}
    show = [sys.executable, "-c", "import os; print(os.environ['TASK_QUEUE_URL'])"]

    result = subprocess.run(
        [sys.executable, "-m", "devstack.wait_for_queue", *show],
        env=env,
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == stack.queue_url
    assert f"/{ACCOUNT}/" in result.stdout
