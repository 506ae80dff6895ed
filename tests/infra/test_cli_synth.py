"""`make synth` through the pinned CDK CLI, offline: no AWS credentials, no account pinned."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.devstack.make_run import make_env
from tests.infra.conftest import REPO_ROOT

pytestmark = pytest.mark.timeout(300)


def make_synth(
    tmp_path: Path, cdk_args: str, stage: str = "dev", target: str = "synth"
) -> subprocess.CompletedProcess[str]:
    """`make synth STAGE=<stage>` (or another target that synthesizes, e.g. cost) into
    tmp_path/cdk.out, without AWS credentials."""
    assert shutil.which("make") and shutil.which("npx"), "make and npx (Node) are required"
    env = {k: v for k, v in make_env().items() if not k.startswith(("AWS_", "CDK_DEFAULT_"))}
    env["AWS_CONFIG_FILE"] = env["AWS_SHARED_CREDENTIALS_FILE"] = str(tmp_path / "none")
    return subprocess.run(
        [
            "make",
            "--no-print-directory",
            target,
            f"CDK_OUT={tmp_path / 'cdk.out'}",
            f"STAGE={stage}",
            f"CDK_ARGS={cdk_args}",
        ],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


def test_make_synth_needs_no_aws_credentials(tmp_path: Path) -> None:
    out = tmp_path / "cdk.out"
    result = make_synth(tmp_path, "-c workerMaxCount=15")
    assert result.returncode == 0, result.stdout + result.stderr
    template = json.loads((out / "taskqueue-dev.template.json").read_text())
    resources = template["Resources"].values()
    services = [r["Properties"] for r in resources if r["Type"] == "AWS::ECS::Service"]
    assert len(services) == 3  # the web, the default queue's workers, the reports queue's
    assert not [s for s in services if "DesiredCount" in s]  # autoscaling owns the counts
    targets = [
        r["Properties"]
        for r in resources
        if r["Type"] == "AWS::ApplicationAutoScaling::ScalableTarget"
    ]
    # The web's 4, the default worker's 15; reports keeps dev's own 2 (cdk.json).
    assert sorted(t["MaxCapacity"] for t in targets) == [2, 4, 15]
    report = json.loads((out / "validation-report.json").read_text())
    assert all(r["conclusion"] == "success" for r in report["pluginReports"]), report
    manifest = json.loads((out / "manifest.json").read_text())
    stack = manifest["artifacts"]["taskqueue-dev"]
    assert stack["environment"] == "aws://unknown-account/unknown-region"


def test_a_timing_the_runtime_refuses_fails_synth_with_the_settings_message(
    tmp_path: Path,
) -> None:
    result = make_synth(tmp_path, "-c taskSoftTimeLimit=200 -c taskTimeLimit=100")
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "TASK_SOFT_TIME_LIMIT (200) must be below TASK_TIME_LIMIT (100)" in output
    assert "Traceback" not in output
    assert not (tmp_path / "cdk.out" / "taskqueue-dev.template.json").exists()


def test_a_runtime_setting_given_with_c_reaches_the_web_container(tmp_path: Path) -> None:
    result = make_synth(tmp_path, "-c webWorkers=8")
    assert result.returncode == 0, result.stdout + result.stderr
    template = json.loads((tmp_path / "cdk.out" / "taskqueue-dev.template.json").read_text())
    definitions = [
        container
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::ECS::TaskDefinition"
        for container in resource["Properties"]["ContainerDefinitions"]
    ]
    (web,) = [c for c in definitions if c["Name"] == "web"]
    assert {"Name": "WEB_WORKERS", "Value": "8"} in web["Environment"]


@pytest.mark.parametrize(
    ("stage", "cdk_args", "message"),
    [
        ("dev", "-c workerMaxCont=5", "did you mean 'workerMaxCount'?"),
        ("prod", "-c diagnosticTasks=true", "prod cannot offer the diagnostic tasks"),
        (
            "dev",
            """-c 'queueSettings={"bulk":{"workerCpu":2048}}'""",
            "no task is sent to 'bulk' (the queues of the tasks this stage offers: default,",
        ),
    ],
    ids=["mistyped-key", "prod-diagnostics", "unknown-queue"],
)
def test_a_context_the_stack_cannot_take_fails_synth_with_a_clear_message(
    tmp_path: Path, stage: str, cdk_args: str, message: str
) -> None:
    result = make_synth(tmp_path, cdk_args, stage)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert message in output
    assert "Traceback" not in output
    assert not list((tmp_path / "cdk.out").glob("*.template.json"))
