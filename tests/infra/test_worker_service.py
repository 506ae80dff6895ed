"""WorkerService: own image, stopTimeout 120 s, health check, counts from context."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Match

from tests.infra.conftest import (
    REPO_ROOT,
    Synth,
    container,
    container_env,
    only,
    service_for,
)

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
    # The heartbeat model (issue 13): the limits may outlast the base visibility, which the
    # worker extends while a task runs; an hour-long seed task fits SQS's 12 hours.
    assert int(env["TASK_SOFT_TIME_LIMIT"]) < int(env["TASK_TIME_LIMIT"])
    assert int(env["QUEUE_VISIBILITY_TIMEOUT"]) == 60
    assert 3600 <= int(env["TASK_MAX_DURATION"]) <= 43_200
    assert env["WORKER_CONCURRENCY"] == str(dev.stack.config.runtime.worker_concurrency)
    assert "WEB_BIND" not in env


def test_worker_service_leaves_the_count_to_autoscaling_and_rolls_back(
    dev: Synth, prod: Synth
) -> None:
    """No DesiredCount: a deploy would put the count back in the middle of a backlog."""
    for synth in (dev, prod):
        assert "DesiredCount" not in service_for(synth, "worker")[1]["Properties"]
    service = service_for(dev, "worker")[1]["Properties"]
    assert service["LaunchType"] == "FARGATE"
    assert "CapacityProviderStrategy" not in service
    assert service["DeploymentConfiguration"]["DeploymentCircuitBreaker"] == {
        "Enable": True,
        "Rollback": True,
    }


def test_worker_max_count_from_context_changes_the_worker_scalable_target_only(
    dev_insights: Synth, dev_worker_max15: Synth
) -> None:
    """`cdk deploy -c workerMaxCount=15`: one property of one resource differs."""
    before = dev_insights.json["Resources"]
    after = dev_worker_max15.json["Resources"]
    assert before.keys() == after.keys()
    changed = {key for key in before if before[key] != after[key]}
    assert len(changed) == 1
    (key,) = changed
    assert after[key]["Type"] == "AWS::ApplicationAutoScaling::ScalableTarget"
    assert after[key]["Properties"]["MaxCapacity"] == 15
    assert {**after[key]["Properties"], "MaxCapacity": 10} == before[key]["Properties"]
    assert dev_insights.json["Outputs"] == dev_worker_max15.json["Outputs"]


def test_spot_workers_keep_an_on_demand_base(prod: Synth, prod_spot_email: Synth) -> None:
    """workerCapacity=FARGATE_SPOT: the cluster offers both providers; the worker keeps
    workerOnDemandBase tasks on regular Fargate and puts most of the rest on Spot."""
    base = prod_spot_email.stack.config.worker_on_demand_base
    assert base == 1  # cdk.json's prod value
    service = service_for(prod_spot_email, "worker")[1]["Properties"]
    assert "LaunchType" not in service
    strategy = {item["CapacityProvider"]: item for item in service["CapacityProviderStrategy"]}
    assert strategy["FARGATE"]["Base"] == base
    assert "Base" not in strategy["FARGATE_SPOT"]
    assert strategy["FARGATE_SPOT"]["Weight"] > strategy["FARGATE"]["Weight"] > 0
    prod_spot_email.template.has_resource_properties(
        "AWS::ECS::ClusterCapacityProviderAssociations",
        {"CapacityProviders": Match.array_with(["FARGATE", "FARGATE_SPOT"])},
    )
    # The web stays on regular Fargate; on the default the cluster has no providers.
    assert service_for(prod_spot_email, "web")[1]["Properties"]["LaunchType"] == "FARGATE"
    prod.template.resource_count_is("AWS::ECS::ClusterCapacityProviderAssociations", 0)
    # Spot's two-minute notice is a SIGTERM: the soft shutdown fits in the stop timeout.
    worker = container(prod_spot_email, "worker")
    assert (
        int(container_env(prod_spot_email, "worker")["WORKER_SOFT_SHUTDOWN_TIMEOUT"])
        < (worker["StopTimeout"])
    )
    assert worker["StopTimeout"] <= 120


def image_assets(synth: Synth) -> list[dict[str, Any]]:
    """The container image assets of the synthesized stack (its `*.assets.json`)."""
    manifest = synth.template_path.parent / f"{synth.stack.artifact_id}.assets.json"
    return list(json.loads(manifest.read_text())["dockerImages"].values())


def test_the_two_services_run_two_different_image_assets(dev: Synth) -> None:
    """Both images are built from the repository root, each from its own target."""
    assets = image_assets(dev)
    tags_by_target = {
        asset["source"]["dockerBuildTarget"]: next(iter(asset["destinations"].values()))["imageTag"]
        for asset in assets
    }
    assert set(tags_by_target) == {"web", "worker"}
    assert len(set(tags_by_target.values())) == 2
    for name in ("web", "worker"):
        image = container(dev, name)["Image"]["Fn::Sub"]
        assert image.endswith(":" + tags_by_target[name])
        assert "cdk-hnb659fds-container-assets-" in image
    for asset in assets:
        context = dev.template_path.parent / asset["source"]["directory"]
        assert (context / asset["source"].get("dockerFile", "Dockerfile")).is_file()
        assert (context / "uv.lock").is_file()
        assert not (context / ".venv").exists()


def test_both_images_build_from_one_dockerfile_each_from_its_target(dev: Synth) -> None:
    """issue 21: one Dockerfile (the build's default, at the context's root), two targets."""
    sources = [asset["source"] for asset in image_assets(dev)]
    assert len(sources) == 2
    assert {source.get("dockerBuildTarget") for source in sources} == {"web", "worker"}
    assert {source.get("dockerFile", "Dockerfile") for source in sources} == {"Dockerfile"}
    for source in sources:
        staged = dev.template_path.parent / source["directory"] / "Dockerfile"
        assert staged.read_text() == (REPO_ROOT / "Dockerfile").read_text()


def test_a_worker_deploy_starts_the_new_tasks_before_it_stops_the_old_ones(
    dev: Synth, prod: Synth
) -> None:
    """infra/README.md: each service keeps minHealthyPercent 100 and maxHealthyPercent 200."""
    for synth in (dev, prod):
        configuration = service_for(synth, "worker")[1]["Properties"]["DeploymentConfiguration"]
        assert (configuration["MinimumHealthyPercent"], configuration["MaximumPercent"]) == (
            100,
            200,
        )


def test_spot_workers_wait_for_the_cluster_to_offer_spot(prod_spot_email: Synth) -> None:
    """A service's strategy may only name providers associated with its cluster; nothing
    else orders the two, so CloudFormation may create the service first and fail
    (aws/containers-roadmap#631): the worker service depends on the association."""
    associations = prod_spot_email.resources("AWS::ECS::ClusterCapacityProviderAssociations")
    association_id, association = only(associations)
    assert set(association["Properties"]["CapacityProviders"]) == {"FARGATE", "FARGATE_SPOT"}
    _, worker = service_for(prod_spot_email, "worker")
    assert association_id in worker["DependsOn"]
