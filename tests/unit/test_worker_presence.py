"""Worker presence: the items the workers write, GET /workers that reads them, the name."""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from types import SimpleNamespace
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from taskqueue.settings import Settings
from taskqueue.stores.worker_presence import RunningTask, presence_update, retire_update
from worker_service import presence_writer as presence_module
from worker_service.presence_writer import Presence, worker_name

from tests.unit.conftest import CLIENT, authorized, new_client_key


def write(app: Flask, worker: str, running: list[RunningTask], age: float = 0) -> None:
    """The worker's presence as of `age` seconds ago, as its thread writes it."""
    backend = app.extensions["celery"].backend
    settings = app.extensions["taskqueue.settings"]
    backend.client.update_item(
        **presence_update(
            backend.table_name,
            worker=worker,
            concurrency=2,
            running=running,
            version="0.1.0",
            last_receive=time.time() - age - 1,
            now=time.time() - age,
            window=settings.worker_presence_window,
        )
    )


def test_live_workers_show_their_counts_to_all_and_task_ids_to_their_owners(
    app: Flask, client: FlaskClient
) -> None:
    other = authorized(app, new_client_key(app.extensions["taskqueue.settings"], "other"))
    write(app, "w2", [RunningTask("mine", CLIENT), RunningTask("theirs", "other")])
    write(app, "w1", [RunningTask("unowned", None)])

    mine, theirs = client.get("/workers").json["workers"], other.get("/workers").json["workers"]

    assert [(w["worker"], w["busy"], w["running"]) for w in mine] == [
        ("w1", 1, []),
        ("w2", 2, ["mine"]),
    ]
    assert [w["running"] for w in theirs] == [[], ["theirs"]]
    assert mine[0]["concurrency"] == 2 and mine[0]["version"] == "0.1.0"
    assert mine[0]["last_receive"] < mine[0]["seen_at"] and mine[0]["seen_at"].endswith("Z")


def test_a_worker_silent_for_the_window_or_retired_is_gone(app: Flask, client: FlaskClient) -> None:
    window = app.extensions["taskqueue.settings"].worker_presence_window
    write(app, "silent", [], age=window + 1)
    write(app, "stopped", [])
    write(app, "live", [], age=window - 5)
    backend = app.extensions["celery"].backend
    backend.client.update_item(**retire_update(backend.table_name, "stopped", time.time()))

    assert [w["worker"] for w in client.get("/workers").json["workers"]] == ["live"]


class BackendOfThePool:
    """The result backend as the worker's main process holds it: its client is the pool
    processes' (inherited at the fork), so the presence thread must never use it."""

    table_name = "taskqueue-results"

    @property
    def client(self) -> Any:
        raise AssertionError("the presence thread used the pool's DynamoDB client")


def shown(client: FlaskClient, until: Callable[[list[dict[str, Any]]], bool]) -> list[Any]:
    """GET /workers' list once `until` holds of it (within 10 s)."""
    deadline = time.monotonic() + 10
    while not until(workers := client.get("/workers").json["workers"]):
        assert time.monotonic() < deadline, workers
        time.sleep(0.05)
    return workers


def test_the_presence_thread_writes_with_its_own_client_soon_after_a_change_and_retires(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    running: list[RunningTask] = []
    monkeypatch.setattr(presence_module, "running_tasks", lambda: list(running))
    presence = Presence(SimpleNamespace(flask_app=app, backend=BackendOfThePool())).start()
    try:
        [idle] = shown(client, until=bool)
        running.append(RunningTask("t1", CLIENT))
        started = time.monotonic()
        [busy] = shown(client, until=lambda workers: workers and workers[0]["busy"] == 1)
        took = time.monotonic() - started
    finally:
        presence.stop()

    assert idle["worker"] == f"{socket.gethostname()}:{os.getpid()}"
    assert (idle["busy"], idle["running"]) == (0, [])
    assert busy["running"] == ["t1"]
    assert took < 5 < app.extensions["taskqueue.settings"].worker_presence_interval
    assert client.get("/workers").json["workers"] == []


def test_workers_need_a_key(anonymous: FlaskClient) -> None:
    assert anonymous.get("/workers").status_code == 401


@pytest.fixture
def metadata() -> Iterator[str]:
    """A task metadata endpoint answering `/task` as ECS's v4 does."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = {"TaskARN": "arn:aws:ecs:us-east-1:123456789012:task/cluster/0123abcd"}
            payload = json.dumps(body).encode() if self.path == "/v4/c1/task" else b""
            self.send_response(200 if payload else 404)
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *_: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/v4/c1"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_on_ecs_the_worker_is_its_task_id_else_host_and_pid(metadata: str) -> None:
    local = f"{socket.gethostname()}:{os.getpid()}"

    assert worker_name(Settings(ecs_container_metadata_uri_v4=metadata)) == "0123abcd"
    assert worker_name(Settings(ecs_container_metadata_uri_v4=metadata + "x")) == local
    assert worker_name(Settings()) == local
