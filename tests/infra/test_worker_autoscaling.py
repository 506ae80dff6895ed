"""WorkerAutoscaling: backlog-per-task target tracking (metric math) + wake from zero."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk.assertions import Match

from tests.infra.conftest import Synth, scalable_target_of, service_for, task_queue_pair

pytestmark = pytest.mark.timeout(300)


def worker_target(synth: Synth) -> tuple[str, dict[str, Any]]:
    return scalable_target_of(synth, "worker")


def test_scalable_target_uses_the_worker_counts_from_context(dev: Synth, prod: Synth) -> None:
    for synth in (dev, prod):
        counts = synth.stack.config.worker_counts
        _, target = worker_target(synth)
        props = target["Properties"]
        assert (props["MinCapacity"], props["MaxCapacity"]) == (counts.minimum, counts.maximum)
        assert props["ServiceNamespace"] == "ecs"
        assert props["ScalableDimension"] == "ecs:service:DesiredCount"
        assert "AWSServiceRoleForApplicationAutoScaling_ECSService" in str(props["RoleARN"])
    assert dev.stack.config.worker_counts.minimum == 0


def test_backlog_per_task_target_tracking_uses_metric_math(dev_insights: Synth) -> None:
    cfg = dev_insights.stack.config
    target_id, _ = worker_target(dev_insights)
    service_id, _ = service_for(dev_insights, "worker")
    main_queue = task_queue_pair(dev_insights, {"RedrivePolicy": Match.any_value()})
    (queue_id,) = main_queue
    cluster_ids = list(dev_insights.resources("AWS::ECS::Cluster"))
    assert len(cluster_ids) == 1
    # cdk.json: 60 s acceptable latency, 2 s a message, 2 processes a worker task: one
    # process starts 30 waiting messages in 60 s, a worker task 60, with 2 more in flight.
    assert (cfg.acceptable_latency_seconds, cfg.average_processing_seconds) == (60, 2)
    assert cfg.runtime.worker_concurrency == 2
    expected_target = 62
    dev_insights.template.has_resource_properties(
        "AWS::ApplicationAutoScaling::ScalingPolicy",
        {
            "PolicyType": "TargetTrackingScaling",
            "ScalingTargetId": {"Ref": target_id},
            "TargetTrackingScalingPolicyConfiguration": {
                "TargetValue": expected_target,
                "ScaleInCooldown": cfg.worker_scale_in_cooldown,
                "ScaleOutCooldown": cfg.worker_scale_out_cooldown,
                "CustomizedMetricSpecification": {
                    "Metrics": [
                        {
                            "Id": "visible",
                            "ReturnData": False,
                            "MetricStat": {
                                "Stat": "Sum",
                                "Metric": {
                                    "Namespace": "AWS/SQS",
                                    "MetricName": "ApproximateNumberOfMessagesVisible",
                                    "Dimensions": [
                                        {
                                            "Name": "QueueName",
                                            "Value": {"Fn::GetAtt": [queue_id, "QueueName"]},
                                        }
                                    ],
                                },
                            },
                        },
                        {
                            "Id": "inFlight",
                            "ReturnData": False,
                            "MetricStat": {
                                "Stat": "Sum",
                                "Metric": {
                                    "Namespace": "AWS/SQS",
                                    "MetricName": "ApproximateNumberOfMessagesNotVisible",
                                    "Dimensions": [
                                        {
                                            "Name": "QueueName",
                                            "Value": {"Fn::GetAtt": [queue_id, "QueueName"]},
                                        }
                                    ],
                                },
                            },
                        },
                        {
                            "Id": "running",
                            "ReturnData": False,
                            "MetricStat": {
                                "Stat": "Average",
                                "Metric": {
                                    "Namespace": "ECS/ContainerInsights",
                                    "MetricName": "RunningTaskCount",
                                    "Dimensions": [
                                        {"Name": "ClusterName", "Value": {"Ref": cluster_ids[0]}},
                                        {
                                            "Name": "ServiceName",
                                            "Value": {"Fn::GetAtt": [service_id, "Name"]},
                                        },
                                    ],
                                },
                            },
                        },
                        {
                            "Id": "backlogPerTask",
                            "Expression": "(visible + inFlight) / running",
                            "Label": Match.any_value(),
                            "ReturnData": True,
                        },
                    ]
                },
            },
        },
    )


def test_the_target_grows_with_the_worker_concurrency(dev_concurrency4: Synth) -> None:
    """4 processes a worker task: 4 x 30 waiting messages started in 60 s, plus 4 in flight."""
    dev_concurrency4.template.has_resource_properties(
        "AWS::ApplicationAutoScaling::ScalingPolicy",
        {
            "PolicyType": "TargetTrackingScaling",
            "TargetTrackingScalingPolicyConfiguration": Match.object_like({"TargetValue": 124}),
        },
    )


def test_one_visible_message_wakes_a_service_at_zero_tasks(dev_insights: Synth) -> None:
    target_id, _ = worker_target(dev_insights)
    step = dev_insights.template.find_resources(
        "AWS::ApplicationAutoScaling::ScalingPolicy",
        {
            "Properties": {
                "PolicyType": "StepScaling",
                "ScalingTargetId": {"Ref": target_id},
                "StepScalingPolicyConfiguration": {
                    "AdjustmentType": "ExactCapacity",
                    "MetricAggregationType": "Maximum",
                    "Cooldown": Match.any_value(),
                    "StepAdjustments": [{"MetricIntervalLowerBound": 0, "ScalingAdjustment": 1}],
                },
            }
        },
    )
    assert len(step) == 1
    (step_id,) = step
    dev_insights.template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "AlarmActions": [{"Ref": step_id}],
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            "Threshold": 1,
            "EvaluationPeriods": 1,
            "Metrics": Match.array_with(
                [
                    Match.object_like(
                        {"Expression": "IF(FILL(desired, 0) == 0, visible, 0)", "ReturnData": True}
                    ),
                    Match.object_like(
                        {
                            "Id": "visible",
                            "MetricStat": Match.object_like(
                                {
                                    "Metric": Match.object_like(
                                        {"MetricName": "ApproximateNumberOfMessagesVisible"}
                                    )
                                }
                            ),
                        }
                    ),
                    Match.object_like(
                        {
                            "Id": "desired",
                            "MetricStat": Match.object_like(
                                {"Metric": Match.object_like({"MetricName": "DesiredTaskCount"})}
                            ),
                        }
                    ),
                ]
            ),
        },
    )


def test_the_wake_up_watches_the_desired_count_not_the_running_one(dev_insights: Synth) -> None:
    """Auto Scaling runs an alarm's action again every minute while it stays in ALARM: a
    wake-up on no *running* task would set the count back to 1 whenever running drops to 0
    under a higher desired count (no Spot capacity, a crash loop), against target tracking.
    It wakes only a service whose *desired* count is 0: the worker service's
    DesiredTaskCount (Container Insights), its highest in the minute."""
    target_id, _ = worker_target(dev_insights)
    service_id, _ = service_for(dev_insights, "worker")
    (step_id,) = dev_insights.template.find_resources(
        "AWS::ApplicationAutoScaling::ScalingPolicy",
        {"Properties": {"PolicyType": "StepScaling", "ScalingTargetId": {"Ref": target_id}}},
    )
    wake = dev_insights.template.find_resources(
        "AWS::CloudWatch::Alarm", {"Properties": {"AlarmActions": [{"Ref": step_id}]}}
    )
    assert len(wake) == 1
    (alarm,) = wake.values()
    queries = {query["Id"]: query for query in alarm["Properties"]["Metrics"]}
    watched = {
        query["MetricStat"]["Metric"]["MetricName"]
        for query in queries.values()
        if "MetricStat" in query
    }
    assert watched == {"ApproximateNumberOfMessagesVisible", "DesiredTaskCount"}
    desired = queries["desired"]["MetricStat"]
    assert desired["Stat"] == "Maximum"
    assert desired["Metric"]["Namespace"] == "ECS/ContainerInsights"
    dimensions = {d["Name"]: d["Value"] for d in desired["Metric"]["Dimensions"]}
    assert dimensions["ServiceName"] == {"Fn::GetAtt": [service_id, "Name"]}
    assert set(dimensions) == {"ClusterName", "ServiceName"}


def test_cluster_has_container_insights(dev_insights: Synth) -> None:
    dev_insights.template.has_resource_properties(
        "AWS::ECS::Cluster",
        {"ClusterSettings": [{"Name": "containerInsights", "Value": "enabled"}]},
    )
