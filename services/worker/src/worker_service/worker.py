"""The worker's Celery app, as in the seed: `celery --app=worker_service.worker:celery worker`.

It builds the Flask app with the shared factory and configures the placeholder, so every
task runs inside the Flask app context; the worker deploys and scales apart from the web.
"""

from __future__ import annotations

import gc
import logging
from typing import Any

from celery import Celery, signals
from flask import Flask
from taskqueue.app_settings import settings_of
from taskqueue.catalogue.registry import unregister_withheld
from taskqueue.factory import configure_celery, consumed_queue, create_flask_app
from taskqueue.runtime.logs import configure_logging, log_queue

from worker_service.dead_letter_sweep import DeadLetterSweep
from worker_service.liveness_file import LivenessFile
from worker_service.pool_choice import refusal
from worker_service.presence_writer import Presence
from worker_service.protection import ScaleInProtection
from worker_service.run_metrics import RunMetrics
from worker_service.shutdown import hand_back_long_tasks

logger = logging.getLogger(__name__)

app: Flask = create_flask_app(__name__)
celery: Celery = configure_celery(app)
# One worker process polls one queue (WORKER_QUEUE): kombu's SQS transport polls several
# queues one after another, each long poll up to 20 s, so a quick queue would wait on a slow
# one's empty polls. Each queue has its own workers instead (README "Add a queue").
queue = consumed_queue(settings_of(app))
celery.amqp.queues.select([queue.name])
log_queue(queue.queue)
logger.info("consuming queue %s (%s)", queue.queue, queue.name)
# A task this deployment does not offer (a diagnostic one, DIAGNOSTIC_TASKS off) is not
# registered, so a message crafted for it is refused unrun.
if withheld := unregister_withheld(settings_of(app)):
    logger.info("not offered here (DIAGNOSTIC_TASKS off): %s", ", ".join(withheld))
celery.steps["consumer"].add(LivenessFile)
# One CloudWatch metrics record (EMF) per task run, in the log (worker_service.run_metrics).
if settings_of(app).task_metrics:
    RunMetrics(settings_of(app).metrics_namespace).connect()


@signals.setup_logging.connect
def _json_logging(**_: Any) -> None:
    """Keep the project's JSON logging instead of Celery's own handlers."""
    configure_logging(settings_of(app).log_level)


@signals.worker_init.connect
def refuse_other_pools(sender: Any = None, **_: Any) -> None:
    """Refuse to start on a pool other than prefork (`--pool`, `worker_pool`): the worker's
    guarantees need a process per task (worker_service.pool_choice)."""
    reason = refusal(sender.pool_cls)
    if reason is not None:
        logger.error("refusing to start: %s", reason)
        # SystemExit, not an Exception: Celery only logs what a signal receiver raises.
        raise SystemExit(f"taskqueue-worker: {reason}")


@signals.worker_init.connect
def _share_memory_with_the_pool(**_: Any) -> None:
    """Before the prefork pool forks: load what every pool process needs, then freeze it.

    The result backend's client (its SDK service model, a few MB) is made here once and
    inherited, instead of once per pool process; `gc.freeze` keeps the collector from
    writing to inherited objects, so their pages stay shared instead of being copied.
    No request is made, so no connection is inherited.
    """
    celery.backend.client  # noqa: B018 (made and cached on first access)
    gc.collect()
    gc.freeze()


_protection: list[ScaleInProtection] = []
_presence: list[Presence] = []
_sweep: list[DeadLetterSweep] = []


@signals.worker_ready.connect
def _protect_while_busy(**_: Any) -> None:
    """On ECS (ECS_AGENT_URI set), keep the task protected from scale-in while it is busy.

    Started once the pool has forked, so the pool processes do not inherit the thread.
    """
    agent_uri = settings_of(app).ecs_agent_uri
    if agent_uri:
        _protection.append(ScaleInProtection(agent_uri, settings_of(app)).start())


@signals.worker_ready.connect
def _write_presence(**_: Any) -> None:
    """Record this worker for GET /workers (after the fork, as the protection)."""
    _presence.append(Presence(celery).start())


@signals.worker_ready.connect
def _sweep_dead_letters(**_: Any) -> None:
    """Record the tasks found in the DLQ that no run saw end (after the fork, as above)."""
    _sweep.append(DeadLetterSweep(celery).start())


@signals.worker_shutdown.connect
def _stop_sweeping(**_: Any) -> None:
    """The worker stops: no more looks into the DLQ."""
    while _sweep:
        _sweep.pop().stop()


@signals.worker_shutdown.connect
def _release_protection(**_: Any) -> None:
    """The worker stops: release the protection it may hold."""
    while _protection:
        _protection.pop().stop()


@signals.worker_shutdown.connect
def _retire_presence(**_: Any) -> None:
    """The worker stops (its running tasks finished): out of GET /workers at once."""
    while _presence:
        _presence.pop().stop()


@signals.worker_shutting_down.connect
def _hand_back_long_tasks(**_: Any) -> None:
    """SIGTERM: tasks that may not finish within the soft shutdown go back to the queue now."""
    for task_id in hand_back_long_tasks(settings_of(app)):
        logger.warning("task %s may not finish before the worker stops: handed back", task_id)
