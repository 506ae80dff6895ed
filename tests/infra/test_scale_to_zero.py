"""A service that may scale to zero gets there: no enabled schedule wakes it more often than
its scale-in lets it idle.

A schedule's fire is a message on the task queue, which wakes a worker service at 0 tasks
(the wake-up step policy) and keeps it up until target tracking scales it in again: that takes
its scale-in alarm's 15 one-minute datapoints below target (the alarm Application Auto Scaling
makes for a target tracking policy; aws/copilot-cli#4233). A schedule firing at least that
often keeps the service from ever reaching zero, so it costs a running task all month.
Without Container Insights (dev) the backlog steps' idle alarm sets the minimum after the
scale-in cooldown (5 minutes), so the 15 minutes checked here are the stricter bound.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from taskqueue.catalogue.registry import TASKS
from taskqueue.catalogue.schedules import Schedule
from taskqueue.tasks.noop import NoopParams

from tests.infra.conftest import Synth

pytestmark = pytest.mark.timeout(300)

SCALE_IN_MINUTES = 15


def shortest_gap(expression: str, timezone: str) -> timedelta:
    """The shortest time between two fires of `expression` over a week."""
    recurrence = Schedule(
        name="gap",
        spec=TASKS["noop"],
        params=NoopParams(),
        expression=expression,
        timezone=timezone,
    )
    fire = recurrence.next_fire(datetime(2026, 1, 5, tzinfo=UTC))
    gaps = []
    while fire < datetime(2026, 1, 12, tzinfo=UTC):
        after = recurrence.next_fire(fire)
        gaps.append(after - fire)
        fire = after
    return min(gaps)


def queues_drained_from_zero(synth: Synth) -> set[str]:
    """Logical ids of the queues whose backlog scales a service whose minimum is 0: through
    target tracking, or (without Container Insights) the alarms of its step policies."""
    targets = {
        logical_id
        for logical_id, target in synth.resources(
            "AWS::ApplicationAutoScaling::ScalableTarget"
        ).items()
        if target["Properties"]["MinCapacity"] == 0
    }
    queues = set()
    steps = {
        policy_id
        for policy_id, policy in synth.resources(
            "AWS::ApplicationAutoScaling::ScalingPolicy"
        ).items()
        if policy["Properties"]["ScalingTargetId"] in [{"Ref": t} for t in targets]
        and policy["Properties"]["PolicyType"] == "StepScaling"
    }
    for alarm in synth.resources("AWS::CloudWatch::Alarm").values():
        if any(
            action.get("Ref") in steps for action in alarm["Properties"].get("AlarmActions", [])
        ):
            for query in alarm["Properties"].get("Metrics", []):
                metric = query.get("MetricStat", {}).get("Metric", {})
                for dimension in metric.get("Dimensions", []):
                    if dimension["Name"] == "QueueName":
                        queues.add(dimension["Value"]["Fn::GetAtt"][0])
    for policy in synth.resources("AWS::ApplicationAutoScaling::ScalingPolicy").values():
        properties = policy["Properties"]
        tracking = properties.get("TargetTrackingScalingPolicyConfiguration")
        if tracking is None or properties["ScalingTargetId"] not in [{"Ref": t} for t in targets]:
            continue
        for query in tracking["CustomizedMetricSpecification"]["Metrics"]:
            metric: dict[str, Any] = query.get("MetricStat", {}).get("Metric", {})
            for dimension in metric.get("Dimensions", []):
                if dimension["Name"] == "QueueName":
                    queues.add(dimension["Value"]["Fn::GetAtt"][0])
    return queues


def schedules_that_keep_a_service_awake(synth: Synth) -> list[str]:
    """The enabled schedules that fire into such a queue at least every SCALE_IN_MINUTES."""
    queues = queues_drained_from_zero(synth)
    return sorted(
        properties["Name"]
        for schedule in synth.resources("AWS::Scheduler::Schedule").values()
        if (properties := schedule["Properties"])["State"] == "ENABLED"
        and properties["Target"]["Arn"]["Fn::GetAtt"][0] in queues
        and shortest_gap(properties["ScheduleExpression"], properties["ScheduleExpressionTimezone"])
        <= timedelta(minutes=SCALE_IN_MINUTES)
    )


def test_no_enabled_schedule_keeps_devs_worker_from_idling_at_zero(dev: Synth) -> None:
    assert queues_drained_from_zero(dev)  # the worker service may scale to zero in dev
    assert dev.resources("AWS::Scheduler::Schedule")  # and the schedules are there
    assert schedules_that_keep_a_service_awake(dev) == []


def test_dev_pauses_queue_report_which_prod_fires(dev: Synth, prod: Synth) -> None:
    states = {
        synth.stack.config.stage: {
            schedule["Properties"]["Name"]: schedule["Properties"]["State"]
            for schedule in synth.resources("AWS::Scheduler::Schedule").values()
        }
        for synth in (dev, prod)
    }
    assert states == {"dev": {"queue-report": "DISABLED"}, "prod": {"queue-report": "ENABLED"}}
    assert queues_drained_from_zero(prod) == set()  # prod keeps a worker: minimum 1
    assert schedules_that_keep_a_service_awake(prod) == []


def test_resuming_queue_report_in_dev_would_keep_its_worker_awake(dev_schedules: Synth) -> None:
    """dev as be8f71f shipped it: queue-report every 5 minutes, the worker at minimum 0."""
    assert shortest_gap("cron(0/5 * * * ? *)", "UTC") == timedelta(minutes=5)
    assert schedules_that_keep_a_service_awake(dev_schedules) == ["queue-report"]
