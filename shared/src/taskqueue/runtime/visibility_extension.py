"""The visibility extension: a running task's message stays invisible, and no longer.

The queue's base visibility timeout is short (60 s by default), so a task whose worker died
is back within about that long. While a task runs, a thread beside it in the pool process
extends its message's visibility every VISIBILITY_HEARTBEAT_INTERVAL seconds
(ChangeMessageVisibility to the base timeout again), renews the idempotency lease, and reads
a cancel request in the same DynamoDB write (`renew`, taskqueue.runtime.run_once). The thread dies
with its process, so after a SIGKILL both the visibility and the lease run out; the lease
ends first (taskqueue.runtime.run_once.lease_seconds), and the redelivery takes the claim over.

SQS keeps a received message invisible for 12 hours at most, extensions included; the
settings refuse longer time limits. A failed extension or renewal is logged and tried again
at the next beat: the interval fits twice inside the base visibility (Settings).

A cancel request stops the task softly first: SIGUSR1 to its own process, which
taskqueue.runtime.soft_stop turns into SoftTimeLimitExceeded in the task's own code (not inside an
SDK call, which would swallow it), so its clean-up runs. A task still running
TASK_CANCEL_GRACE seconds later is marked REVOKED and its process killed; the redelivery of
its message finds REVOKED and is dropped.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable
from typing import Any

from taskqueue.runtime.celery_config import aws_client
from taskqueue.settings import Settings
from taskqueue.stores.cancellation import mark_revoked

logger = logging.getLogger(__name__)

_sqs: dict[int, Any] = {}  # one client per process (pool processes are forked)
_sqs_lock = threading.Lock()


def sqs_client(settings: Settings) -> Any:
    """This process's SQS client for extending visibility."""
    with _sqs_lock:
        pid = os.getpid()
        if pid not in _sqs:
            _sqs[pid] = aws_client("sqs", settings)
        return _sqs[pid]


def receipt(request: Any) -> tuple[str, str] | None:
    """(queue URL, receipt handle) of the delivery, as kombu's SQS transport passes them."""
    properties = getattr(request, "properties", None) or {}
    queue_url = (properties.get("delivery_info") or {}).get("sqs_queue")
    handle = properties.get("delivery_tag")
    if not queue_url or not handle:
        return None
    return queue_url, handle


class VisibilityExtension:
    """Keeps one running task's message invisible and its lease live; stops it on cancel."""

    def __init__(self, task: Any, settings: Settings, renew_lease: Callable[[], bool]) -> None:
        self.task = task
        self.renew_lease = renew_lease
        self.task_id: str = task.request.id
        self.settings = settings
        self.receipt = receipt(task.request)
        self.cancelled = False
        self._stopped = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(
            target=self._run, name=f"visibility-{self.task_id}", daemon=True
        )

    def start(self) -> VisibilityExtension:
        self._thread.start()
        return self

    def stop(self) -> None:
        """The body returned or raised: no more beats, no more signals."""
        with self._lock:
            self._stopped.set()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=self.settings.aws_client_read_timeout * 4)

    def _run(self) -> None:
        while not self._stopped.wait(self.settings.visibility_heartbeat_interval):
            if self.beat():
                self._cancel()
                return

    def beat(self) -> bool:
        """Extend the visibility and renew the lease; True when a cancel was requested."""
        if self.receipt is not None:
            queue_url, handle = self.receipt
            try:
                sqs_client(self.settings).change_message_visibility(
                    QueueUrl=queue_url,
                    ReceiptHandle=handle,
                    VisibilityTimeout=self.settings.queue_visibility_timeout,
                )
            except Exception:
                logger.warning("could not extend the visibility of task %s", self.task_id)
        try:
            return self.renew_lease()
        except Exception:
            logger.warning("could not renew the lease of task %s", self.task_id)
            return False

    def _cancel(self) -> None:
        with self._lock:
            if self._stopped.is_set():
                return
            self.cancelled = True
            logger.warning("task %s: cancel requested, stopping it", self.task_id)
            os.kill(os.getpid(), signal.SIGUSR1)  # SoftTimeLimitExceeded in the task
        if self._stopped.wait(self.settings.task_cancel_grace):
            return
        logger.error(
            "task %s did not stop within %gs of its cancel: killing its process",
            self.task_id,
            self.settings.task_cancel_grace,
        )
        try:
            mark_revoked(self.task.app, self.task_id)
        finally:
            os.kill(os.getpid(), signal.SIGKILL)
