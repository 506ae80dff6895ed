"""The whole stack: outputs, cdk-nag with zero unacknowledged findings, cfn-lint clean."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import Validations
from aws_cdk.assertions import Match
from cdk_nag import AwsSolutionsChecks
from taskqueue.factory import declared_schedules as declared
from taskqueue.settings import Settings

from infra.nag import objects_rule
from tests.infra.conftest import (
    REPO_ROOT,
    Synth,
    container,
    offered_tasks,
    service_for,
    task_queue_pair,
)

pytestmark = pytest.mark.timeout(300)

VARIANTS = ["dev", "prod", "prod_endpoints"]
CFN_LINT = str(Path(sys.executable).parent / "cfn-lint")


def test_outputs_have_stable_names(dev: Synth) -> None:
    outputs = dev.json["Outputs"]
    web_id, _ = service_for(dev, "web")
    worker_id, _ = service_for(dev, "worker")
    (cluster_id,) = dev.resources("AWS::ECS::Cluster")
    (alb_id,) = dev.resources("AWS::ElasticLoadBalancingV2::LoadBalancer")
    queues = task_queue_pair(dev)
    (queue_id,) = [k for k, v in queues.items() if "RedrivePolicy" in v["Properties"]]
    (dlq_id,) = [k for k in queues if k != queue_id]
    assert outputs["ServiceUrl"]["Value"] == {
        "Fn::Join": ["", ["http://", {"Fn::GetAtt": [alb_id, "DNSName"]}]]
    }
    assert outputs["QueueUrl"]["Value"] == {"Ref": queue_id}
    assert outputs["DlqUrl"]["Value"] == {"Ref": dlq_id}
    assert outputs["ClusterName"]["Value"] == {"Ref": cluster_id}
    assert outputs["WebServiceName"]["Value"] == {"Fn::GetAtt": [web_id, "Name"]}
    assert outputs["WorkerServiceName"]["Value"] == {"Fn::GetAtt": [worker_id, "Name"]}
    (table_id,) = dev.resources("AWS::DynamoDB::Table")
    assert outputs["ResultsTableName"]["Value"] == {"Ref": table_id}


def test_the_template_holds_the_whole_design(dev_insights: Synth) -> None:
    queues = len(dev_insights.stack.queues)
    assert queues == 2  # the default and cdk.json's reports
    counts = {
        # Per declared queue, a queue and its DLQ, a worker service, its scalable target, its
        # two policies, four alarms (tests/infra/test_queues.py).
        "AWS::SQS::Queue": 2 * queues + 1,  # and the schedules' DLQ
        "AWS::Scheduler::ScheduleGroup": 1,
        "AWS::Scheduler::Schedule": len(declared()),
        "AWS::ECS::Service": 1 + queues,  # and the web's
        "AWS::ECS::Cluster": 1,
        "AWS::ElasticLoadBalancingV2::LoadBalancer": 1,
        "AWS::DynamoDB::Table": 1,
        "AWS::ApplicationAutoScaling::ScalableTarget": 1 + queues,
        "AWS::ApplicationAutoScaling::ScalingPolicy": 1 + 2 * queues,
        # The ALB's, the web's and the schedules' DLQ's, and one per offered task.
        "AWS::CloudWatch::Alarm": 3 + 4 * queues + len(offered_tasks(dev_insights)),
        "AWS::SNS::Topic": 1,
        "AWS::Events::Rule": 1,
        "AWS::CloudWatch::Dashboard": 1,
        "AWS::Lambda::Function": 0,
        "AWS::S3::Bucket": 1,  # the payload bucket (tests/infra/test_payload_bucket.py)
        "AWS::EC2::NatGateway": 0,
    }
    for resource_type, count in counts.items():
        dev_insights.template.resource_count_is(resource_type, count)


@pytest.mark.parametrize("variant", VARIANTS)
def test_cdk_nag_has_no_unacknowledged_finding(synth_variant: Any, variant: str) -> None:
    synth: Synth = synth_variant(variant)
    report = AwsSolutionsChecks().validate_scope(synth.app)
    findings = [
        f"{v.rule_name}: {[r.construct_path for r in v.violating_resources]}"
        for v in report.violations
    ]
    assert findings == []
    assert report.success


def test_every_acknowledgement_has_a_reason(dev: Synth) -> None:
    acknowledged: dict[str, str] = {}
    key = Validations.ACKNOWLEDGED_RULES_METADATA_KEY
    for construct in dev.stack.node.find_all():
        for entry in construct.node.metadata:
            if entry.type == key:
                for rule, reason in dict(entry.data).items():
                    # "Annotation::AwsSolutions-ELB2" (CDK's own plugins use other prefixes)
                    _, _, rule_id = str(rule).partition("::")
                    if rule_id.startswith("AwsSolutions-"):
                        acknowledged[f"{construct.node.path} {rule_id}"] = str(reason)
    assert acknowledged
    for rule, reason in acknowledged.items():
        assert len(reason) > 40, rule
    rules = {key.split(" ", 1)[1] for key in acknowledged}
    # The worker's task-protection statement names the cluster's tasks (tests/infra/test_iam.py).
    (cluster_id,) = dev.resources("AWS::ECS::Cluster")
    tasks = f"arn:<AWS::Partition>:ecs:<AWS::Region>:<AWS::AccountId>:task/<{cluster_id}>/*"
    assert acknowledged[f"taskqueue-dev/Worker/TaskRole AwsSolutions-IAM5[Resource::{tasks}]"]
    rules.discard(f"AwsSolutions-IAM5[Resource::{tasks}]")
    assert rules == {
        "AwsSolutions-ELB2",
        "AwsSolutions-EC23",
        "AwsSolutions-ECS2",
        "AwsSolutions-IAM5[Resource::*]",
        "AwsSolutions-DDB3",
        "AwsSolutions-ECS4",  # dev's cluster has no Container Insights (containerInsights)
        "AwsSolutions-SQS3",  # the schedules' DLQ is Scheduler's, which cdk-nag cannot see
        "AwsSolutions-S1",  # the payload bucket's server access logs
        *(objects_rule(dev.stack.payload_bucket.bucket, p) for p in ("params/", "results/")),
    }


def test_prod_needs_no_point_in_time_recovery_acknowledgement(prod: Synth) -> None:
    key = Validations.ACKNOWLEDGED_RULES_METADATA_KEY
    rules = {
        rule
        for construct in prod.stack.node.find_all()
        for entry in construct.node.metadata
        if entry.type == key
        for rule in dict(entry.data)
    }
    assert not any("DDB3" in rule for rule in rules)


def test_cfn_lint_reports_nothing(synth_variant: Any) -> None:
    paths = [str(synth_variant(variant).template_path) for variant in VARIANTS]
    result = subprocess.run(
        [CFN_LINT, "--ignore-checks", "W3005", "--", *paths],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("name", ["web", "worker"])
def test_both_containers_run_on_a_read_only_image_with_a_scratch_tmp(dev: Synth, name: str) -> None:
    definition = container(dev, name)
    assert definition["ReadonlyRootFilesystem"] is True
    assert definition["MountPoints"] == [
        {"ContainerPath": "/tmp", "ReadOnly": False, "SourceVolume": "tmp"}
    ]
    dev.template.has_resource_properties(
        "AWS::ECS::TaskDefinition",
        {
            "ContainerDefinitions": [Match.object_like({"Name": name})],
            "Volumes": [{"Name": "tmp"}],
        },
    )
    # The only files the services write at run time are under /tmp.
    assert Settings().worker_heartbeat_file.startswith("/tmp/")
