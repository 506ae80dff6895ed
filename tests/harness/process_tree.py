"""What a test needs to see that a stopped program left no process behind."""

from __future__ import annotations

import contextlib
import os
import signal

import psutil


def descendants(pid: int) -> list[psutil.Process]:
    """Every live descendant of `pid` (in any session: the harness starts its own)."""
    return psutil.Process(pid).children(recursive=True)


def survivors(processes: list[psutil.Process], timeout: float) -> list[str]:
    """Those of `processes` still alive after `timeout` seconds, killed and described."""
    _, alive = psutil.wait_procs(processes, timeout=timeout)
    described = []
    for process in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            described.append(f"{process.pid} {' '.join(process.cmdline())}")
            process.kill()
    return described


def kill_group(pgid: int) -> None:
    """SIGKILL what is left of a process group (a test's clean-up)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)
