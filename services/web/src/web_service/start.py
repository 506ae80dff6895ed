"""`taskqueue-web`: gunicorn serving the web app, with this service's flags, in this process.

The image's CMD, the Procfile and the test harness all start the web with this command, so
the flags are written only here. gunicorn runs in this very process (no child, no shell):
in the image it is PID 1 and gets ECS's SIGTERM itself, which starts its graceful stop.
Extra arguments go to gunicorn before the app (they override the config file's settings).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

# Every setting lives in the config module; it reads the same Settings as the app.
CONFIG = "python:web_service.gunicorn_conf"
APP = "web_service.wsgi:app"


def gunicorn_argv(extra: Sequence[str] = ()) -> list[str]:
    """gunicorn's arguments: the config module, `extra`, then the app."""
    return ["--config", CONFIG, *extra, APP]


def main() -> None:
    """Run gunicorn's arbiter here, with `gunicorn_argv` and this command's own arguments."""
    from gunicorn.app.wsgiapp import run

    sys.argv[1:] = gunicorn_argv(sys.argv[1:])
    run(prog="taskqueue-web")
