"""`taskqueue-worker`: the Celery worker with this service's flags.

The image's CMD, the Procfile and the test harness all start the worker with this command,
so the flags are written only here. It execs `celery` (no child, no shell): the process keeps
its PID, so in the image Celery is PID 1 and gets ECS's SIGTERM itself, which is its warm
shutdown (finish the running tasks, then exit). An exec, not a call: Celery restarts itself
on SIGHUP by running its own argv again, which must be `celery ...`, not this command.
Extra arguments go to `celery worker`; an `--app=` among them replaces the app (the bench
runs the same worker with task stamps added).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

APP = "worker_service.worker:celery"
# SQS has no broadcast: gossip, mingle and worker heartbeats are remote-control events that
# would only add polling for messages that never come.
WORKER_FLAGS = ("--loglevel=INFO", "--without-gossip", "--without-mingle", "--without-heartbeat")


def celery_argv(extra: Sequence[str] = ()) -> list[str]:
    """`celery`'s arguments: the app, `worker`, this service's flags, then `extra`."""
    app = APP
    rest: list[str] = []
    for arg in extra:
        if arg.startswith("--app="):
            app = arg.removeprefix("--app=")
        else:
            rest.append(arg)
    return [f"--app={app}", "worker", *WORKER_FLAGS, *rest]


def main() -> None:
    """Become `celery` (same PID) with `celery_argv` of this command's own arguments."""
    celery = Path(sys.executable).with_name("celery")  # installed beside this environment's python
    os.execv(celery, [str(celery), *celery_argv(sys.argv[1:])])
