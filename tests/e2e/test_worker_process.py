"""The worker process itself: liveness, a clean stop, and a refusal to start when misconfigured."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from harness.processes import wait_until
from harness.stack import BIN, WEB_ARGV, WORKER_ARGV, LocalStack

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]


def healthcheck(command: str, stack: LocalStack) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / command)], env=stack.env, capture_output=True, text=True, timeout=20
    )


def test_worker_health_check_follows_the_running_worker(stack: LocalStack) -> None:
    stack.start_aws()
    worker = stack.start_worker()

    assert healthcheck("worker-healthcheck", stack).returncode == 0

    worker.send_signal(signal.SIGTERM)
    worker.popen.wait(30)
    assert not Path(stack.env["WORKER_HEARTBEAT_FILE"]).exists()
    unhealthy = healthcheck("worker-healthcheck", stack)
    assert unhealthy.returncode == 1 and "no heartbeat" in unhealthy.stderr


def test_web_health_check_answers_while_gunicorn_serves(stack: LocalStack) -> None:
    web = stack.start_web()

    assert healthcheck("web-healthcheck", stack).returncode == 0
    web.stop()
    assert healthcheck("web-healthcheck", stack).returncode == 1


@pytest.mark.parametrize("argv", [WORKER_ARGV, WEB_ARGV], ids=["worker", "web"])
def test_a_heartbeat_that_does_not_fit_the_visibility_timeout_refuses_to_start(
    stack: LocalStack, argv: list[str]
) -> None:
    env = {**stack.env, "VISIBILITY_HEARTBEAT_INTERVAL": "70", "QUEUE_VISIBILITY_TIMEOUT": "130"}

    result = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)

    assert result.returncode != 0
    assert "must fit twice inside QUEUE_VISIBILITY_TIMEOUT" in result.stdout + result.stderr


@pytest.mark.parametrize("flags", [["--pool=threads"], ["-P", "solo"]], ids=["threads", "solo"])
def test_a_pool_other_than_prefork_refuses_to_start(stack: LocalStack, flags: list[str]) -> None:
    stack.start_aws()

    result = subprocess.run(
        [*WORKER_ARGV, *flags], env=stack.env, capture_output=True, text=True, timeout=60
    )

    assert result.returncode != 0
    assert "runs Celery's prefork pool only, not" in result.stdout + result.stderr
    assert not Path(stack.env["WORKER_HEARTBEAT_FILE"]).exists()


def test_bootstrap_command_creates_the_resources_and_prints_their_urls(stack: LocalStack) -> None:
    stack.start_aws()

    result = subprocess.run(
        [sys.executable, "-m", "taskqueue.bootstrap"],
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr
    assert stack.queue_url in result.stdout
    wait_until(lambda: stack.queue_depth() == 0, 5, "the queue")
