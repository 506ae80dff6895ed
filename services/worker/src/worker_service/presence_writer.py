"""The worker's presence item: who it is, its pool, what it runs, for `GET /workers`.

A thread in the worker's main process writes the item (taskqueue.stores.worker_presence): one
UpdateItem with the pool's size, the tasks it runs now (`celery.worker.state.active_requests`,
each with the `client` header the web put on its message) and when it last received a task;
every WORKER_PRESENCE_INTERVAL seconds, and soon after the running tasks change (at most
once a second), so a task shows on its worker while it runs. A thread, not the consumer's
timer: a slow or unreachable DynamoDB (2 s read timeout, retries) must never hold up the
event loop that receives and acknowledges messages. It starts once the pool has forked
(`worker_ready`) and runs until the process stops (`worker_shutdown`, after a warm
shutdown's running tasks finished: a draining worker is still shown, busy), then takes the
item out of the index. A worker that is killed just stops writing: it leaves the list
within WORKER_PRESENCE_WINDOW.

It has a DynamoDB client of its own, never the result backend's: the pool processes use
that one, inherited unused at the fork (worker_service.worker), and a pool process forked
later (to replace one that died) would share its open connections with this thread.

The worker's name is its ECS task id on ECS (from ECS_CONTAINER_METADATA_URI_V4), else
`host:pid`.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
import urllib.request
from importlib.metadata import version
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from celery import Celery, signals
from celery.worker import state as worker_state
from taskqueue.app_settings import settings_of
from taskqueue.runtime.celery_config import aws_client
from taskqueue.settings import Settings
from taskqueue.stores.worker_presence import RunningTask, presence_update, retire_update

logger = logging.getLogger(__name__)

METADATA_TIMEOUT_SECONDS = 2.0
# Seconds between looks at what the pool runs, and the least between two writes: a task
# that starts or ends shows within about a second, and a busy worker writes at most once a
# second however many tasks it runs (an idle one once per WORKER_PRESENCE_INTERVAL).
POLL_SECONDS = 0.5
MIN_GAP_SECONDS = 1.0
# The main process's last task_received, in epoch seconds (None: none yet).
_last_receive: list[float] = []


@signals.task_received.connect
def _received(**_: Any) -> None:
    """A message became a request in this worker (its main process)."""
    _last_receive[:] = [time.time()]


def worker_name(settings: Settings) -> str:
    """The ECS task id (its ARN's last part) on ECS, else `host:pid`."""
    if settings.ecs_container_metadata_uri_v4:
        url = settings.ecs_container_metadata_uri_v4.rstrip("/") + "/task"
        try:
            with urllib.request.urlopen(url, timeout=METADATA_TIMEOUT_SECONDS) as response:
                return str(json.load(response)["TaskARN"]).rsplit("/", 1)[-1]
        except Exception as error:  # the name only labels the item: fall back
            logger.warning("no ECS task id from the metadata endpoint: %s", error)
    return f"{socket.gethostname()}:{os.getpid()}"


def running_tasks() -> list[RunningTask]:
    """The requests the pool runs now, with their clients (the `client` header)."""
    for _ in range(3):
        try:  # the event loop adds and removes requests while this thread reads them
            requests = list(worker_state.active_requests)
            break
        except RuntimeError:
            continue
    else:
        requests = []
    return [
        RunningTask(id=request.id, client=request.request_dict.get("client"))
        for request in requests
    ]


class Presence:
    """Writes the worker's presence item from `start()` until `stop()`."""

    def __init__(self, celery: Celery) -> None:
        self.settings = settings_of(celery.flask_app)
        self.table = celery.backend.table_name
        self.dynamodb: Any = None  # made on the thread, after the fork
        self.worker: str | None = None
        self.version = version("taskqueue-worker")
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="worker-presence", daemon=True)

    def start(self) -> Presence:
        self._thread.start()
        return self

    def _run(self) -> None:
        self.dynamodb = aws_client("dynamodb", self.settings)
        self.worker = worker_name(self.settings)
        logger.info(
            "presence of %s every %.1fs", self.worker, self.settings.worker_presence_interval
        )
        written, last = -float("inf"), None
        while not self._stopped.wait(POLL_SECONDS if last is not None else 0):
            running = running_tasks()
            now = time.monotonic()
            due = now - written >= self.settings.worker_presence_interval
            changed = running != last and now - written >= MIN_GAP_SECONDS
            if due or changed:
                self.write(running)
                written, last = now, running

    def write(self, running: list[RunningTask]) -> None:
        """One UpdateItem of the item as the worker is now; a failure waits for the next."""
        assert self.worker is not None
        update = presence_update(
            self.table,
            worker=self.worker,
            queue=self.settings.worker_queue,
            concurrency=self.settings.worker_concurrency,
            running=running,
            version=self.version,
            last_receive=_last_receive[0] if _last_receive else None,
            now=time.time(),
            window=self.settings.worker_presence_window,
        )
        try:
            self.dynamodb.update_item(**update)
        except (BotoCoreError, ClientError) as error:
            logger.warning("writing the worker's presence failed: %s", error)

    def stop(self) -> None:
        """No more writes; the item leaves the index (the TTL deletes it later)."""
        self._stopped.set()
        self._thread.join(timeout=2 * self.settings.aws_client_read_timeout + 1)
        if self.worker is None:
            return
        try:
            self.dynamodb.update_item(
                **retire_update(self.table, self.worker, time.time(), self.settings.worker_queue)
            )
        except (BotoCoreError, ClientError) as error:  # it leaves the list within the window
            logger.warning("retiring the worker's presence failed: %s", error)
