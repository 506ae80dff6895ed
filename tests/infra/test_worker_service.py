"""WorkerService: own image, stopTimeout 120 s, health check, counts from context."""

from __future__ import annotations

import json

import pytest

from tests.infra.conftest import Synth, container, container_env, service_for

pytestmark = pytest.mark.timeout(300)


def test_worker_container_stops_gracefully_and_checks_its_health(dev: Synth) -> None:
    worker = container(dev, "worker")
    assert worker["StopTimeout"] == 120
    assert worker["Essential"] is True
    assert worker["HealthCheck"]["Command"] == ["CMD", "worker-healthcheck"]
    assert "PortMappings" not in worker
    assert worker["LogConfiguration"]["Options"]["awslogs-stream-prefix"] == "worker"


def test_soft_shutdown_fits_inside_the_stop_timeout(dev: Synth) -> None:
    env = container_env(dev, "worker")
    assert int(env["WORKER_SOFT_SHUTDOWN_TIMEOUT"]) < container(dev, "worker")["StopTimeout"]
    assert (
        int(env["TASK_MAX_DURATION"])
        < int(env["TASK_SOFT_TIME_LIMIT"])
        < int(env["TASK_TIME_LIMIT"])
        < int(env["QUEUE_VISIBILITY_TIMEOUT"])
    )
    assert env["WORKER_CONCURRENCY"] == str(dev.stack.config.worker_concurrency)
    assert "WEB_BIND" not in env


def test_worker_service_desired_count_and_rollback(dev: Synth) -> None:
    service = service_for(dev, "worker")[1]["Properties"]
    assert service["DesiredCount"] == dev.stack.config.worker_counts.desired
    assert service["LaunchType"] == "FARGATE"
    assert service["DeploymentConfiguration"]["DeploymentCircuitBreaker"] == {
        "Enable": True,
        "Rollback": True,
    }


def test_worker_count_from_context_changes_the_worker_service_only(
    dev: Synth, dev_worker5: Synth
) -> None:
    """`cdk deploy -c workerCount=5`: one property of one resource differs."""
    before = dev.json["Resources"]
    after = dev_worker5.json["Resources"]
    assert before.keys() == after.keys()
    changed = {key for key in before if before[key] != after[key]}
    assert len(changed) == 1
    (key,) = changed
    assert after[key]["Type"] == "AWS::ECS::Service"
    assert after[key]["Properties"]["DesiredCount"] == 5
    assert {**after[key]["Properties"], "DesiredCount": 1} == before[key]["Properties"]
    assert dev.json["Outputs"] == dev_worker5.json["Outputs"]


def test_the_two_services_run_two_different_image_assets(dev: Synth) -> None:
    """Both images are built from the repository root, each with its own Dockerfile."""
    assets = json.loads(
        (dev.template_path.parent / f"{dev.stack.artifact_id}.assets.json").read_text()
    )["dockerImages"]
    tags_by_dockerfile = {
        asset["source"]["dockerFile"]: next(iter(asset["destinations"].values()))["imageTag"]
        for asset in assets.values()
    }
    assert set(tags_by_dockerfile) == {"services/web/Dockerfile", "services/worker/Dockerfile"}
    assert len(set(tags_by_dockerfile.values())) == 2
    for name in ("web", "worker"):
        image = container(dev, name)["Image"]["Fn::Sub"]
        assert image.endswith(":" + tags_by_dockerfile[f"services/{name}/Dockerfile"])
        assert "cdk-hnb659fds-container-assets-" in image
    for asset in assets.values():
        context = dev.template_path.parent / asset["source"]["directory"]
        assert (context / asset["source"]["dockerFile"]).is_file()
        assert (context / "uv.lock").is_file()
        assert not (context / ".venv").exists()
