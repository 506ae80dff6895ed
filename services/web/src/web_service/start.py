"""`taskqueue-web`: gunicorn serving the web app, with this service's flags.

The image's CMD, the Procfile and the test harness all start the web with this command, so
the flags are written only here. It execs `gunicorn` (no child, no shell): the process keeps
its PID, so in the image gunicorn's arbiter is PID 1 and gets ECS's SIGTERM itself, which
starts its graceful stop. An exec, not a call: gunicorn re-executes its own argv on USR2,
which must be `gunicorn ...`, not this command. Extra arguments go to gunicorn before the
app (they override the config module's settings).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

# Every setting lives in the config module; it reads the same Settings as the app.
CONFIG = "python:web_service.gunicorn_conf"
APP = "web_service.wsgi:app"


def gunicorn_argv(extra: Sequence[str] = ()) -> list[str]:
    """gunicorn's arguments: the config module, `extra`, then the app."""
    return ["--config", CONFIG, *extra, APP]


def main() -> None:
    """Become `gunicorn` (same PID) with `gunicorn_argv` of this command's own arguments."""
    gunicorn = Path(sys.executable).with_name("gunicorn")  # beside this environment's python
    os.execv(gunicorn, [str(gunicorn), *gunicorn_argv(sys.argv[1:])])
