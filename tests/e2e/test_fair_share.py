"""A fair share between clients, through real processes: every message a client's task sends
carries the client as its MessageGroupId (SQS fair queues' tenant), and a client with
CLIENT_MAX_WAITING tasks waiting gets 429 and queues nothing.

moto does not model fair queues: these tests read the messages off the queue and check
their group; what SQS then does with it was not run here. One stack for the module: moto and
the web with a cap of 3, no worker, so what is queued stays waiting; the tests that need tasks
to start (or a hop sent) start a worker of their own and stop it.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from taskqueue.runtime.celery_message import decode
from taskqueue.stores import api_keys
from taskqueue_cli.api import TaskApi
from taskqueue_cli.errors import CliError
from taskqueue_cli.web import WebClient

from harness.processes import wait_until
from harness.stack import LocalStack
from tests.short_limits import SHORT_LIMITS

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

CAP = 3
HOP_SECONDS = 2


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """moto and the web with a cap of 3 waiting tasks per client; no worker."""
    local = LocalStack(work_dir=tmp_path_factory.mktemp("fair-share"))
    local.env.update(
        {"CLIENT_MAX_WAITING": str(CAP), "DELAY_HOP_SECONDS": str(HOP_SECONDS), **SHORT_LIMITS}
    )
    try:
        local.start_aws()
        local.start_web()
        yield local
    finally:
        local.stop()


def client_api(stack: LocalStack, name: str) -> TaskApi:
    """The web API as a new client `name` (its key registered now)."""
    key = api_keys.new_key()
    api_keys.register(stack.client("dynamodb"), stack.settings.results_table, name, key)
    return TaskApi(stack.web_url, api_key=key)


def queue_noop(api: TaskApi) -> str:
    response = api.post_task("noop")
    assert response.status_code == 202, response.text
    task_id: str = response.json()["id"]
    return task_id


def take_messages(
    stack: LocalStack,
    task_ids: set[str],
    timeout: float,
    accept: Callable[[str, dict[str, Any]], bool] = lambda task_id, message: True,
) -> dict[str, Any]:
    """Receive the queue's messages until one of each task in `task_ids` that `accept`s is
    found: those are deleted and returned by task id, every other message is made visible
    again."""
    sqs = stack.client("sqs")
    found: dict[str, Any] = {}
    deadline = time.monotonic() + timeout
    while set(found) != task_ids and time.monotonic() < deadline:
        answer = sqs.receive_message(
            QueueUrl=stack.queue_url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=1,
            VisibilityTimeout=5,
            MessageSystemAttributeNames=["MessageGroupId", "SentTimestamp"],
        )
        for message in answer.get("Messages", []):
            task = decode(message["Body"])
            task_id = task.task_id if task is not None else None
            if task_id not in task_ids or task_id in found or not accept(task_id, message):
                sqs.change_message_visibility(
                    QueueUrl=stack.queue_url,
                    ReceiptHandle=message["ReceiptHandle"],
                    VisibilityTimeout=0,
                )
                continue
            found[task_id] = message
            sqs.delete_message(QueueUrl=stack.queue_url, ReceiptHandle=message["ReceiptHandle"])
    assert set(found) == task_ids, f"not found on the queue: {task_ids - set(found)}"
    return found


def group_of(message: dict[str, Any]) -> str | None:
    group: str | None = message.get("Attributes", {}).get("MessageGroupId")
    return group


def test_the_webs_messages_carry_the_clients_group(stack: LocalStack) -> None:
    api = client_api(stack, "grouped")
    queued = api.post_task("long_task", {"duration": 1})
    delayed = api.request("POST", "/tasks", json={"task": "noop", "delay_seconds": 1})
    seed = api.get("/sqs/celery/1")
    assert [r.status_code for r in (queued, delayed, seed)] == [202, 202, 202]
    task_ids = {r.json()["id"] for r in (queued, delayed, seed)}

    messages = take_messages(stack, task_ids, timeout=20)

    assert {task_id: group_of(m) for task_id, m in messages.items()} == dict.fromkeys(
        task_ids, "grouped"
    )


def test_a_client_at_its_cap_gets_429_and_nothing_is_queued(stack: LocalStack) -> None:
    api = client_api(stack, "flooding")
    for _ in range(CAP):
        queue_noop(api)
    depth = stack.queue_depth()

    refused = api.post_task("noop")
    seed = api.get("/sqs/celery/1")

    assert refused.status_code == 429
    assert refused.headers["Content-Type"] == "application/problem+json"
    assert int(refused.headers["Retry-After"]) > 0
    assert refused.json()["status"] == 429
    assert "CLIENT_MAX_WAITING" in refused.json()["detail"]
    assert seed.status_code == 429
    assert stack.queue_depth() == depth
    listed = api.list_tasks(limit=50).json()["items"]
    assert len(listed) == CAP
    # The CLI says so in one line.
    with pytest.raises(CliError, match=r"^too many tasks waiting: .* Try again in \d+ s\.$"):
        WebClient(stack.web_url, api.api_key).enqueue("noop", {})
    # Another client is not affected.
    queue_noop(client_api(stack, "quiet"))
    assert stack.queue_depth() == depth + 1


def test_two_concurrent_posts_at_one_below_the_cap_admit_exactly_one(stack: LocalStack) -> None:
    outcomes = []
    for round_ in range(4):
        api = client_api(stack, f"racing-{round_}")
        for _ in range(CAP - 1):
            queue_noop(api)
        with ThreadPoolExecutor(max_workers=2) as pool:
            posts = [pool.submit(api.post_task, "noop") for _ in range(2)]
            answers = [post.result().status_code for post in posts]
        outcomes.append(sorted(answers))
        assert len(api.list_tasks(limit=50).json()["items"]) == CAP

    assert outcomes == [[202, 429]] * 4


def test_a_cancel_of_a_waiting_task_frees_its_slot(stack: LocalStack) -> None:
    api = client_api(stack, "cancelling")
    task_ids = [queue_noop(api) for _ in range(CAP)]
    assert api.post_task("noop").status_code == 429

    assert api.delete_task(task_ids[0]).status_code == 200

    queue_noop(api)
    assert api.post_task("noop").status_code == 429


def test_once_its_tasks_start_the_client_can_queue_again(stack: LocalStack) -> None:
    api = client_api(stack, "resuming")
    task_ids = [queue_noop(api) for _ in range(CAP)]
    assert api.post_task("noop").status_code == 429

    worker = stack.start_worker()
    try:
        wait_until(
            lambda: all(api.state(task_id) == "SUCCESS" for task_id in task_ids),
            60,
            "the client's tasks to run",
            worker,
        )
        for _ in range(CAP):
            queue_noop(api)
    finally:
        worker.stop()


def sent_at(message: dict[str, Any]) -> float:
    """When SQS received the message: a hop's copy is sent a hop after the web's message."""
    return int(message["Attributes"]["SentTimestamp"]) / 1000


def retries_of(message: dict[str, Any]) -> int:
    """The Celery `retries` header of a received task message (kombu's base64 envelope)."""
    envelope = json.loads(base64.b64decode(message["Body"]))
    return int(envelope["headers"].get("retries") or 0)


def test_the_messages_a_worker_sends_carry_the_clients_group(stack: LocalStack) -> None:
    api = client_api(stack, "resent")
    posted_at = time.time()
    delayed = api.request("POST", "/tasks", json={"task": "noop", "delay_seconds": 60})
    retried = api.post_task("retry_then_succeed", {"failures": 1, "countdown": 60})
    assert [delayed.status_code, retried.status_code] == [202, 202]
    delayed_id, retried_id = delayed.json()["id"], retried.json()["id"]

    worker = stack.start_worker(name="resending-worker")
    try:
        wait_until(
            lambda: (
                f"task {delayed_id} is due in" in worker.log()
                and f"{retried_id}] retry" in worker.log()
            ),
            30,
            "the worker to send the delayed task's hop and the failed task's retry",
            worker,
        )
    finally:
        worker.stop()

    messages = take_messages(
        stack,
        {delayed_id, retried_id},
        timeout=3 * HOP_SECONDS + 10,
        accept=lambda task_id, message: (
            sent_at(message) >= posted_at + HOP_SECONDS - 0.5
            if task_id == delayed_id
            else retries_of(message) == 1
        ),
    )

    assert {task_id: group_of(m) for task_id, m in messages.items()} == {
        delayed_id: "resent",
        retried_id: "resent",
    }
