"""CLI fixtures: the `taskqueue` command run as a subprocess against real local stacks.

Two stacks serve the whole package (each started once, stopped by PID at the end):
`aws_stack` is moto's server alone, where each test makes its own queues, ECS services and
CloudFormation stacks; `full_stack` adds a worker and the web, with short time limits so a
poison task reaches the dead-letter queue in about 18 seconds.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from taskqueue_cli.api import TaskApi

from harness.stack import LocalStack, running
from tests.short_limits import SHORT_LIMITS

TASKQUEUE = str(Path(sys.executable).parent / "taskqueue")


@dataclass
class Cli:
    """Runs the installed `taskqueue` entry point with one environment, in an empty dir."""

    env: dict[str, str]
    cwd: Path
    extra: dict[str, str] = field(default_factory=dict)

    def __call__(
        self, *args: str, timeout: float = 60, **env: str
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [TASKQUEUE, *args],
            env=self.environment(**env),
            cwd=self.cwd,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def environment(self, **env: str) -> dict[str, str]:
        """The stack's variables, a fixed width for rich, nothing from the caller's CLI setup."""
        base = {k: v for k, v in self.env.items() if not k.startswith("TASKQUEUE_")}
        return {**base, "COLUMNS": "120", **self.extra, **env}

    def json_lines(self, *args: str) -> list[dict[str, Any]]:
        """Run a command with --json; its lines, parsed."""
        result = self(*args, "--json")
        assert result.returncode == 0, result.stderr
        return [json.loads(line) for line in result.stdout.splitlines()]


@pytest.fixture(scope="package")
def aws_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """moto's server with the bootstrapped queue, DLQ and table; no worker, no web."""
    with running(tmp_path_factory.mktemp("aws"), worker=False, web=False) as stack:
        yield stack


@pytest.fixture(scope="package")
def full_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """moto, a worker and the web, with short time limits, and every progress report of
    long_task (one a second) written: `--watch` is shown each step it reads (the writes'
    coalescing at the 2 s default is tests/e2e/test_worker_requests.py's)."""
    with running(
        tmp_path_factory.mktemp("full"), PROGRESS_WRITE_INTERVAL="1", **SHORT_LIMITS
    ) as stack:
        yield stack


@pytest.fixture
def api(full_stack: LocalStack) -> TaskApi:
    """The web API of the full local stack, to check what the CLI did."""
    return full_stack.api()


@pytest.fixture
def cli(full_stack: LocalStack, tmp_path: Path) -> Cli:
    """The CLI pointed at the full local stack (no local.env in its directory)."""
    return Cli(env=full_stack.env, cwd=tmp_path, extra={"TASKQUEUE_API_KEY": full_stack.api_key})


def write_cdk_json(cwd: Path, stage: str, stack_name: str) -> None:
    """A ./cdk.json naming the stage's stack, as the repository's does (the CLI reads it)."""
    context = {"taskqueue": {stage: {"stackName": stack_name}}}
    (cwd / "cdk.json").write_text(json.dumps({"context": context}))


@dataclass(frozen=True)
class Queues:
    """A queue and its DLQ made for one test in the shared moto server."""

    queue_url: str
    dlq_url: str
    cli: Cli


@pytest.fixture
def queues(aws_stack: LocalStack, tmp_path: Path) -> Queues:
    """A fresh queue pair (redrive after 3 receives), its `reports` pair beside it (as the
    bootstrap makes every declared queue), and the CLI pointed at them."""
    sqs = aws_stack.client("sqs")
    name = f"cli-{uuid.uuid4().hex[:8]}"
    queue_url, dlq_url = queue_pair(sqs, name)
    queue_pair(sqs, f"{name}-reports")
    cli = Cli(
        env=aws_stack.env,
        cwd=tmp_path,
        extra={
            "TASK_QUEUE_NAME": name,
            "TASK_QUEUE_URL": queue_url,
            "TASK_DLQ_NAME": f"{name}-dlq",
        },
    )
    return Queues(queue_url=queue_url, dlq_url=dlq_url, cli=cli)


def queue_pair(sqs: Any, name: str) -> tuple[str, str]:
    """Queue `name` redriving into `<name>-dlq` after 3 receives; their URLs."""
    dlq_url = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 3})
    queue_url = sqs.create_queue(QueueName=name, Attributes={"RedrivePolicy": redrive})["QueueUrl"]
    return queue_url, dlq_url


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    """The single `error: ...` line a failed command printed (and nothing like a traceback)."""
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in result.stdout + result.stderr
    return lines[0]
