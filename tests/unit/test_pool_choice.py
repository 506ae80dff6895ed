"""The worker runs prefork only; another pool is refused with the reason (pool_choice)."""

from __future__ import annotations

import pytest
from celery.concurrency.prefork import TaskPool as PreforkPool
from celery.concurrency.thread import TaskPool as ThreadPool
from worker_service.pool_choice import refusal


@pytest.mark.parametrize("pool", ["prefork", "processes", PreforkPool])
def test_the_prefork_pool_is_accepted(pool: type | str) -> None:
    assert refusal(pool) is None


@pytest.mark.parametrize(
    ("pool", "name"),
    [("threads", "threads"), (ThreadPool, "threads"), ("solo", "solo"), ("gevent", "gevent")],
)
def test_another_pool_is_refused_by_name_with_the_reason(pool: type | str, name: str) -> None:
    reason = refusal(pool)

    assert reason is not None
    assert f"prefork pool only, not {name!r}" in reason
    assert "time limits" in reason and "WORKER_CONCURRENCY" in reason
