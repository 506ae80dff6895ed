"""Fixtures shared by every test package."""

from typing import Any

import pytest
from taskqueue.factory import load_diagnostic_tasks, load_tasks

# The catalogue of every test stack (DIAGNOSTIC_TASKS on, harness.stack): the shipped tasks and
# the diagnostic ones, loaded before any test module is imported, as the composition root loads
# them in a process (some modules name tasks and schedules at import, to parametrize).
load_tasks()
load_diagnostic_tasks()


# `make test` runs the tests in two processes (pytest-xdist): each module stays whole in one
# process, so a stack its module shares starts once. Three sets stay whole too: the container
# tests (images and the rehearsal share podman's image tags and container names) and the
# template tests (one synth per session, tests/infra/conftest.py).
WHOLE_SETS = {"tests/images": "containers", "tests/rehearsal": "containers", "tests/infra": "infra"}


def run_set(nodeid: str) -> str:
    """The set the test `nodeid` runs in: its directory's if that stays whole, else its
    module."""
    module = nodeid.split("::", 1)[0]
    return next(
        (group for path, group in WHOLE_SETS.items() if module.startswith(f"{path}/")), module
    )


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """xdist's scheduling by scope, each set a scope. (Not its `xdist_group` marks: xdist
    3.8 renames the marked tests through `Item._nodeid`, which pytest 9 no longer reads.)"""
    from xdist.scheduler import LoadScopeScheduling

    class WholeSetScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return run_set(nodeid)

    return WholeSetScheduling(config, log)
