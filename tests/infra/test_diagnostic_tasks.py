"""The diagnostic tasks are for test and local stacks: an AWS stage offers them only when told,
and prod never."""

from __future__ import annotations

from pathlib import Path

import pytest
from taskqueue.catalogue.registry import TASKS

from infra.config import ConfigError, InfraConfig
from tests.infra.conftest import (
    Synth,
    cdk_json_context,
    container_settings,
    offered_tasks,
    synthesize,
)
from tests.infra.test_worker_service import image_assets

pytestmark = pytest.mark.timeout(300)

DIAGNOSTIC = {
    "fail",
    "crash",
    "retry_then_succeed",
    "check_secret",
    "limited",
    "param_digest",
    "sized_result",
    "frequent_progress",
}


def test_the_registry_marks_the_diagnostic_tasks() -> None:
    assert {name for name, spec in TASKS.items() if spec.diagnostic} == DIAGNOSTIC


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_an_aws_stage_offers_no_diagnostic_task_by_default(
    dev: Synth, prod: Synth, stage: str
) -> None:
    synth = {"dev": dev, "prod": prod}[stage]
    for service in ("web", "worker"):
        assert container_settings(synth, service).diagnostic_tasks is False
    assert offered_tasks(synth) == set(TASKS) - DIAGNOSTIC


def test_dev_offers_them_when_told(dev_settings: Synth) -> None:
    """`-c diagnosticTasks=true`, as the rehearsal's test deploys dev."""
    for service in ("web", "worker"):
        assert container_settings(dev_settings, service).diagnostic_tasks is True
    assert offered_tasks(dev_settings) == set(TASKS)


def image_targets(synth: Synth) -> set[str]:
    """The Dockerfile targets the stack's two image assets build."""
    return {asset["source"]["dockerBuildTarget"] for asset in image_assets(synth)}


def test_a_stack_that_offers_them_builds_the_images_that_hold_them(
    dev: Synth, prod: Synth, dev_settings: Synth
) -> None:
    """dev and prod build `web` and `worker`, whose images hold no diagnostic task
    (devstack/diagnostic_tasks.py is not in them); told to offer them, the `-diagnostics`
    targets, which add that module."""
    assert image_targets(dev) == image_targets(prod) == {"web", "worker"}
    assert image_targets(dev_settings) == {"web-diagnostics", "worker-diagnostics"}


def test_prod_refuses_them_from_the_command_line_and_from_cdk_json(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="prod cannot offer the diagnostic tasks"):
        synthesize(tmp_path, {"stage": "prod", "diagnosticTasks": "true"})
    context = cdk_json_context()
    context["taskqueue"]["prod"]["diagnosticTasks"] = True
    with pytest.raises(ConfigError, match="context key 'diagnosticTasks': prod cannot offer"):
        InfraConfig.from_context({**context, "stage": "prod"})
    assert not list(tmp_path.glob("*.template.json"))
