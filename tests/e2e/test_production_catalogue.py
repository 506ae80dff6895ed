"""The diagnostic tasks live with the tests and the local stack (devstack.diagnostic_tasks),
never in the package the images install: a web run as an image runs it (outside the
repository, DIAGNOSTIC_TASKS off as prod has it) offers the shipped tasks alone, and a web or
a worker asked for the diagnostic tasks where they are not refuses to start, saying why."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.processes import start, wait_until
from harness.stack import WEB_ARGV, WORKER_ARGV, LocalStack

pytestmark = [pytest.mark.e2e]

SHIPPED = {"long_task", "noop", "queue_report", "report"}
REFUSAL = "DIAGNOSTIC_TASKS is on but devstack.diagnostic_tasks cannot be imported"


def outside_the_repository(env: dict[str, str]) -> dict[str, str]:
    """`env` without a path that reaches the repository's root (as in an image)."""
    return {key: value for key, value in env.items() if key != "PYTHONPATH"}


@pytest.mark.timeout(180)
def test_a_web_configured_as_prod_lists_no_diagnostic_task(
    stack: LocalStack, tmp_path: Path
) -> None:
    stack.env = outside_the_repository(stack.env)
    stack.start_aws()
    stack.start_web(cwd=tmp_path, DIAGNOSTIC_TASKS="false")

    document = stack.api().get("/openapi.json").json()

    schemas = document["components"]["schemas"]
    assert set(schemas["TaskRequest"]["discriminator"]["mapping"]) == SHIPPED
    assert not [name for name in schemas if name.startswith(("Fail", "Crash", "CheckSecret"))]


@pytest.mark.timeout(120)
@pytest.mark.parametrize("argv", [WEB_ARGV, WORKER_ARGV], ids=["web", "worker"])
def test_without_the_diagnostic_tasks_on_the_path_diagnostic_tasks_on_refuses_to_start(
    stack: LocalStack, tmp_path: Path, argv: list[str]
) -> None:
    env = outside_the_repository({**stack.env, "DIAGNOSTIC_TASKS": "true"})
    process = start("refused", argv, env, tmp_path, cwd=tmp_path)
    try:
        wait_until(lambda: process.popen.poll() is not None, 90, "the start to be refused")
    finally:
        process.stop()  # one that started after all: stopped, and the test fails

    assert process.popen.returncode != 0
    assert REFUSAL in process.log()
