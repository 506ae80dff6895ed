"""The harness stops every process it started, also when its program is interrupted."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.stack import REPO_ROOT
from tests.harness.process_tree import descendants, kill_group, survivors

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(150)]


@pytest.mark.parametrize(
    ("signum", "times"),
    [(signal.SIGTERM, 1), (signal.SIGTERM, 2), (signal.SIGHUP, 2)],
    # Twice: `uv run` passes a signal to its process group on to its child once more.
    ids=["SIGTERM", "SIGTERM-twice", "SIGHUP-twice"],
)
def test_a_signalled_program_leaves_no_process_of_its_stack(
    tmp_path: Path, signum: int, times: int
) -> None:
    with subprocess.Popen(
        [sys.executable, "-m", "tests.harness.stack_script", str(tmp_path)],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    ) as program:
        try:
            assert program.stdout is not None
            first = program.stdout.readline()
            assert first == "ready\n", first + program.stdout.read()[-4000:]
            tree = descendants(program.pid)
            assert len(tree) >= 3, "moto, the worker and the web"

            for _ in range(times):
                program.send_signal(signum)
                time.sleep(0.3)
            program.wait(60)

            assert not survivors(tree, timeout=10)
            assert program.returncode != 0
        finally:
            kill_group(program.pid)
