"""Scale-in protection: a worker task that runs any task keeps ECS from stopping it.

ECS stops a service's tasks on scale-in and during a deployment; a protected task is left
alone (aws-cdk #9242: a busy worker stopped mid-task). While any task is received or
running, this thread in the worker's main process keeps the protection on through the ECS
agent (`PUT $ECS_AGENT_URI/task-protection/v1/state`), renewed every
TASK_PROTECTION_RENEWAL seconds with TASK_PROTECTION_MINUTES to run, so a worker that dies
busy is unprotected again within minutes; when the worker is idle it turns the protection
off at once, so autoscaling can remove it. Without ECS_AGENT_URI (locally) it does nothing.

A failing or hanging agent is logged and tried again; the calls have short timeouts and
run on this thread only, never on a task's, so they never delay or fail a task.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.request
from collections.abc import Callable

from celery.worker import state as worker_state
from taskqueue.settings import Settings

logger = logging.getLogger(__name__)

PATH = "/task-protection/v1/state"
# Seconds between looks at whether the worker is busy, and to wait for the agent.
POLL_SECONDS = 0.5
AGENT_TIMEOUT_SECONDS = 2.0
# Seconds before a failed call is tried again.
RETRY_SECONDS = 5.0


def busy() -> bool:
    """The worker holds a task: received (waiting for a pool process) or running."""
    return bool(worker_state.reserved_requests)


class ScaleInProtection:
    """Keeps the ECS task protected while `is_busy()`, and unprotected while idle."""

    def __init__(
        self, agent_uri: str, settings: Settings, is_busy: Callable[[], bool] = busy
    ) -> None:
        self.url = agent_uri.rstrip("/") + PATH
        self.minutes = settings.task_protection_minutes
        self.renewal = settings.task_protection_renewal
        self.is_busy = is_busy
        self.protected = False
        self._renew_at = 0.0  # monotonic times: the next renewal, the next try after a failure
        self._retry_at = 0.0
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="scale-in-protection", daemon=True)

    def start(self) -> ScaleInProtection:
        self._thread.start()
        logger.info("scale-in protection through %s while busy", self.url)
        return self

    def stop(self) -> None:
        """No more calls; a protection still on is released (the worker is stopping)."""
        self._stopped.set()
        self._thread.join(timeout=AGENT_TIMEOUT_SECONDS * 2)
        if self.protected:
            self._put(False)

    def _run(self) -> None:
        while not self._stopped.wait(POLL_SECONDS):
            self.step(time.monotonic())

    def step(self, now: float) -> None:
        """Protect, renew or release, as the worker's state and the clock say."""
        wanted = self.is_busy()
        due = (not self.protected or now >= self._renew_at) if wanted else self.protected
        if not due or now < self._retry_at:
            return
        if self._put(wanted):
            self.protected = wanted
            self._renew_at = now + self.renewal
        else:
            self._retry_at = now + RETRY_SECONDS

    def _put(self, enabled: bool) -> bool:
        body: dict[str, object] = {"ProtectionEnabled": enabled}
        if enabled:
            body["ExpiresInMinutes"] = self.minutes
        request = urllib.request.Request(
            self.url,
            data=json.dumps(body).encode(),
            method="PUT",
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=AGENT_TIMEOUT_SECONDS) as response:
                response.read()
        except Exception as error:  # the task goes on: protection is best effort
            logger.warning("scale-in protection %s failed: %s", "on" if enabled else "off", error)
            return False
        logger.info("scale-in protection %s", "on" if enabled else "off")
        return True
