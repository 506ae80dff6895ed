"""A bounded concurrent load generator: N calls over C threads, with a deadline.

The bench times enqueue and send throughput with it; the load fault test runs its
closed-loop HTTP clients on it (`tests/faults/load_support.py`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

SETUP_TIMEOUT_S = 60


@dataclass(frozen=True)
class LoadResult:
    """How many calls succeeded, each failure, the wall time, and threads still running."""

    ok: int
    failed: int
    elapsed_s: float
    errors: list[str]
    hung: int = 0

    @property
    def per_s(self) -> float:
        return self.ok / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def first_error(self) -> str | None:
        return self.errors[0] if self.errors else None


def run_load(
    total: int,
    concurrency: int,
    make_context: Callable[[], Any],
    call: Callable[[Any, int], None],
    deadline_s: float,
    grace_s: float = 30.0,
) -> LoadResult:
    """Run `call(context, i)` for i in range(total) on `concurrency` threads.

    Each thread builds its own context first (an HTTP session, an SDK client), so the timing
    covers the calls only. A thread stops at the deadline even if calls remain; a call still
    running then has `grace_s` to end before its thread counts as hung. Every exception a
    call raises is counted as a failure, none stops the other calls.
    """
    lock = threading.Lock()
    next_index = 0
    ok = failed = 0
    errors: list[str] = []
    ready = threading.Barrier(concurrency + 1)
    stop_at = time.monotonic() + deadline_s  # covers the threads' setup too

    def worker() -> None:
        nonlocal next_index, ok, failed
        try:
            context = make_context()
        except Exception:
            ready.abort()  # the run fails (BrokenBarrierError) instead of waiting forever
            raise
        ready.wait(SETUP_TIMEOUT_S)
        while time.monotonic() < stop_at:
            with lock:
                if next_index >= total:
                    return
                index = next_index
                next_index += 1
            try:
                call(context, index)
            except Exception as error:
                with lock:
                    failed += 1
                    errors.append(f"{type(error).__name__}: {error}")
            else:
                with lock:
                    ok += 1

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    ready.wait(SETUP_TIMEOUT_S)
    started = time.monotonic()
    for thread in threads:
        thread.join(max(0.0, stop_at - time.monotonic()) + grace_s)
    elapsed = time.monotonic() - started
    hung = sum(thread.is_alive() for thread in threads)
    with lock:
        return LoadResult(ok=ok, failed=failed, elapsed_s=elapsed, errors=list(errors), hung=hung)
