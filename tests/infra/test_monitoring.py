"""Monitoring: log groups with retention, the four alarms, the dashboard."""

from __future__ import annotations

import json

import pytest
from aws_cdk.assertions import Match

from tests.infra.conftest import Synth, container, get_att, only, service_for

pytestmark = pytest.mark.timeout(300)

FOURTEEN_DAYS = 14 * 24 * 3600


def test_every_log_group_has_retention(dev: Synth, prod: Synth) -> None:
    for synth in (dev, prod):
        groups = synth.resources("AWS::Logs::LogGroup")
        assert len(groups) == 3  # web, worker, VPC flow log
        for group in groups.values():
            assert group["Properties"]["RetentionInDays"] == synth.stack.config.log_retention_days
        expected = "Retain" if synth.stack.config.is_prod else "Delete"
        assert {g["DeletionPolicy"] for g in groups.values()} == {expected}


@pytest.mark.parametrize("name", ["web", "worker"])
def test_containers_log_to_their_own_group(dev: Synth, name: str) -> None:
    options = container(dev, name)["LogConfiguration"]["Options"]
    group_id = options["awslogs-group"]["Ref"]
    assert dev.resources("AWS::Logs::LogGroup")[group_id]
    other = "worker" if name == "web" else "web"
    assert container(dev, other)["LogConfiguration"]["Options"]["awslogs-group"] != {
        "Ref": group_id
    }


def test_dead_letter_queue_alarm_fires_on_one_message(dev: Synth) -> None:
    dlq = dev.template.find_resources(
        "AWS::SQS::Queue", {"Properties": {"MessageRetentionPeriod": FOURTEEN_DAYS}}
    )
    dev.template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "Namespace": "AWS/SQS",
            "MetricName": "ApproximateNumberOfMessagesVisible",
            "Dimensions": [{"Name": "QueueName", "Value": get_att(dlq, "QueueName")}],
            "ComparisonOperator": "GreaterThanThreshold",
            "Threshold": 0,
        },
    )


def test_oldest_message_age_alarm(dev: Synth) -> None:
    queue = dev.template.find_resources(
        "AWS::SQS::Queue", {"Properties": {"RedrivePolicy": Match.any_value()}}
    )
    dev.template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "Namespace": "AWS/SQS",
            "MetricName": "ApproximateAgeOfOldestMessage",
            "Dimensions": [{"Name": "QueueName", "Value": get_att(queue, "QueueName")}],
            "ComparisonOperator": "GreaterThanThreshold",
            "Threshold": dev.stack.config.oldest_message_alarm_seconds,
        },
    )


def test_alb_5xx_alarm_sums_load_balancer_and_target_errors(dev: Synth) -> None:
    dev.template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "Threshold": dev.stack.config.alb_5xx_alarm_threshold,
            "ComparisonOperator": "GreaterThanThreshold",
            "Metrics": Match.array_with(
                [
                    Match.object_like({"Expression": "FILL(elb5xx, 0) + FILL(target5xx, 0)"}),
                    Match.object_like(
                        {
                            "MetricStat": Match.object_like(
                                {
                                    "Metric": Match.object_like(
                                        {
                                            "Namespace": "AWS/ApplicationELB",
                                            "MetricName": "HTTPCode_ELB_5XX_Count",
                                        }
                                    )
                                }
                            )
                        }
                    ),
                    Match.object_like(
                        {
                            "MetricStat": Match.object_like(
                                {
                                    "Metric": Match.object_like(
                                        {"MetricName": "HTTPCode_Target_5XX_Count"}
                                    )
                                }
                            )
                        }
                    ),
                ]
            ),
        },
    )


def test_backlog_without_running_workers_alarm(dev: Synth) -> None:
    minutes = dev.stack.config.backlog_without_workers_alarm_minutes
    alarms = dev.template.find_resources(
        "AWS::CloudWatch::Alarm",
        {
            "Properties": {
                "EvaluationPeriods": minutes,
                "DatapointsToAlarm": minutes,
                "Threshold": 1,
                "Metrics": Match.array_with(
                    [Match.object_like({"Expression": "IF(FILL(running, 0) == 0, visible, 0)"})]
                ),
            }
        },
    )
    _, alarm = only(alarms)
    assert "AlarmActions" not in alarm["Properties"]  # a notification, not the wake-up rule


def test_alarms_notify_a_topic_given_in_context(dev: Synth, prod_endpoints: Synth) -> None:
    topic = prod_endpoints.stack.config.alarm_topic_arn
    assert topic is not None
    notifying = prod_endpoints.template.find_resources(
        "AWS::CloudWatch::Alarm",
        {"Properties": {"AlarmActions": [topic], "OKActions": [topic]}},
    )
    assert len(notifying) == 4
    assert not dev.template.find_resources(
        "AWS::CloudWatch::Alarm", {"Properties": {"OKActions": Match.any_value()}}
    )


def test_dashboard_shows_queue_workers_and_load_balancer(dev: Synth) -> None:
    dashboards = dev.resources("AWS::CloudWatch::Dashboard")
    _, dashboard = only(dashboards)
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    for needle in (
        "ApproximateNumberOfMessagesVisible",
        "ApproximateAgeOfOldestMessage",
        "RunningTaskCount",
        "RequestCount",
        "TargetResponseTime",
        "HTTPCode_ELB_5XX_Count",
        "HTTPCode_Target_5XX_Count",
    ):
        assert needle in body, needle
    worker_id, _ = service_for(dev, "worker")
    assert worker_id in body
