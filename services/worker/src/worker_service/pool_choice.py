"""The worker runs Celery's prefork pool only: another pool is refused at start.

The worker's guarantees need a process per running task: time limits (billiard's timers in
the prefork pool), a cancel's soft stop and its kill (SIGUSR1, then SIGKILL, to the task's own
process), SIGTERM's hand-back (SIGKILL to the pool process of a task that may not finish) and a
crash that takes one task down, not the worker. Celery's other pools run every task in the
worker's own process, where none of these hold: measured with the thread pool in
bench/README.md ("Worker pool: prefork or threads").
"""

from __future__ import annotations

from celery.concurrency import ALIASES
from celery.concurrency.prefork import TaskPool as PreforkPool

PREFORK = "prefork"


def pool_name(pool_cls: type | str) -> str:
    """The pool's name as `--pool` takes it (a class the CLI resolved, or a name or path)."""
    if isinstance(pool_cls, str):
        return pool_cls
    target = f"{pool_cls.__module__}:{pool_cls.__qualname__}"
    return next((alias for alias, path in ALIASES.items() if path == target), target)


def refusal(pool_cls: type | str) -> str | None:
    """Why the worker refuses to run on `pool_cls`; None for the prefork pool."""
    if isinstance(pool_cls, type) and issubclass(pool_cls, PreforkPool):
        return None
    name = pool_name(pool_cls)
    if ALIASES.get(name, name) == ALIASES[PREFORK]:
        return None
    return (
        f"the worker runs Celery's prefork pool only, not {name!r}: time limits, the cancel "
        "of a running task and SIGTERM's hand-back need a process per running task (for "
        "I/O-bound tasks raise the queue's WORKER_CONCURRENCY instead; bench/README.md, "
        "'Worker pool: prefork or threads')"
    )
