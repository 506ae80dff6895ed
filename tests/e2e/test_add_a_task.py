"""Adding a task is adding one module: README's snippet, pasted as a new module of the tasks
package (of a copy of the shared package, which the processes import first), is a task the
web refuses before and accepts after a restart of the web and the worker, and it succeeds."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from harness.processes import Process, wait_until
from harness.stack import LocalStack

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

ROOT = Path(__file__).resolve().parents[2]
# The first Python block of README's "Adding a task" section.
SNIPPET = re.compile(r"^## Adding a task\n.*?^```python\n(?P<code>.*?)^```$", re.M | re.S)


def readme_snippet() -> str:
    found = SNIPPET.search((ROOT / "README.md").read_text())
    assert found is not None, "README has no Python block under 'Adding a task'"
    return found["code"]


def package_copy(into: Path) -> Path:
    """A copy of shared/src (the `taskqueue` package) in `into`; its path."""
    source = into / "src"
    shutil.copytree(ROOT / "shared" / "src", source, ignore=shutil.ignore_patterns("__pycache__"))
    return source


def restart(stack: LocalStack, env: dict[str, str]) -> Process:
    """Stop the worker and the web (newest first), then start them again; the new worker."""
    for process in reversed([p for p in stack.processes if p.name in ("worker", "web")]):
        process.stop()
        stack.processes.remove(process)
    worker = stack.start_worker(**env)
    stack.start_web(**env)
    return worker


def test_readmes_snippet_as_a_new_module_is_queueable_after_a_restart(
    stack: LocalStack, tmp_path: Path
) -> None:
    source = package_copy(tmp_path)
    # The copy first; the repository's root for the diagnostic tasks the tests' stacks offer.
    env = {"PYTHONPATH": os.pathsep.join([str(source), str(ROOT)])}
    stack.start_aws()
    stack.start_worker(**env)
    stack.start_web(**env)
    api = stack.api()
    assert api.post_task("resize", {"image_id": "cat.png"}).status_code == 422  # not yet

    (source / "taskqueue" / "tasks" / "resize.py").write_text(readme_snippet())
    worker = restart(stack, env)

    task_id = api.enqueue("resize", {"image_id": "cat.png"})
    wait_until(lambda: api.state(task_id) == "SUCCESS", 90, "resize to succeed", worker)
    assert api.status(task_id)["result"] == {"resized": "cat.png"}
    document = api.get("/openapi.json").json()
    assert "resize" in document["components"]["schemas"]["TaskRequest"]["discriminator"]["mapping"]
