"""`python -m devstack.local_scheduler`: `make run`'s stand-in for EventBridge Scheduler.

It fires every declared schedule (taskqueue.catalogue.schedules) at its times, sending the message
the CDK app gives Scheduler (the same template, so the same task ids) to the local task queue with
SendMessage. It keeps no state: a fire missed while it was stopped is not sent later, as
Scheduler with its flexible window off would not either. On AWS nothing of this runs.

`--also MODULE` imports a module that declares more schedules first (a test's rate(1 minute)).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import signal
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from types import FrameType
from typing import Any

import boto3
from taskqueue.catalogue.schedules import Schedule, fire_message, task_id
from taskqueue.factory import declared_schedules
from taskqueue.runtime.logs import configure_logging
from taskqueue.settings import Settings, get_settings

logger = logging.getLogger("devstack.local_scheduler")

# Longest sleep between looks at the clock: a suspended laptop wakes up to a late fire soon.
MAX_SLEEP_SECONDS = 30.0


def fire(sqs: Any, settings: Settings, declared_schedule: Schedule, scheduled: datetime) -> str:
    """Send one fire of `declared_schedule` for `scheduled` to its task's queue; its task id."""
    queue = settings.queue_address(declared_schedule.spec.queue)
    template = declared_schedule.message_template(queue.name)
    sqs.send_message(QueueUrl=queue.url, MessageBody=fire_message(template, scheduled))
    return task_id(declared_schedule.name, scheduled)


def run(
    schedules: Mapping[str, Schedule],
    settings: Settings,
    sqs: Any,
    stop: threading.Event,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> None:
    """Fire each schedule at each of its times until `stop` is set."""
    upcoming = {
        name: declared_schedule.next_fire(now()) for name, declared_schedule in schedules.items()
    }
    for name, when in sorted(upcoming.items()):
        logger.info("%s (%s): next fire %s", name, schedules[name].expression, when.isoformat())
    while upcoming and not stop.is_set():
        name, when = min(upcoming.items(), key=lambda item: item[1])
        wait = (when - now()).total_seconds()
        if wait > 0:
            stop.wait(min(wait, MAX_SLEEP_SECONDS))
            continue
        try:
            fired = fire(sqs, settings, schedules[name], when)
        except Exception:  # the local endpoint restarting: this fire is lost, as on AWS
            logger.exception("could not fire %s for %s", name, when.isoformat())
        else:
            logger.info("fired %s for %s", name, when.isoformat(), extra={"task_id": fired})
        upcoming[name] = schedules[name].next_fire(when)


def main(argv: list[str] | None = None) -> None:
    """Fire the declared schedules against the local queue until SIGTERM or Ctrl-C."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--also", action="append", default=[], metavar="MODULE")
    args = parser.parse_args(argv)
    settings = get_settings()
    configure_logging(settings.log_level)
    schedules = declared_schedules()
    for module in args.also:
        importlib.import_module(module)
    stop = threading.Event()

    def stop_on(signum: int, frame: FrameType | None) -> None:
        stop.set()

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, stop_on)
    sqs = boto3.client(
        "sqs", region_name=settings.aws_region, endpoint_url=settings.aws_endpoint_url
    )
    run(schedules, settings, sqs, stop)


if __name__ == "__main__":
    main()
