"""The Makefile as README describes it: `make help` lists every target, and the operator
targets run the CLI command they stand for."""

from __future__ import annotations

import re

import pytest

from harness.stack import REPO_ROOT
from tests.images.engine import make

pytestmark = pytest.mark.timeout(60)

# A rule's target at the start of a line (`run:`, `test-unit:`); `.uv:` and the like are
# helpers (the pydantic convention: a leading dot), `X := ...` is a variable.
RULE = re.compile(r"^(?P<target>[a-z][a-z0-9-]*):(?!=)", re.M)


def make_output(*args: str) -> str:
    """What `make <args>` printed (it must succeed)."""
    result = make(*args, timeout=30)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_make_help_lists_every_target_with_what_it_does() -> None:
    makefiles = [REPO_ROOT / "Makefile", *sorted(REPO_ROOT.glob("*.mk"))]
    targets = {m["target"] for path in makefiles for m in RULE.finditer(path.read_text())}

    listed = dict(
        line.strip().split(maxsplit=1) for line in make_output("help").splitlines() if line.strip()
    )

    assert {"run", "local-aws", "worker", "web", "test"} <= targets  # README's Quick start
    assert targets - set(listed) == set()
    assert all(description for description in listed.values())


def test_make_scale_workers_is_the_cli_s_workers_scale() -> None:
    """README: `make scale-workers N=3` sets the worker service's desired count, through
    `taskqueue workers scale` (which refuses a count outside the autoscaling bounds)."""
    commands = make_output("-n", "scale-workers", "N=3", "STAGE=dev").splitlines()

    assert any(line.endswith("taskqueue workers scale 3 --stage dev") for line in commands)
