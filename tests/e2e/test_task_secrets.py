"""A real worker reads its secret variables at run time and never writes their values out."""

from __future__ import annotations

import hashlib

import pytest
from taskqueue_cli.api import TaskApi

from harness.processes import wait_until
from harness.stack import LocalStack

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

SECRET = "postgres://app:s3cr3t-Pa55w0rd@db.internal/app"


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def test_a_task_reads_its_secret_and_a_failing_one_does_not_log_it(
    stack: LocalStack, api: TaskApi
) -> None:
    stack.start_aws()
    # As ECS sets them: the value from `secrets`, the names from the Settings variable.
    worker = stack.start_worker(DATABASE_URL=SECRET, TASK_SECRETS="DATABASE_URL")
    stack.start_web()

    read = api.enqueue("check_secret", {"name": "DATABASE_URL", "sha256": sha256(SECRET)})
    wait_until(lambda: api.state(read) == "SUCCESS", 30, "check_secret with the right digest")
    assert api.status(read)["result"] == {"matches": True}

    failed = api.enqueue("check_secret", {"name": "DATABASE_URL", "sha256": sha256("other")})
    wait_until(lambda: api.state(failed) == "FAILURE", 30, "check_secret with a wrong digest")
    wait_until(
        lambda: f"Task check_secret[{failed}] raised unexpected" in worker.log(),
        10,
        "the worker's log of the failure",
    )
    log, error = worker.log(), str(api.status(failed)["error"])
    assert "SecretMismatch" in log and "DATABASE_URL=SecretStr('**********')" in log
    for text in (log, error):
        assert SECRET not in text and "s3cr3t" not in text

    # A variable that is not one of the worker's secrets is not read at all.
    other = api.enqueue("check_secret", {"name": "AWS_SECRET_ACCESS_KEY", "sha256": sha256("x")})
    wait_until(lambda: api.state(other) == "FAILURE", 30, "check_secret of a non-secret")
    assert "not in TASK_SECRETS" in str(api.status(other)["error"])
