"""End-to-end fixtures: each starts real processes and stops them by PID afterwards."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from celery import Celery
from taskqueue.runtime.celery_config import celery_config
from taskqueue_cli.api import TaskApi

from harness.stack import LocalStack, running


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[LocalStack]:
    """A local stack with nothing started; the test starts what it needs."""
    local = LocalStack(work_dir=tmp_path)
    try:
        yield local
    finally:
        local.stop()


@pytest.fixture(scope="module")
def running_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """moto server, a worker and the web, shared by the tests of one module."""
    with running(tmp_path_factory.mktemp("stack")) as local:
        yield local


@pytest.fixture
def api(stack: LocalStack) -> TaskApi:
    """The web API of `stack` (it answers once the test started the web)."""
    return stack.api()


@pytest.fixture
def running_api(running_stack: LocalStack) -> TaskApi:
    """The web API of `running_stack`."""
    return running_stack.api()


def producer(stack: LocalStack, monkeypatch: pytest.MonkeyPatch, name: str) -> Celery:
    """A Celery app of `stack`'s queue and table, as Python code sending tasks (or reading
    results) has one; the stack's credentials in this process's environment for the test."""
    for variable in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(variable, stack.env[variable])
    app = Celery(name)
    app.conf.update(celery_config(stack.settings))
    return app
