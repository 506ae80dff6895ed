"""`Idempotency-Key` on the real local stack: moto's server (its DynamoDB atomic), a worker
and gunicorn; a relay loses answers and holds a send."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests
from taskqueue.runtime.dead_letters import ATTEMPT_ATTRIBUTE
from taskqueue.stores import api_keys, waiting
from taskqueue.stores.results import table_backend
from taskqueue_cli.api import IDEMPOTENCY_KEY, TaskApi

from harness.processes import Process, free_port, start, wait_until
from harness.stack import CLIENT, WEB_ARGV, LocalStack, running
from tests.relay import Exchange, Lost, relaying

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

# A task that waits in SQS (delayed) while a test counts the queue's messages.
WAITING = {"task": "long_task", "params": {"duration": 1}, "delay_seconds": 600}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """moto, a worker and the web, shared by the module's tests."""
    with running(tmp_path_factory.mktemp("idempotency")) as local:
        yield local


def post(api: TaskApi, key: str, body: dict[str, Any]) -> requests.Response:
    """One POST /tasks of `body` with Idempotency-Key `key`."""
    return api.request("POST", "/tasks", json=body, headers={IDEMPOTENCY_KEY: key})


def until_answered(api: TaskApi, key: str, body: dict[str, Any]) -> requests.Response:
    """POST until the answer is no 409, each time after its Retry-After (as a client does)."""
    while (response := post(api, key, body)).status_code == 409:
        time.sleep(float(response.headers["Retry-After"]))
    return response


def task_ids(api: TaskApi) -> set[str]:
    """The ids of the stack client's tasks (one page: the module queues fewer)."""
    return {task["id"] for task in api.list_tasks(limit=100).json()["items"]}


def runs(worker: Process, task_id: str) -> int:
    """How often the worker's log says the task succeeded."""
    return worker.log().count(f"[{task_id}] succeeded")


def waiting_slots(stack: LocalStack, client: str = CLIENT) -> int:
    item = stack.client("dynamodb").get_item(
        TableName=stack.settings.results_table, Key=waiting.counter_key(client)
    )
    return int(item.get("Item", {}).get(waiting.COUNT_ATTRIBUTE, {"N": "0"})["N"])


def lose_the_answer(stack: LocalStack, key: str, body: dict[str, Any]) -> None:
    """Send POST /tasks and close the connection without reading: the web queues the task
    and its answer goes nowhere."""
    payload = json.dumps(body).encode()
    head = (
        "POST /tasks HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{stack.web_port}\r\n"
        f"Authorization: Bearer {stack.api_key}\r\n"
        f"{IDEMPOTENCY_KEY}: {key}\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(payload)}\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", stack.web_port), timeout=5) as connection:
        connection.sendall(head.encode() + payload)


def test_a_post_whose_answer_was_lost_retried_with_its_key_runs_the_task_once(
    stack: LocalStack,
) -> None:
    api, worker = stack.api(), stack.processes[1]
    before, depth = task_ids(api), stack.queue_depth()
    body = {"task": "long_task", "params": {"duration": 1}}

    lose_the_answer(stack, "lost-answer", body)
    wait_until(lambda: len(task_ids(api) - before) == 1, 30, "the lost request's task")
    (queued,) = task_ids(api) - before
    retried = until_answered(api, "lost-answer", body)

    assert retried.status_code == 202
    assert retried.json() == {"id": queued, "status_url": f"/tasks/{queued}"}
    wait_until(lambda: api.state(queued) == "SUCCESS", 30, "SUCCESS")
    wait_until(lambda: stack.queue_depth() == depth, 30, "its one message deleted")
    assert task_ids(api) - before == {queued}
    assert runs(worker, queued) == 1
    table = table_backend(stack.client("dynamodb"), stack.settings.results_table)
    item = table.client.get_item(TableName=table.table_name, Key=table.item_key(queued))["Item"]
    assert item[ATTEMPT_ATTRIBUTE] == {"N": "1"}  # one claim: one run


def test_a_repeat_gets_the_same_answer_and_queues_nothing_another_body_is_422(
    stack: LocalStack,
) -> None:
    api = stack.api()
    depth, slots = stack.queue_depth(), waiting_slots(stack)

    first = post(api, "one-order", WAITING)
    repeat = post(api, "one-order", WAITING)  # at once: the first's send was answered
    other_body = post(api, "one-order", {**WAITING, "delay_seconds": 601})

    assert first.status_code == 202
    assert repeat.status_code == 202
    assert repeat.json() == first.json()
    assert repeat.headers["Location"] == first.headers["Location"]
    assert other_body.status_code == 422
    assert other_body.headers["Content-Type"] == "application/problem+json"
    assert other_body.json()["title"] == "Idempotency-Key reused"
    assert stack.queue_depth() == depth + 1
    assert waiting_slots(stack) == slots + 1  # the repeats gave their slots back
    api.delete_task(first.json()["id"])


def test_concurrent_requests_with_one_key_queue_one_task(stack: LocalStack) -> None:
    api, depth, slots = stack.api(), stack.queue_depth(), waiting_slots(stack)
    together = threading.Barrier(8)

    def send(_: int) -> requests.Response:
        together.wait(10)
        return post(api, "at-once", WAITING)

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(send, range(8)))

    # One wrote the record; each other one came while it was sending (409) or after (its 202).
    assert {answer.status_code for answer in answers} <= {202, 409}
    accepted = [answer for answer in answers if answer.status_code == 202]
    assert accepted and all(answer.json() == accepted[0].json() for answer in accepted)
    assert stack.queue_depth() == depth + 1
    assert waiting_slots(stack) == slots + 1
    api.delete_task(accepted[0].json()["id"])


def test_another_clients_same_key_is_its_own_task(stack: LocalStack) -> None:
    other_key = api_keys.new_key()
    api_keys.register(stack.client("dynamodb"), stack.settings.results_table, "other", other_key)
    mine, theirs = stack.api(), TaskApi(stack.web_url, api_key=other_key)
    body = {"task": "noop"}

    answers = [post(mine, "shared", body), post(theirs, "shared", body)]

    assert [answer.status_code for answer in answers] == [202, 202]
    mine_id, theirs_id = (answer.json()["id"] for answer in answers)
    assert mine_id != theirs_id
    wait_until(lambda: mine.state(mine_id) == "SUCCESS", 30, "my task")
    wait_until(lambda: theirs.state(theirs_id) == "SUCCESS", 30, "their task")


@pytest.fixture
def held_web(
    stack: LocalStack, tmp_path: Path
) -> Iterator[tuple[TaskApi, threading.Event, threading.Event]]:
    """A second web process whose AWS requests pass a relay that holds its first
    SendMessage until the test lets it go: its API, the event set when the send is held, and
    the one that lets it go. Its SDK waits 30 s for an answer, so the send does not time out
    while held."""
    held, go = threading.Event(), threading.Event()

    def hold(exchange: Exchange) -> None:
        if exchange.headers.get("x-amz-target", "").endswith(".SendMessage") and not held.is_set():
            held.set()
            go.wait(60)

    port = free_port()
    endpoint = int(stack.env["AWS_ENDPOINT_URL"].rsplit(":", 1)[1])
    with relaying(endpoint, hold=hold) as relay:
        env = {
            **stack.env,
            "AWS_ENDPOINT_URL": relay.url,
            "AWS_CLIENT_READ_TIMEOUT": "30",
            "WEB_BIND": f"127.0.0.1:{port}",
        }
        web = start("web-held", WEB_ARGV, env, tmp_path)
        try:
            url = f"http://127.0.0.1:{port}"
            wait_until(lambda: requests.get(f"{url}/healthz", timeout=1).ok, 60, "the web", web)
            yield TaskApi(url, api_key=stack.api_key), held, go
        finally:
            go.set()
            web.stop()


def test_a_repeat_while_the_first_is_sending_is_409_then_the_first_answer(
    stack: LocalStack, held_web: tuple[TaskApi, threading.Event, threading.Event]
) -> None:
    slow, held, go = held_web
    api, body = stack.api(), {"task": "noop"}

    with ThreadPoolExecutor(1) as pool:
        first = pool.submit(post, slow, "held", body)
        assert held.wait(30), "the first request's SendMessage never came"
        during = post(api, "held", body)  # another web process, while the first sends
        go.set()
        answered = first.result(30)
    wait_until(lambda: api.state(answered.json()["id"]) == "SUCCESS", 30, "SUCCESS")
    after = post(api, "held", body)

    assert during.status_code == 409
    assert during.json()["title"] == "Request in progress"
    assert int(during.headers["Retry-After"]) >= 1
    assert answered.status_code == 202
    assert (after.status_code, after.json()) == (202, answered.json())


def test_task_api_sends_a_post_whose_connection_dropped_again_with_its_key(
    stack: LocalStack,
) -> None:
    def drop_first(exchange: Exchange) -> bool:
        return len(relay.posts("/tasks")) > 1

    with relaying(stack.web_port, deliver=drop_first, lost=Lost.DROP) as relay:
        task_id = TaskApi(relay.url, api_key=stack.api_key).enqueue("noop")

    lost, *again = relay.posts("/tasks")
    assert not lost.delivered and again
    assert {e.headers[IDEMPOTENCY_KEY.lower()] for e in [lost, *again]} == {
        lost.headers[IDEMPOTENCY_KEY.lower()]
    }
    assert json.loads(lost.answer)["id"] == task_id
    wait_until(lambda: stack.api().state(task_id) == "SUCCESS", 30, "SUCCESS")
