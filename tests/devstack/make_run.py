"""`make run` as a test starts it: local.env with the test's own ports, make's environment,
and make in a process group of its own (as a terminal gives it)."""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path

import requests
from taskqueue.settings import Settings

from harness.processes import free_port, wait_until
from harness.stack import REPO_ROOT, stack_env


def local_env(work_dir: Path) -> tuple[Path, dict[str, str]]:
    """local.env with this test's own ports and heartbeat file after it (the last one wins)."""
    names = {name.upper() for name in Settings.model_fields}
    names |= {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}
    env = stack_env(free_port(), free_port(), work_dir)
    own = {key: value for key, value in env.items() if key in names}
    path = work_dir / "local.env"
    path.write_text(
        (REPO_ROOT / "local.env").read_text(encoding="utf-8")
        + "\n# this test's stack\n"
        + "".join(f"{key}={shlex.quote(value)}\n" for key, value in own.items()),
        encoding="utf-8",
    )
    return path, own


def make_env() -> dict[str, str]:
    """This environment, with the uv that runs the tests on PATH for make."""
    env = dict(os.environ)
    if "UV" in env:
        env["PATH"] = f"{Path(env['UV']).parent}{os.pathsep}{env['PATH']}"
    return env


def start_make_run(env_file: Path, log: Path) -> subprocess.Popen[bytes]:
    """`make run` with `env_file` as its local.env, its output in `log`, in a session of its
    own (a signal to its process group reaches every process it starts)."""
    with log.open("wb") as output:
        return subprocess.Popen(
            ["make", "--no-print-directory", "run", f"LOCAL_ENV={env_file}"],
            cwd=REPO_ROOT,
            env=make_env(),
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def wait_for_make_run(web_url: str, env: dict[str, str], log: Path) -> None:
    """Until the web answers /healthz and the worker beats; AssertionError with the end of
    make's output if not in time."""
    try:
        wait_until(lambda: requests.get(f"{web_url}/healthz", timeout=1).ok, 120, "/healthz")
        wait_until(Path(env["WORKER_HEARTBEAT_FILE"]).exists, 60, "the worker's heartbeat")
    except AssertionError as error:
        raise AssertionError(f"{error}\n{log.read_text(errors='replace')[-4000:]}") from None
