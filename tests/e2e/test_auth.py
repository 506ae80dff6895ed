"""Clients and keys through gunicorn and the `taskqueue keys` CLI, against moto's server."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from taskqueue.stores import api_keys
from taskqueue_cli.api import TaskApi

from harness.stack import LocalStack, running
from tests.cli.conftest import Cli, one_line_error

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

# Short, so the revocation test waits seconds, not the default 30.
CACHE_SECONDS = 2


@pytest.fixture(scope="module")
def web_only(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """moto and the web with a short key cache, no worker: what is queued stays queued."""
    work_dir = tmp_path_factory.mktemp("auth")
    with running(work_dir, worker=False, API_KEY_CACHE_SECONDS=str(CACHE_SECONDS)) as stack:
        yield stack


@pytest.fixture
def operator(web_only: LocalStack, tmp_path: Path) -> Cli:
    """The `taskqueue` CLI on the local stack, with the operator's (moto's) credentials."""
    return Cli(env=web_only.env, cwd=tmp_path)


def new_client(operator: Cli, name: str) -> str:
    """`taskqueue keys create NAME`; the key it prints."""
    result = operator("keys", "create", name)
    assert result.returncode == 0, result.stderr
    [key] = result.stdout.split()
    return key


def test_without_a_key_nothing_is_queued_and_with_one_it_is(web_only: LocalStack) -> None:
    anonymous = TaskApi(web_only.web_url)
    depth = web_only.queue_depth()

    refused = anonymous.post_task("long_task", {"duration": 1})
    seed = anonymous.get("/sqs/celery/1")

    assert (refused.status_code, seed.status_code) == (401, 401)
    assert refused.headers["WWW-Authenticate"].startswith("Bearer")
    assert refused.headers["Content-Type"] == "application/problem+json"
    assert web_only.queue_depth() == depth
    assert web_only.api().post_task("long_task", {"duration": 1}).status_code == 202
    assert web_only.queue_depth() == depth + 1


def test_a_second_client_cannot_see_or_cancel_the_first_client_s_task(
    web_only: LocalStack, operator: Cli
) -> None:
    task_id = web_only.api().enqueue("noop")
    other = TaskApi(web_only.web_url, api_key=new_client(operator, "other"))

    assert other.get_task(task_id).status_code == 404
    assert other.delete_task(task_id).status_code == 404
    assert other.get_task(task_id).json()["title"] == other.get_task("never-queued").json()["title"]
    assert web_only.api().state(task_id) == "PENDING"


def test_keys_create_list_revoke_and_a_revoked_key_is_refused_within_the_cache_time(
    web_only: LocalStack, operator: Cli
) -> None:
    key = new_client(operator, "billing")
    billing = TaskApi(web_only.web_url, api_key=key)
    assert billing.post_task("noop").status_code == 202

    listed = operator.json_lines("keys", "list")
    [row] = [row for row in listed if row["client"] == "billing"]
    assert row["created"] and row["last_used"] != "-"
    assert key not in operator("keys", "list").stdout
    assert operator("keys", "create", "billing").returncode == 1  # one key per client

    revoked = operator("keys", "revoke", "billing")
    assert revoked.returncode == 0, revoked.stderr
    started = time.monotonic()
    while billing.post_task("noop").status_code == 202:
        assert time.monotonic() - started < CACHE_SECONDS + 5
        time.sleep(0.2)
    assert billing.post_task("noop").status_code == 401
    assert "billing" not in [row["client"] for row in operator.json_lines("keys", "list")]


def test_keys_never_reach_the_logs_and_the_log_names_the_client(
    web_only: LocalStack, operator: Cli
) -> None:
    key = new_client(operator, "auditor")
    TaskApi(web_only.web_url, api_key=key).post_task("noop")
    web_only.api().post_task("noop")
    time.sleep(0.5)  # the access line is written after the answer

    logs = "".join(process.log() for process in web_only.processes)

    assert key not in logs and web_only.api_key not in logs
    assert '"client": "auditor"' in logs and '"client": "harness"' in logs


def test_the_cli_sends_the_key_from_the_environment(web_only: LocalStack, operator: Cli) -> None:
    without = operator("enqueue", "noop")
    with_key = operator("enqueue", "noop", TASKQUEUE_API_KEY=web_only.api_key)

    assert without.returncode == 1
    assert "TASKQUEUE_API_KEY" in without.stderr
    assert with_key.returncode == 0, with_key.stderr
    assert web_only.api().state(with_key.stdout.strip()) == "PENDING"


def test_the_cli_takes_the_key_from_api_key_and_names_both_sources_when_it_is_refused(
    web_only: LocalStack, operator: Cli
) -> None:
    """tools/cli/README.md: `enqueue`, `status` and `cancel` send TASKQUEUE_API_KEY or
    --api-key; a refused key is one line naming both."""
    queued = operator("enqueue", "noop", "--api-key", web_only.api_key)
    assert queued.returncode == 0, queued.stderr
    task_id = queued.stdout.strip()
    shown = operator("status", task_id, "--api-key", web_only.api_key)
    assert shown.returncode == 0, shown.stderr
    assert "state    PENDING" in shown.stdout.splitlines()

    for command in (["enqueue", "noop"], ["status", task_id], ["cancel", task_id]):
        refused = one_line_error(operator(*command, "--api-key", api_keys.new_key()))
        assert "TASKQUEUE_API_KEY" in refused and "--api-key" in refused, refused
    assert web_only.api().state(task_id) == "PENDING"  # the refused cancel changed nothing
