"""`make run`: the local stack starts, and a signal to make's process group stops all of it."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from devstack.procfile import read_procfile
from harness.stack import REPO_ROOT
from tests.devstack.make_run import local_env, start_make_run, wait_for_make_run
from tests.harness.process_tree import descendants, kill_group, survivors


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
    make = start_make_run(env_file, log)
    try:
        wait_for_make_run(web_url, env, log)
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
