"""A bounded concurrent load generator: N calls over C threads, with a deadline."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

SETUP_TIMEOUT_S = 60


@dataclass(frozen=True)
class LoadResult:
    """How many calls succeeded, how many failed, and the wall time they took."""

    ok: int
    failed: int
    elapsed_s: float
    first_error: str | None

    @property
    def per_s(self) -> float:
        return self.ok / self.elapsed_s if self.elapsed_s > 0 else 0.0


def run_load(
    total: int,
    concurrency: int,
    make_context: Callable[[], Any],
    call: Callable[[Any, int], None],
    deadline_s: float,
) -> LoadResult:
    """Run `call(context, i)` for i in range(total) on `concurrency` threads.

    Each thread builds its own context first (an HTTP session, an SDK client), so the timing
    covers the calls only. A thread stops at the deadline even if calls remain.
    """
    lock = threading.Lock()
    next_index = 0
    ok = failed = 0
    first_error: str | None = None
    ready = threading.Barrier(concurrency + 1)
    stop_at = time.monotonic() + deadline_s  # covers the threads' setup too

    def worker() -> None:
        nonlocal next_index, ok, failed, first_error
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
                    first_error = first_error or repr(error)
            else:
                with lock:
                    ok += 1

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    ready.wait(SETUP_TIMEOUT_S)
    started = time.monotonic()
    for thread in threads:
        thread.join(max(0.0, stop_at - time.monotonic()) + 30)
    elapsed = time.monotonic() - started
    return LoadResult(ok=ok, failed=failed, elapsed_s=elapsed, first_error=first_error)
