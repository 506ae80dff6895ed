"""Bad input and a missing broker, through gunicorn: problem JSON, and nothing is queued."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from taskqueue.settings import Settings

from harness.stack import LocalStack, running

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

PROBLEM_JSON = "application/problem+json"
# One second over the largest duration the running stack (default settings) accepts.
OVER_MAX = int(Settings.model_fields["task_max_duration"].default) + 1
# The longest delay the running stack accepts (TASK_MAX_DELAY's default: 7 days).
MAX_DELAY = int(Settings.model_fields["task_max_delay"].default)
# One byte over the largest body the running stack (MAX_REQUEST_BYTES' default) accepts.
MAX_BODY = int(Settings.model_fields["max_request_bytes"].default)
TOO_LARGE = b'{"task": "noop", "params": {"pad": "' + b"x" * MAX_BODY + b'"}}'


@pytest.fixture(scope="module")
def web_without_worker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """moto and the web only: whatever the web queues stays in the queue, countable."""
    with running(tmp_path_factory.mktemp("rejections"), worker=False) as local:
        yield local


BAD_REQUESTS = [
    pytest.param({"data": "duration=3"}, 415, None, id="not-json"),
    pytest.param(
        {"data": "{not json", "headers": {"Content-Type": "application/json"}},
        400,
        None,
        id="malformed-json",
    ),
    pytest.param({"json": {"task": "rm_rf", "params": {}}}, 422, "task", id="unknown-task"),
    pytest.param({"json": {"params": {"duration": 2}}}, 422, "task", id="missing-task"),
    pytest.param({"json": {"task": "long_task"}}, 422, "params", id="missing-params"),
    pytest.param(
        {"json": {"task": "long_task", "params": {}}}, 422, "params.duration", id="missing-field"
    ),
    pytest.param(
        {"json": {"task": "long_task", "params": {"duration": 2, "extra": 1}}},
        422,
        "params.extra",
        id="extra-field",
    ),
    pytest.param(
        {"json": {"task": "long_task", "params": {"duration": 2}, "priority": 1}},
        422,
        "priority",
        id="extra-top-level-field",
    ),
    pytest.param(
        {"json": {"task": "long_task", "params": {"duration": "soon"}}},
        422,
        "params.duration",
        id="wrong-type",
    ),
    pytest.param(
        {"json": {"task": "long_task", "params": {"duration": -1}}},
        422,
        "params.duration",
        id="negative-duration",
    ),
    pytest.param(
        {"json": {"task": "long_task", "params": {"duration": OVER_MAX}}},
        422,
        "params.duration",
        id="duration-over-max",
    ),
    pytest.param({"json": [1, 2, 3]}, 422, None, id="json-array"),
    pytest.param(
        {"json": {"task": "noop", "delay_seconds": MAX_DELAY + 1}},
        422,
        "delay_seconds",
        id="delay-over-max",
    ),
    pytest.param(
        {"json": {"task": "noop", "not_before": "2020-01-01T00:00:00Z"}},
        422,
        "not_before",
        id="due-time-in-the-past",
    ),
    pytest.param(
        {"json": {"task": "noop", "not_before": "2030-01-01T00:00:00"}},
        422,
        "not_before",
        id="due-time-without-offset",
    ),
    pytest.param(
        {"json": {"task": "noop", "delay_seconds": 5, "not_before": "2030-01-01T00:00:00Z"}},
        422,
        "not_before",
        id="delay-and-due-time",
    ),
    pytest.param(
        {"data": TOO_LARGE, "headers": {"Content-Type": "application/json"}},
        413,
        None,
        id="body-over-MAX_REQUEST_BYTES",
    ),
]


@pytest.mark.parametrize(("request_kwargs", "status", "field"), BAD_REQUESTS)
def test_bad_input_gets_a_problem_naming_the_field_and_queues_nothing(
    web_without_worker: LocalStack, request_kwargs: dict[str, Any], status: int, field: str | None
) -> None:
    depth_before = web_without_worker.queue_depth()

    response = web_without_worker.api().request("POST", "/tasks", **request_kwargs)

    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == PROBLEM_JSON
    problem = response.json()
    assert problem["status"] == status and problem["title"] and problem["detail"]
    if field is not None:
        assert field in [error["field"] for error in problem["errors"]]
    assert "Traceback" not in response.text
    assert web_without_worker.queue_depth() == depth_before


@pytest.mark.parametrize("field", ["delay_seconds", "not_before"])
def test_a_delay_beyond_the_maximum_names_the_maximum(
    web_without_worker: LocalStack, field: str
) -> None:
    # Built when the test runs: a time computed at collection is minutes old by now.
    extra: dict[str, Any] = {
        "delay_seconds": {"delay_seconds": MAX_DELAY + 1},
        "not_before": {
            "not_before": (datetime.now(UTC) + timedelta(seconds=MAX_DELAY + 60)).isoformat()
        },
    }[field]
    response = web_without_worker.api().request("POST", "/tasks", json={"task": "noop", **extra})

    assert response.status_code == 422
    assert f"at most {MAX_DELAY} seconds (7 days, TASK_MAX_DELAY)" in response.json()["detail"]


@pytest.mark.parametrize("duration", ["0", str(OVER_MAX), "-3"])
def test_the_seed_route_refuses_durations_out_of_range(
    web_without_worker: LocalStack, duration: str
) -> None:
    depth_before = web_without_worker.queue_depth()

    response = web_without_worker.api().get(f"/sqs/celery/{duration}")

    assert response.status_code in {404, 422}
    assert response.headers["Content-Type"] == PROBLEM_JSON
    assert web_without_worker.queue_depth() == depth_before


def test_a_valid_request_adds_exactly_one_message(web_without_worker: LocalStack) -> None:
    depth_before = web_without_worker.queue_depth()

    response = web_without_worker.api().post_task("noop")

    assert response.status_code == 202
    assert web_without_worker.queue_depth() == depth_before + 1


def test_broker_down_is_a_503_within_5_seconds(tmp_path: Path) -> None:
    stack = LocalStack(work_dir=tmp_path)
    api = stack.api()
    try:
        aws = stack.start_aws()
        stack.start_web()
        aws.stop()

        started = time.monotonic()
        response = api.post_task("long_task", {"duration": 1}, timeout=30)
        elapsed = time.monotonic() - started

        assert response.status_code == 503
        assert response.headers["Content-Type"] == PROBLEM_JSON
        assert response.json()["title"] == "Queue unavailable"
        assert elapsed < 5, f"took {elapsed:.1f}s"
        assert api.get("/healthz", timeout=5).status_code == 200
    finally:
        stack.stop()


def test_a_broker_that_never_answers_is_a_503_within_5_seconds(tmp_path: Path) -> None:
    with socket.socket() as black_hole:
        black_hole.bind(("127.0.0.1", 0))
        black_hole.listen(64)  # accepts connections, never answers
        endpoint = f"http://127.0.0.1:{black_hole.getsockname()[1]}"
        stack = LocalStack(work_dir=tmp_path)
        stack.env.update(
            AWS_ENDPOINT_URL=endpoint, TASK_QUEUE_URL=f"{endpoint}/123456789012/taskqueue-tasks"
        )
        api = stack.api()
        try:
            stack.start_web()

            started = time.monotonic()
            response = api.post_task("noop", timeout=30)
            elapsed = time.monotonic() - started

            assert response.status_code == 503
            assert response.headers["Content-Type"] == PROBLEM_JSON
            assert elapsed < 5, f"took {elapsed:.1f}s"
            print(f"503 after {elapsed:.2f}s")
        finally:
            stack.stop()
