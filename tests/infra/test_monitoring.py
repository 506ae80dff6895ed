"""Monitoring: log groups with retention, the alarms, the dashboard, the per-task metrics."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Match
from taskqueue.catalogue.registry import TASKS

from infra.stack import worker_container_name
from tests.infra.conftest import (
    Synth,
    container,
    container_env,
    get_att,
    offered_tasks,
    only,
    ref_to,
    service_for,
    task_queue_pair,
)

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
    dlq = task_queue_pair(dev, {"MessageRetentionPeriod": FOURTEEN_DAYS})
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
    queue = task_queue_pair(dev, {"RedrivePolicy": Match.any_value()})
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
    # One per queue and its worker service (tests/infra/test_queues.py).
    assert len(alarms) == len(dev.stack.queues)
    for alarm in alarms.values():
        # A notification, not the wake-up rule: its only action is the alarm topic.
        assert alarm["Properties"]["AlarmActions"] == [ref_to(dev.resources("AWS::SNS::Topic"))]


def test_alarms_notify_a_topic_given_in_context(dev: Synth, prod_endpoints: Synth) -> None:
    topic = prod_endpoints.stack.config.alarm_topic_arn
    assert topic is not None
    notifying = prod_endpoints.template.find_resources(
        "AWS::CloudWatch::Alarm",
        {"Properties": {"AlarmActions": [topic], "OKActions": [topic]}},
    )
    # The four above (DLQ, oldest message and backlog without workers: each queue's), the
    # no-healthy-targets alarm, the schedules' DLQ alarm and one failure-rate alarm per task.
    other_queues = len(prod_endpoints.stack.queues) - 1
    assert len(notifying) == 6 + 3 * other_queues + len(offered_tasks(prod_endpoints))
    prod_endpoints.template.resource_count_is("AWS::SNS::Topic", 0)
    prod_endpoints.template.resource_count_is("AWS::KMS::Key", 0)
    prod_endpoints.template.has_resource_properties(
        "AWS::Events::Rule", {"Targets": [Match.object_like({"Arn": topic})]}
    )
    # Without one, the stack's own topic (next test), never nobody.
    assert dev.template.find_resources(
        "AWS::CloudWatch::Alarm", {"Properties": {"OKActions": Match.any_value()}}
    )


def test_dashboard_shows_queue_workers_and_load_balancer(dev_insights: Synth) -> None:
    dashboards = dev_insights.resources("AWS::CloudWatch::Dashboard")
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
    worker_id, _ = service_for(dev_insights, "worker")
    assert worker_id in body


def test_without_a_topic_arn_the_stack_makes_an_encrypted_topic(
    dev_insights: Synth, prod_spot_email: Synth
) -> None:
    """Alarms notify somebody by default: the stack's topic, KMS-encrypted, TLS only."""
    topics = dev_insights.resources("AWS::SNS::Topic")
    topic_ref = ref_to(topics)
    _, topic = only(topics)
    keys = dev_insights.resources("AWS::KMS::Key")
    assert topic["Properties"]["KmsMasterKeyId"] == get_att(keys, "Arn")
    _, key = only(keys)
    assert key["Properties"]["EnableKeyRotation"] is True
    # CloudWatch (the alarms) and EventBridge (the deployment rule) publish: they need the key.
    publishers = {
        statement["Principal"]["Service"]
        for statement in key["Properties"]["KeyPolicy"]["Statement"]
        if set(statement["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}
    }
    assert publishers == {"cloudwatch.amazonaws.com", "events.amazonaws.com"}
    dev_insights.template.has_resource_properties(
        "AWS::SNS::TopicPolicy",
        {
            "Topics": [topic_ref],
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Effect": "Deny",
                                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                            }
                        )
                    ]
                )
            },
        },
    )
    alarms = dev_insights.resources("AWS::CloudWatch::Alarm")
    notifying = dev_insights.template.find_resources(
        "AWS::CloudWatch::Alarm",
        {"Properties": {"AlarmActions": [topic_ref], "OKActions": [topic_ref]}},
    )
    # All but the wake-up alarms, one per worker service.
    assert len(notifying) == len(alarms) - len(dev_insights.stack.queues)
    assert dev_insights.json["Outputs"]["AlarmTopicArn"]["Value"] == topic_ref
    dev_insights.template.resource_count_is("AWS::SNS::Subscription", 0)
    prod_spot_email.template.has_resource_properties(
        "AWS::SNS::Subscription",
        {
            "Protocol": "email",
            "Endpoint": "ops@example.com",
            "TopicArn": ref_to(prod_spot_email.resources("AWS::SNS::Topic")),
        },
    )


def test_cloudwatch_alarms_of_this_account_may_publish_to_the_alarm_topic(
    dev: Synth, prod_spot_email: Synth
) -> None:
    """A topic policy replaces SNS's default one, which is what let same-account alarms
    publish: without its own statement every alarm's notification fails ("not authorized to
    perform: SNS:Publish", AWS knowledge center cloudwatch-receive-sns-for-alarm-trigger)."""
    for synth in (dev, prod_spot_email):
        topic_ref = ref_to(synth.resources("AWS::SNS::Topic"))
        _, policy = only(synth.resources("AWS::SNS::TopicPolicy"))
        assert policy["Properties"]["Topics"] == [topic_ref]
        publishers = [
            statement
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]
            if statement["Effect"] == "Allow"
            and statement.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}
        ]
        assert publishers == [
            {
                "Sid": "CloudWatchAlarms",
                "Effect": "Allow",
                "Principal": {"Service": "cloudwatch.amazonaws.com"},
                "Action": "sns:Publish",
                "Resource": topic_ref,
                # This account's alarms in this region, none of another account's.
                "Condition": {
                    "ArnLike": {
                        "aws:SourceArn": {
                            "Fn::Join": [
                                "",
                                [
                                    "arn:",
                                    {"Ref": "AWS::Partition"},
                                    ":cloudwatch:",
                                    {"Ref": "AWS::Region"},
                                    ":",
                                    {"Ref": "AWS::AccountId"},
                                    ":alarm:*",
                                ],
                            ]
                        }
                    }
                },
            }
        ]


def test_a_failed_deployment_of_any_service_notifies_the_topic(dev: Synth) -> None:
    web_id, _ = service_for(dev, "web")
    worker_ids = [service_for(dev, worker_container_name(name))[0] for name in dev.stack.queues]
    _, rule = only(dev.resources("AWS::Events::Rule"))
    assert rule["Properties"]["EventPattern"] == {
        "source": ["aws.ecs"],
        "detail-type": ["ECS Deployment State Change"],
        # A service's Ref is its ARN: the web's and each queue's worker service's.
        "resources": [{"Ref": web_id}, *({"Ref": worker_id} for worker_id in worker_ids)],
        "detail": {"eventName": ["SERVICE_DEPLOYMENT_FAILED"]},
    }
    (target,) = rule["Properties"]["Targets"]
    assert target["Arn"] == ref_to(dev.resources("AWS::SNS::Topic"))
    assert "$.detail.reason" in json.dumps(target["InputTransformer"])
    # EventBridge may publish: the topic policy says so.
    dev.template.has_resource_properties(
        "AWS::SNS::TopicPolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Action": "sns:Publish",
                                "Principal": {"Service": "events.amazonaws.com"},
                            }
                        )
                    ]
                )
            }
        },
    )


def test_no_healthy_target_alarm(dev: Synth) -> None:
    target_groups = dev.resources("AWS::ElasticLoadBalancingV2::TargetGroup")
    (target_group_id,) = target_groups
    alarms = dev.template.find_resources(
        "AWS::CloudWatch::Alarm",
        {
            "Properties": {
                "Namespace": "AWS/ApplicationELB",
                "MetricName": "HealthyHostCount",
                "Statistic": "Minimum",
                "Threshold": 1,
                "ComparisonOperator": "LessThanThreshold",
            }
        },
    )
    _, alarm = only(alarms)
    dimensions = {d["Name"]: d["Value"] for d in alarm["Properties"]["Dimensions"]}
    assert dimensions["TargetGroup"] == {"Fn::GetAtt": [target_group_id, "TargetGroupFullName"]}
    assert set(dimensions) == {"LoadBalancer", "TargetGroup"}


def dashboard_widgets(synth: Synth) -> list[dict[str, Any]]:
    """The dashboard's widgets, parsed; CloudFormation references read as "<ref>"."""
    _, dashboard = only(synth.resources("AWS::CloudWatch::Dashboard"))
    body = dashboard["Properties"]["DashboardBody"]
    parts = body["Fn::Join"][1] if isinstance(body, dict) else [body]
    text = "".join(part if isinstance(part, str) else "<ref>" for part in parts)
    widgets: list[dict[str, Any]] = json.loads(text)["widgets"]
    return widgets


def test_the_dashboard_has_a_row_per_offered_task(dev: Synth) -> None:
    """Runs and failures, run-time percentiles and queue wait of each task the worker offers,
    in the stack's own namespace, by the TaskName dimension the worker's EMF lines carry."""
    titled = {w["properties"].get("title"): w["properties"] for w in dashboard_widgets(dev)}
    assert offered_tasks(dev)  # the tasks the worker runs
    withheld = set(TASKS) - offered_tasks(dev)  # the diagnostic ones: dev offers none
    assert withheld and not [t for t in titled if t and t.split(":")[0] in withheld]
    for name in offered_tasks(dev):
        runs = titled[f"{name}: runs per minute"]["metrics"]
        run_time = titled[f"{name}: run time (ms)"]["metrics"]
        queue_wait = titled[f"{name}: queue wait (ms)"]["metrics"]
        plotted = {tuple(m[:4]) for m in runs if isinstance(m[0], str)}  # not the expression
        assert plotted >= {
            ("TaskQueue/taskqueue-dev", metric, "TaskName", name)
            for metric in ("Succeeded", "Failed")
        }
        expressions = [m[0]["expression"] for m in runs if isinstance(m[0], dict)]
        assert expressions == ["succeeded + failed"]  # the throughput line
        assert [(*m[:4], m[4]["stat"]) for m in run_time] == [
            ("TaskQueue/taskqueue-dev", "RunTime", "TaskName", name, stat)
            for stat in ("p50", "p95", "p99")
        ]
        assert [(*m[:4], m[4]["stat"]) for m in queue_wait] == [
            ("TaskQueue/taskqueue-dev", "QueueWait", "TaskName", name, stat)
            for stat in ("p50", "p95")
        ]


def test_each_offered_task_has_a_failure_rate_alarm_that_notifies(dev: Synth) -> None:
    topic_ref = ref_to(dev.resources("AWS::SNS::Topic"))
    alarms = dev.template.find_resources(
        "AWS::CloudWatch::Alarm",
        {
            "Properties": {
                "Threshold": 0.2,  # cdk.json's taskFailureRateAlarm
                "ComparisonOperator": "GreaterThanThreshold",
                "TreatMissingData": "notBreaching",
                "AlarmActions": [topic_ref],
                "OKActions": [topic_ref],
            }
        },
    )
    by_task = {}
    for alarm in alarms.values():
        queries = {query["Id"]: query for query in alarm["Properties"]["Metrics"]}
        [returned] = [query for query in queries.values() if query.get("ReturnData", True)]
        assert returned["Expression"] == "failed / (succeeded + failed)"
        stats = {key: queries[key]["MetricStat"] for key in ("succeeded", "failed")}
        assert {key: stat["Metric"]["MetricName"] for key, stat in stats.items()} == {
            "succeeded": "Succeeded",
            "failed": "Failed",
        }
        assert {stat["Stat"] for stat in stats.values()} == {"Sum"}
        assert {stat["Period"] for stat in stats.values()} == {300}
        assert {stat["Metric"]["Namespace"] for stat in stats.values()} == {
            "TaskQueue/taskqueue-dev"
        }
        [dimensions] = {json.dumps(stat["Metric"]["Dimensions"]) for stat in stats.values()}
        [dimension] = json.loads(dimensions)
        assert dimension["Name"] == "TaskName"
        by_task[dimension["Value"]] = alarm
    assert set(by_task) == offered_tasks(dev)


def test_the_containers_log_their_metrics_in_the_stack_namespace(dev: Synth, prod: Synth) -> None:
    assert container_env(dev, "worker")["METRICS_NAMESPACE"] == "TaskQueue/taskqueue-dev"
    assert container_env(prod, "worker")["METRICS_NAMESPACE"] == "TaskQueue/taskqueue-prod"
    assert "TASK_METRICS" not in container_env(dev, "worker")  # on: the default


def dead_letter_queue_ids(synth: Synth) -> set[str]:
    """Queues something dead-letters into: an SQS redrive's target or a schedule's DLQ."""
    found = set()
    for queue in synth.resources("AWS::SQS::Queue").values():
        if redrive := queue["Properties"].get("RedrivePolicy"):
            found.add(redrive["deadLetterTargetArn"]["Fn::GetAtt"][0])
    for schedule in synth.resources("AWS::Scheduler::Schedule").values():
        found.add(schedule["Properties"]["Target"]["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0])
    return found


def test_a_dead_letter_alarm_stays_in_alarm_when_sqs_stops_publishing(
    dev: Synth, prod: Synth
) -> None:
    """SQS publishes a queue's metrics only while it is active: six hours after its last API
    call a DLQ still holding a message has no data. Missing data must keep the alarm's state
    (ignore): not breaching would turn it back to OK with the message still there, and
    breaching would alarm on an empty idle DLQ. Every DLQ: each queue's and the
    schedules'."""
    for synth in (dev, prod):
        queues = dead_letter_queue_ids(synth)
        assert len(queues) == len(synth.stack.queues) + 1
        for queue_id in queues:
            alarms = synth.template.find_resources(
                "AWS::CloudWatch::Alarm",
                {
                    "Properties": {
                        "MetricName": "ApproximateNumberOfMessagesVisible",
                        "Dimensions": [
                            {"Name": "QueueName", "Value": {"Fn::GetAtt": [queue_id, "QueueName"]}}
                        ],
                    }
                },
            )
            _, alarm = only(alarms)
            assert alarm["Properties"]["TreatMissingData"] == "ignore", queue_id


def test_no_data_from_the_target_group_is_no_healthy_target(dev: Synth) -> None:
    """HealthyHostCount is reported for the targets the health checks see: with no target
    registered at all (the web service at 0 tasks, every task stopped) there is no data,
    which is no healthy target, the outage the alarm is for."""
    alarms = dev.template.find_resources(
        "AWS::CloudWatch::Alarm", {"Properties": {"MetricName": "HealthyHostCount"}}
    )
    _, alarm = only(alarms)
    assert alarm["Properties"]["TreatMissingData"] == "breaching"
