"""`taskqueue-worker`: the Celery worker with this service's flags, in this process.

The image's CMD, the Procfile and the test harness all start the worker with this command,
so the flags are written only here. Celery runs in this very process (no child, no shell):
in the image it is PID 1 and gets ECS's SIGTERM itself, which is Celery's warm shutdown
(finish the running tasks, then exit). Extra arguments go to `celery worker`; an `--app=`
among them replaces the app (the bench runs the same worker with task stamps added).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

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
    """Run the `celery` command here, with `celery_argv` of this command's own arguments."""
    sys.argv[1:] = celery_argv(sys.argv[1:])
    # Imported after argv is set: celery's main reads it (e.g. for a pool that patches).
    from celery.__main__ import main as celery_main

    celery_main()
