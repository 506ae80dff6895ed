"""One cpuArchitecture: the task definitions' RuntimePlatform and the images' build platform."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from tests.infra.conftest import Synth

pytestmark = pytest.mark.timeout(300)

# What Fargate runs for each RuntimePlatform, as `docker build --platform` names it.
DOCKER_PLATFORM = {"X86_64": "linux/amd64", "ARM64": "linux/arm64"}


@pytest.mark.parametrize(("variant", "architecture"), [("dev", "X86_64"), ("dev_arm64", "ARM64")])
def test_task_definitions_and_image_assets_name_the_same_architecture(
    synth_variant: Callable[[str], Synth], variant: str, architecture: str
) -> None:
    synth = synth_variant(variant)
    assert synth.stack.config.cpu_architecture == architecture
    platforms = {
        task_definition["Properties"]["RuntimePlatform"]["CpuArchitecture"]
        for task_definition in synth.resources("AWS::ECS::TaskDefinition").values()
    }
    assert platforms == {architecture}
    assets = json.loads(
        (synth.template_path.parent / f"{synth.stack.artifact_id}.assets.json").read_text()
    )["dockerImages"]
    assert len(assets) == 2
    assert {asset["source"]["platform"] for asset in assets.values()} == {
        DOCKER_PLATFORM[architecture]
    }
