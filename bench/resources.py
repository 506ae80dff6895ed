"""CPU time and memory of a process and its children (psutil)."""

from __future__ import annotations

import contextlib

import psutil

MB = 1024 * 1024


def process_tree(pid: int) -> list[psutil.Process]:
    """The process and every live descendant (a worker's pool, gunicorn's workers)."""
    parent = psutil.Process(pid)
    return [parent, *parent.children(recursive=True)]


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of the process and its live descendants."""
    total = 0.0
    for process in process_tree(pid):
        with contextlib.suppress(psutil.NoSuchProcess):
            times = process.cpu_times()
            total += times.user + times.system
    return total


def rss_mb(process: psutil.Process) -> float:
    """Resident set size in MB."""
    return float(process.memory_info().rss) / MB


def pss_mb(process: psutil.Process) -> float | None:
    """Proportional set size in MB (shared pages split between sharers); None if unreadable."""
    try:
        return float(process.memory_full_info().pss) / MB
    except (psutil.AccessDenied, AttributeError):
        return None


def tree_rss_mb(pid: int) -> float:
    """RSS of the process plus every descendant (pages shared after fork count in each)."""
    return sum(rss_mb(p) for p in process_tree(pid))


def tree_pss_mb(pid: int) -> float | None:
    """PSS of the process plus every descendant (shared pages counted once in total)."""
    values = [pss_mb(p) for p in process_tree(pid)]
    return None if any(v is None for v in values) else sum(v for v in values if v is not None)


def children_rss_mb(pid: int) -> list[float]:
    """RSS of each direct child (one figure per gunicorn worker)."""
    return [rss_mb(child) for child in psutil.Process(pid).children()]
