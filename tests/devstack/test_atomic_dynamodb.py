"""The local endpoints keep DynamoDB's per-item atomicity: of two run-once claims of one task
sent at the same moment, never both succeed (devstack.atomic_dynamodb).

Both servers the project starts are tried: `make run`'s and the tests' (devstack.local_aws)
and the rehearsal's (rehearsal.endpoint). Each trial is a new task id claimed by two
threads released together, each with its own warm connection, sending the claim's own
conditional UpdateItem (taskqueue.runtime.run_once.claim).
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from celery import Celery
from celery.exceptions import Reject
from taskqueue.bootstrap import create_results_table
from taskqueue.runtime.run_once import claim

from harness.processes import start, wait_until
from harness.stack import LocalStack
from tests.e2e.conftest import producer

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(60)]

TRIALS = 100
LEASE_SECONDS = 60.0


@pytest.fixture(params=["devstack.local_aws", "rehearsal.endpoint"])
def stack(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LocalStack]:
    """A stack whose endpoint is one of the project's moto servers, with the results table."""
    local = LocalStack(work_dir=tmp_path)
    try:
        if request.param == "devstack.local_aws":
            local.start_aws()
        else:
            argv = [sys.executable, "-m", "rehearsal.endpoint", str(local.aws_port)]
            server = start("aws", argv, local.env, tmp_path)
            local.processes.append(server)
            dynamodb = local.client("dynamodb")
            wait_until(lambda: bool(dynamodb.list_tables()), 30, "the rehearsal's endpoint", server)
            create_results_table(local.settings, dynamodb)
        yield local
    finally:
        local.stop()


def wins_per_trial(app: Celery, trials: int) -> list[int]:
    """How many of two simultaneous claims through `app`'s result backend (the stack's table,
    as a worker's claim) succeeded, for each trial."""
    start_together = threading.Barrier(2, timeout=20)
    won = [[False] * trials for _ in range(2)]
    failures: list[BaseException] = []

    def claim_each_task(racer: int) -> None:
        try:
            backend = app.backend  # one per thread: its own client and connection
            backend.client.describe_table(TableName=backend.table_name)  # warm
            for trial in range(trials):
                task = SimpleNamespace(
                    app=app,
                    request=SimpleNamespace(id=f"race-{trial}", hostname=f"racer{racer}"),
                    name="noop",
                )
                start_together.wait()
                try:
                    claim(task, LEASE_SECONDS)
                    won[racer][trial] = True
                except Reject:
                    pass
        except BaseException as error:
            failures.append(error)
            start_together.abort()

    racers = [threading.Thread(target=claim_each_task, args=(racer,)) for racer in (0, 1)]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join()
    assert not failures, failures
    return [int(first) + int(second) for first, second in zip(*won, strict=True)]


def test_two_claims_at_the_same_moment_never_both_succeed(
    stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    wins = wins_per_trial(producer(stack, monkeypatch, "claimant"), TRIALS)

    assert wins.count(0) == 0  # each task was claimed by one of them
    assert [trial for trial, won in enumerate(wins) if won > 1] == []
