"""Every expected failure is one line on stderr and exit code 1, never a stack trace."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from harness.processes import free_port
from harness.stack import LocalStack
from tests.cli.conftest import Cli, one_line_error, write_cdk_json

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(60)]


@pytest.fixture
def cli(aws_stack: LocalStack, tmp_path: Path) -> Cli:
    return Cli(aws_stack.env, tmp_path)


def test_an_unreachable_web_service(cli: Cli) -> None:
    url = f"http://127.0.0.1:{free_port()}"

    line = one_line_error(cli("enqueue", "noop", "--url", url))

    assert line == f"error: cannot reach the web service at {url}"


def test_an_unreachable_aws_endpoint_fails_within_seconds(cli: Cli) -> None:
    endpoint = f"http://127.0.0.1:{free_port()}"
    started = time.monotonic()

    result = cli(
        "queues",
        AWS_ENDPOINT_URL=endpoint,
        TASK_QUEUE_URL=f"{endpoint}/123456789012/taskqueue-tasks",
    )

    assert one_line_error(result).startswith(
        f'error: cannot reach AWS: Could not connect to the endpoint URL: "{endpoint}/"'
    )
    assert time.monotonic() - started < 15


def test_a_missing_stack(cli: Cli) -> None:
    write_cdk_json(cli.cwd, "nowhere", "taskqueue-nowhere")
    line = one_line_error(cli("dlq", "show", "--stage", "nowhere"))

    assert line == (
        "error: stack taskqueue-nowhere not found (deploy it with `make deploy`, "
        "or use --local for the local stack)"
    )


def test_a_stage_without_cdk_json(cli: Cli) -> None:
    line = one_line_error(cli("dlq", "show", "--stage", "prod"))

    assert line == (
        "error: --stage needs ./cdk.json, which names each stage's stack: "
        "run from the repository root"
    )


def test_a_malformed_parameter_is_refused_before_anything_is_sent(cli: Cli) -> None:
    line = one_line_error(cli("enqueue", "long_task", "duration", "--url", "http://127.0.0.1:9"))

    assert line == "error: bad parameter 'duration': write key=value, e.g. duration=3"


def test_local_wins_over_a_stage_from_the_environment(cli: Cli) -> None:
    result = cli("queues", "--local", "--json", TASKQUEUE_STAGE="nowhere")

    assert result.returncode == 0, result.stderr


def test_local_settings_that_would_run_a_task_twice(cli: Cli) -> None:
    line = one_line_error(cli("queues", VISIBILITY_HEARTBEAT_INTERVAL="500"))

    assert line.startswith("error: invalid local settings: ")
    assert "QUEUE_VISIBILITY_TIMEOUT" in line


def test_a_usage_error_names_the_problem_without_a_traceback(cli: Cli) -> None:
    result = cli("enqueue")

    assert result.returncode == 2
    assert "Missing argument 'TASK'" in result.stderr
    assert "Traceback" not in result.stderr
