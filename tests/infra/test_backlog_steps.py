"""Without Container Insights (dev): the workers scale by steps on their queue's SQS backlog,
and nothing of the stack reads a metric that does not exist."""

from __future__ import annotations

import itertools
import json
import math
from typing import Any

import pytest

from infra.config import ServiceCounts
from infra.stack import worker_container_name
from infra.worker_autoscaling import backlog_steps
from tests.infra.conftest import SECOND_QUEUE, Synth, logical_id, scalable_target_of

pytestmark = pytest.mark.timeout(300)

QUEUES = ("default", SECOND_QUEUE)


def policies_of(synth: Synth, container_name: str) -> dict[str, dict[str, Any]]:
    """Logical id -> properties of each scaling policy of that worker service's target."""
    target_id, _ = scalable_target_of(synth, container_name)
    return {
        policy_id: policy["Properties"]
        for policy_id, policy in synth.resources(
            "AWS::ApplicationAutoScaling::ScalingPolicy"
        ).items()
        if policy["Properties"]["ScalingTargetId"] == {"Ref": target_id}
    }


def alarm_of(synth: Synth, policy_id: str) -> dict[str, Any]:
    """The properties of the one alarm whose action runs `policy_id`."""
    (alarm,) = [
        alarm["Properties"]
        for alarm in synth.resources("AWS::CloudWatch::Alarm").values()
        if {"Ref": policy_id} in alarm["Properties"].get("AlarmActions", [])
    ]
    return alarm


def metric_names(alarm: dict[str, Any]) -> set[tuple[str, str]]:
    """(namespace, metric name) of each metric an alarm's metric math reads."""
    return {
        (query["MetricStat"]["Metric"]["Namespace"], query["MetricStat"]["Metric"]["MetricName"])
        for query in alarm["Metrics"]
        if "MetricStat" in query
    }


def test_dev_has_no_container_insights_and_reads_none_of_its_metrics(
    dev: Synth, prod: Synth
) -> None:
    (cluster,) = dev.resources("AWS::ECS::Cluster").values()
    assert cluster["Properties"]["ClusterSettings"] == [
        {"Name": "containerInsights", "Value": "disabled"}
    ]
    # No policy, alarm or dashboard widget of dev names the namespace; prod's keep it.
    assert "ECS/ContainerInsights" not in json.dumps(dev.json)
    (prod_cluster,) = prod.resources("AWS::ECS::Cluster").values()
    assert prod_cluster["Properties"]["ClusterSettings"] == [
        {"Name": "containerInsights", "Value": "enabled"}
    ]
    assert "ECS/ContainerInsights" in json.dumps(prod.json)


@pytest.mark.parametrize("queue", QUEUES)
def test_each_dev_worker_service_sets_its_capacity_from_its_backlog_by_steps(
    dev: Synth, queue: str
) -> None:
    cfg = dev.stack.config.queue_config(queue)
    policies = policies_of(dev, worker_container_name(queue))
    assert {p["PolicyType"] for p in policies.values()} == {"StepScaling"}
    by_threshold = {alarm_of(dev, pid)["Threshold"]: (pid, p) for pid, p in policies.items()}
    assert sorted(by_threshold) == [0, 1]
    queue_id = logical_id(dev, dev.stack.queues[queue].task_queue.queue)

    # Busy: backlog >= 1 sets ceil(backlog / target) tasks, each step one task count.
    busy_id, busy = by_threshold[1]
    busy_alarm = alarm_of(dev, busy_id)
    assert busy_alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert metric_names(busy_alarm) == {
        ("AWS/SQS", "ApproximateNumberOfMessagesVisible"),
        ("AWS/SQS", "ApproximateNumberOfMessagesNotVisible"),
    }
    assert f'"{queue_id}"' in json.dumps(busy_alarm)
    configuration = busy["StepScalingPolicyConfiguration"]
    assert configuration["AdjustmentType"] == "ExactCapacity"
    steps = configuration["StepAdjustments"]
    assert [s["ScalingAdjustment"] for s in steps] == list(cfg.worker_counts.busy_counts)
    assert steps[0]["MetricIntervalLowerBound"] == 0
    assert "MetricIntervalUpperBound" not in steps[-1]
    for step, after in itertools.pairwise(steps):
        assert step["MetricIntervalUpperBound"] == after["MetricIntervalLowerBound"]

    # Idle: no message waiting or running for the scale-in cooldown sets the minimum; an idle
    # queue publishes no metric at all, which counts as idle.
    idle_id, idle = by_threshold[0]
    idle_alarm = alarm_of(dev, idle_id)
    minutes = math.ceil(cfg.worker_scale_in_cooldown / 60)
    assert idle_alarm["ComparisonOperator"] == "LessThanOrEqualToThreshold"
    assert idle_alarm["EvaluationPeriods"] == idle_alarm["DatapointsToAlarm"] == minutes
    assert idle_alarm["TreatMissingData"] == "breaching"
    assert metric_names(idle_alarm) == metric_names(busy_alarm)
    idle_configuration = idle["StepScalingPolicyConfiguration"]
    assert idle_configuration["AdjustmentType"] == "ExactCapacity"
    assert idle_configuration["StepAdjustments"] == [
        {"MetricIntervalUpperBound": 0, "ScalingAdjustment": cfg.worker_counts.minimum}
    ]


@pytest.mark.parametrize(
    ("minimum", "maximum", "target"), [(0, 10, 62), (0, 2, 6), (3, 20, 2.5), (1, 1, 7)]
)
def test_the_steps_set_ceil_of_the_backlog_over_the_target_within_the_counts(
    minimum: int, maximum: int, target: float
) -> None:
    counts = ServiceCounts(minimum=minimum, maximum=maximum)
    steps = backlog_steps(counts, target)
    for backlog in range(1, math.ceil(maximum * target) + 100):
        # Step bounds are relative to the alarm's threshold (1); lower inclusive above it.
        (step,) = [
            s
            for s in steps
            if s.lower <= backlog - 1 and (s.upper is None or backlog - 1 < s.upper)
        ]
        wanted = min(maximum, max(1, minimum, math.ceil(backlog / target)))
        assert step.capacity == wanted, backlog


def test_devs_backlog_without_workers_alarm_reads_the_free_cpu_metrics_samples(
    dev: Synth,
) -> None:
    """No running task count without Container Insights: a service with no task sends no
    CPUUtilization point, so its filled sample count is 0."""
    found = [
        alarm["Properties"]
        for alarm in dev.resources("AWS::CloudWatch::Alarm").values()
        if "no worker task has run" in alarm["Properties"]["AlarmDescription"]
    ]
    assert len(found) == len(QUEUES)
    for alarm in found:
        (running,) = [q for q in alarm["Metrics"] if q["Id"] == "running"]
        assert running["MetricStat"]["Metric"]["Namespace"] == "AWS/ECS"
        assert running["MetricStat"]["Metric"]["MetricName"] == "CPUUtilization"
        assert running["MetricStat"]["Stat"] == "SampleCount"
        (expression,) = [q for q in alarm["Metrics"] if "Expression" in q]
        assert "FILL(running, 0) == 0" in expression["Expression"]


def test_devs_dashboard_shows_the_services_cpu_instead_of_running_tasks(dev: Synth) -> None:
    (dashboard,) = dev.resources("AWS::CloudWatch::Dashboard").values()
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    assert "Running tasks" not in body and "RunningTaskCount" not in body
    assert "CPU utilization (%)" in body and "reports: CPU utilization (%)" in body
    assert "AWS/ECS" in body
