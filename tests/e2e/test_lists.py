"""GET /tasks and GET /workers through gunicorn and real workers, against moto's server."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from taskqueue.stores import api_keys
from taskqueue_cli.api import TaskApi

from harness.processes import wait_until
from harness.stack import LocalStack, running
from tests.short_limits import SHORT_LIMITS

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

# A worker writes its presence every second; one silent for 6 s is gone. The killed
# worker's wait is bounded by the window; a clean stop must beat it by far.
PRESENCE = {"WORKER_PRESENCE_INTERVAL": "1", "WORKER_PRESENCE_WINDOW": "6"}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """moto and the web; each test starts the workers it needs."""
    with running(
        tmp_path_factory.mktemp("lists"), worker=False, **SHORT_LIMITS, **PRESENCE
    ) as local:
        yield local


@pytest.fixture(scope="module")
def other(stack: LocalStack) -> TaskApi:
    """A second client, `other`."""
    key = api_keys.create(stack.client("dynamodb"), stack.settings.results_table, "other")
    return TaskApi(stack.web_url, api_key=key)


def listed(api: TaskApi, **query: Any) -> list[str]:
    """The ids on one page."""
    response = api.list_tasks(**query)
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


def test_the_list_pages_newest_first_filters_by_state_and_is_the_caller_s_own(
    stack: LocalStack, other: TaskApi
) -> None:
    api = stack.api()
    queued = [api.enqueue("noop") for _ in range(5)]  # no worker yet: all stay PENDING
    theirs = other.enqueue("noop")
    assert api.delete_task(queued[1]).status_code == 200

    first = api.list_tasks(limit=3).json()
    cursor = first["next_cursor"]

    assert [item["id"] for item in first["items"]] + listed(api, limit=3, cursor=cursor) == list(
        reversed(queued)
    )
    assert listed(api, state="REVOKED") == [queued[1]]
    assert listed(other) == [theirs]
    refused = other.list_tasks(cursor=cursor)
    assert refused.status_code == 422
    assert refused.headers["Content-Type"] == "application/problem+json"
    assert api.list_tasks(limit=0).status_code == 422
    assert TaskApi(stack.web_url).list_tasks().status_code == 401


def workers(api: TaskApi) -> list[dict[str, Any]]:
    response = api.workers()
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["workers"]
    return found


def test_a_worker_shows_its_running_task_to_its_owner_only_and_leaves_when_it_stops(
    stack: LocalStack, other: TaskApi
) -> None:
    api = stack.api()
    assert workers(api) == []
    killed = stack.start_worker("worker-killed")
    running = api.enqueue("long_task", {"duration": 3})
    wait_until(lambda: api.state(running) == "PROGRESS", 30, "the long task to run")
    wait_until(lambda: workers(api)[0]["running"] == [running], 10, "the presence to show it")

    [mine], [seen_by_other] = workers(api), workers(other)

    assert (mine["busy"], mine["concurrency"]) == (1, 2)
    assert str(mine["worker"]).endswith(f":{killed.pid}")
    assert mine["last_receive"] is not None and mine["version"]
    assert seen_by_other["running"] == [] and seen_by_other["busy"] == 1
    killed.kill_group()
    gone = time.monotonic()
    wait_until(lambda: workers(api) == [], 15, "the killed worker to leave the list")
    assert time.monotonic() - gone > 2  # it left by the window, not at once

    stopped = stack.start_worker("worker-stopped")
    wait_until(lambda: len(workers(api)) == 1, 10, "the second worker to show")
    stopped.stop()
    assert workers(api) == []  # a clean stop leaves at once, well inside the 6 s window
