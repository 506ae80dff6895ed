"""Every task runs inside the Flask app context, in a real worker (README's design point 2).

The worker also loads `tests.e2e.flask_context_probe` (`celery worker --include`), a task
that reports the class of every task registered in the worker.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from taskqueue.catalogue.registry import TASKS

from harness.processes import wait_until
from harness.stack import REPO_ROOT, LocalStack, running
from tests.e2e.conftest import producer

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """moto, the web, and a worker that also has the probe task."""
    with running(tmp_path_factory.mktemp("flask-context"), worker=False) as local:
        local.start_worker(
            args=["--include=tests.e2e.flask_context_probe"], PYTHONPATH=str(REPO_ROOT)
        )
        yield local


def test_a_shipped_task_that_reads_current_app_succeeds(stack: LocalStack) -> None:
    # queue_report reads its settings from flask.current_app.
    task_id = stack.api().enqueue("queue_report")

    wait_until(
        lambda: stack.api().state(task_id) in {"SUCCESS", "FAILURE"}, 30, f"{task_id} to end"
    )

    status = stack.api().status(task_id)
    assert status["state"] == "SUCCESS", status
    assert set(status["result"]) == {"tasks", "dead_letter"}


def test_every_task_registered_in_the_worker_is_a_flask_context_task(
    stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    probe = producer(stack, monkeypatch, "flask-context-test").send_task("flask_context_probe")

    classes: dict[str, list[str]] = probe.get(timeout=60)

    # Every task of the catalogue is there (the check cannot pass by finding nothing).
    assert set(TASKS) | {"flask_context_probe"} <= set(classes)
    outside = {name: mro for name, mro in classes.items() if "FlaskContextTask" not in mro}
    assert outside == {}
