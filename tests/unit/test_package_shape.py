"""The framework's shape (issue 21): a public face for task authors, no function-level import,
no task imported by the framework, and no diagnostic task in the package the images install."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FRAMEWORK = ROOT / "shared" / "src" / "taskqueue"
DIAGNOSTIC = {"fail", "crash", "retry_then_succeed", "check_secret"}


def test_the_public_face_is_what_a_task_author_uses() -> None:
    import taskqueue
    from taskqueue.catalogue.registry import TaskParams, register
    from taskqueue.catalogue.schedules import schedule
    from taskqueue.settings import Settings, get_settings

    assert sorted(taskqueue.__all__) == sorted(
        ["register", "schedule", "TaskParams", "Settings", "get_settings", "secrets"]
    )
    assert (taskqueue.register, taskqueue.schedule, taskqueue.TaskParams) == (
        register,
        schedule,
        TaskParams,
    )
    assert (taskqueue.Settings, taskqueue.get_settings) == (Settings, get_settings)
    assert taskqueue.secrets.get.__module__ == "taskqueue.secrets"


@pytest.mark.timeout(60)
def test_importing_the_framework_imports_no_task() -> None:
    """A fresh interpreter: the public face and every layer imported, not one task module."""
    code = (
        "import sys\n"
        "from taskqueue import Settings, TaskParams, get_settings, register, schedule, secrets\n"
        "import taskqueue.factory, taskqueue.bootstrap, taskqueue.runtime.sqs_transport\n"
        "import taskqueue.runtime.task_class, taskqueue.stores.task_list\n"
        "print(sorted(m for m in sys.modules if m.startswith(('taskqueue.tasks.', 'devstack'))))\n"
    )
    ran = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=50
    )

    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip() == "[]"


def function_level_imports(path: Path) -> list[str]:
    """`file:line import ...` for each import inside a function of `path`."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            found += [
                f"{path.relative_to(FRAMEWORK)}:{inner.lineno} {ast.unparse(inner)}"
                for inner in ast.walk(node)
                if isinstance(inner, ast.Import | ast.ImportFrom)
            ]
    return found


def test_the_framework_imports_nothing_inside_a_function() -> None:
    """An import inside a function is how a cycle hides from the module graph."""
    modules = sorted(FRAMEWORK.rglob("*.py"))

    found = [hit for path in modules for hit in function_level_imports(path)]

    assert found == []


def registered_names(source: str) -> set[str]:
    """The functions of `source` under a decorator call (`@register(...)`, `@diagnostic(...)`)."""
    return {
        node.name
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.FunctionDef)
        and any(isinstance(decorator, ast.Call) for decorator in node.decorator_list)
    }


@pytest.mark.timeout(120)
def test_the_taskqueue_wheel_holds_no_diagnostic_task(tmp_path: Path) -> None:
    """What the images install of shared/: the shipped tasks, not fail, crash, ..."""
    uv = shutil.which("uv") or str(ROOT / ".tools" / "bin" / "uv")
    subprocess.run(
        [uv, "build", "--wheel", "--package", "taskqueue", "--out-dir", str(tmp_path)],
        check=True,
        capture_output=True,
        cwd=ROOT,
        timeout=110,
    )
    (wheel,) = tmp_path.glob("taskqueue-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        modules = {name: archive.read(name).decode() for name in archive.namelist()}
    sources = {name: text for name, text in modules.items() if name.endswith(".py")}
    tasks = set().union(*(registered_names(text) for text in sources.values()))

    assert "taskqueue/tasks/long_task.py" in sources  # the shipped tasks are in it
    assert {"long_task", "noop", "queue_report"} <= tasks
    assert tasks & DIAGNOSTIC == set()
    assert [name for name in modules if "diagnostic" in name] == []


def test_the_placeholders_task_class_named_as_text_is_the_runtimes() -> None:
    """The catalogue names it without importing it: a renamed class fails here, not in a worker."""
    from taskqueue.catalogue.placeholder import celery
    from taskqueue.runtime.task_class import FlaskContextTask

    assert issubclass(celery.Task, FlaskContextTask)
