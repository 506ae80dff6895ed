"""`make bench` stopped half-way: SIGTERM (twice, as `uv run` passes it on) stops its stack."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.processes import wait_until
from harness.stack import REPO_ROOT
from tests.harness.process_tree import descendants, kill_group, survivors


@pytest.mark.e2e
@pytest.mark.timeout(180)
def test_a_terminated_bench_leaves_no_process_of_its_stack(tmp_path: Path) -> None:
    argv = [sys.executable, "-m", "bench.run", "--quick", "--out", str(tmp_path)]
    argv += ["--work-dir", str(tmp_path / "work")]
    with subprocess.Popen(
        argv,
        cwd=REPO_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    ) as bench:
        try:
            assert bench.stderr is not None
            progress = ""
            while "pickup of" not in progress:  # moto and the web are up, a worker starts
                line = bench.stderr.readline()
                assert line, f"the bench ended early:\n{progress[-4000:]}"
                progress += line

            def a_worker_runs() -> bool:
                return any("celery" in " ".join(p.cmdline()) for p in descendants(bench.pid))

            wait_until(a_worker_runs, 60, "the bench's worker")
            tree = descendants(bench.pid)

            bench.send_signal(signal.SIGTERM)
            time.sleep(0.3)  # the second one lands while the stack is being stopped
            bench.send_signal(signal.SIGTERM)
            bench.wait(60)

            assert not survivors(tree, timeout=10)
            assert bench.returncode == 128 + signal.SIGTERM
        finally:
            kill_group(bench.pid)
