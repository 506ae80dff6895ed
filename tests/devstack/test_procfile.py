"""`make run`: the local stack starts, and a signal to make's process group stops all of it."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
from pathlib import Path

import pytest
import requests
from taskqueue.settings import Settings

from devstack.procfile import read_procfile
from harness.processes import free_port, wait_until
from harness.stack import REPO_ROOT, stack_env
from tests.harness.process_tree import descendants, kill_group, survivors


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


def test_procfile_lines_are_commands() -> None:
    entries = read_procfile(REPO_ROOT / "Procfile")

    assert set(entries) == {"aws", "worker", "web", "scheduler"}
    assert entries["worker"][-1] == "taskqueue-worker"
    assert entries["web"][-1] == "taskqueue-web"


@pytest.mark.e2e
@pytest.mark.timeout(180)
@pytest.mark.parametrize(
    "signum",
    # Ctrl-C, `kill -TERM -<pgid>`, the terminal closing, and a kill no program can handle.
    [signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGKILL],
    ids=lambda signum: signal.Signals(signum).name,
)
def test_a_signal_to_make_run_s_process_group_stops_every_process(
    tmp_path: Path, signum: int
) -> None:
    env_file, env = local_env(tmp_path)
    web_url = f"http://{env['WEB_BIND']}"
    log = tmp_path / "make-run.log"
    with log.open("wb") as output:
        make = subprocess.Popen(
            ["make", "--no-print-directory", "run", f"LOCAL_ENV={env_file}"],
            cwd=REPO_ROOT,
            env=make_env(),
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a process group of its own, as a terminal gives it
        )
    try:
        try:
            wait_until(lambda: requests.get(f"{web_url}/healthz", timeout=1).ok, 120, "/healthz")
            wait_until(Path(env["WORKER_HEARTBEAT_FILE"]).exists, 60, "the worker's heartbeat")
        except AssertionError as error:
            raise AssertionError(f"{error}\n{log.read_text(errors='replace')[-4000:]}") from None
        tree = descendants(make.pid)
        commands = [" ".join(process.cmdline()) for process in tree]
        for program in ("devstack.local_aws", "bin/celery", "bin/gunicorn"):
            assert any(program in command for command in commands), commands

        os.killpg(make.pid, signum)
        make.wait(60)

        left = survivors(tree, timeout=30)
        assert not left, f"{left}\n{log.read_text(errors='replace')[-3000:]}"
    finally:
        kill_group(make.pid)
