"""Fixtures shared by every test package."""

import pytest
from taskqueue.factory import load_diagnostic_tasks, load_tasks

# The catalogue of every test stack (DIAGNOSTIC_TASKS on, harness.stack): the shipped tasks and
# the diagnostic ones, loaded before any test module is imported, as the composition root loads
# them in a process (some modules name tasks and schedules at import, to parametrize).
load_tasks()
load_diagnostic_tasks()


# `make test` runs the tests in two processes (pytest-xdist, --dist loadgroup): each module
# stays in one process, so a stack its module shares starts once. Three sets stay whole:
# the container tests (images and the rehearsal share podman's image tags and container
# names) and the template tests (one synth per session, tests/infra/conftest.py).
WHOLE_SETS = {"tests/images": "containers", "tests/rehearsal": "containers", "tests/infra": "infra"}


def xdist_group(item: pytest.Item) -> str:
    """The set `item` runs in: its directory's if that stays whole, else its module."""
    module = item.nodeid.split("::", 1)[0]
    return next(
        (group for path, group in WHOLE_SETS.items() if module.startswith(f"{path}/")), module
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        item.add_marker(pytest.mark.xdist_group(xdist_group(item)))
