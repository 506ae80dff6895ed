"""The periodic tasks' schedules: each sends to the task queue only, with a role that may only
send there, retries into a DLQ of their own that has an alarm; a stage can switch them off."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk.assertions import Match
from taskqueue.factory import declared_schedules as declared

from infra.config import ConfigError, InfraConfig
from tests.infra.conftest import Synth, cdk_json_context, logical_id, only, synthesize

pytestmark = pytest.mark.timeout(300)


def arn_of(synth: Synth, queue: Any) -> dict[str, Any]:
    return {"Fn::GetAtt": [logical_id(synth, queue), "Arn"]}


def schedules_of(synth: Synth) -> dict[str, dict[str, Any]]:
    found = synth.resources("AWS::Scheduler::Schedule")
    return {schedule["Properties"]["Name"]: schedule["Properties"] for schedule in found.values()}


def role_statements(synth: Synth, role_id: str) -> list[dict[str, Any]]:
    role = synth.resources("AWS::IAM::Role")[role_id]["Properties"]
    assert "ManagedPolicyArns" not in role and "Policies" not in role
    return [
        statement
        for policy in synth.resources("AWS::IAM::Policy").values()
        if {"Ref": role_id} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def test_one_schedule_per_declaration_each_on_time_into_the_task_queue(prod: Synth) -> None:
    found = schedules_of(prod)
    task_queue = arn_of(prod, prod.stack.task_queue.queue)

    assert set(found) == set(declared())
    for name, schedule in found.items():
        assert schedule["ScheduleExpression"] == declared()[name].expression
        assert schedule["ScheduleExpressionTimezone"] == declared()[name].timezone
        assert schedule["FlexibleTimeWindow"] == {"Mode": "OFF"}
        assert schedule["State"] == "ENABLED"
        target = schedule["Target"]
        assert target["Arn"] == task_queue
        assert target["RetryPolicy"]["MaximumRetryAttempts"] >= 1
        assert schedule["GroupName"] == {
            "Ref": only(prod.resources("AWS::Scheduler::ScheduleGroup"))[0]
        }


def test_the_role_may_only_send_to_the_task_queue_and_the_schedules_dlq(dev: Synth) -> None:
    assert dev.stack.schedules is not None
    targets = {
        schedule["Target"]["RoleArn"]["Fn::GetAtt"][0] for schedule in schedules_of(dev).values()
    }
    (role_id,) = targets
    role = dev.resources("AWS::IAM::Role")[role_id]["Properties"]
    [trust] = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "scheduler.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}

    statements = role_statements(dev, role_id)
    allowed = {
        "task queue": arn_of(dev, dev.stack.task_queue.queue),
        "schedules' DLQ": arn_of(dev, dev.stack.schedules.dead_letter_queue),
    }
    resources = []
    for statement in statements:
        assert statement["Effect"] == "Allow" and statement["Action"] == "sqs:SendMessage"
        named = statement["Resource"]
        resources.extend(named if isinstance(named, list) else [named])
    assert sorted(map(str, resources)) == sorted(map(str, allowed.values()))
    # Not the task queue's DLQ, not the table: nothing but those two queues.
    assert arn_of(dev, dev.stack.task_queue.dead_letter_queue) not in resources


def test_undeliverable_fires_go_to_an_encrypted_tls_only_dlq_with_an_alarm(dev: Synth) -> None:
    assert dev.stack.schedules is not None
    dlq = dev.stack.schedules.dead_letter_queue
    dlq_id = logical_id(dev, dlq)
    for schedule in schedules_of(dev).values():
        assert schedule["Target"]["DeadLetterConfig"] == {"Arn": arn_of(dev, dlq)}
    assert dev.resources("AWS::SQS::Queue")[dlq_id]["Properties"]["SqsManagedSseEnabled"] is True
    dev.template.has_resource_properties(
        "AWS::SQS::QueuePolicy",
        {
            "Queues": [{"Ref": dlq_id}],
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
    topic = logical_id(dev, dev.stack.alarm_topic)
    dev.template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "MetricName": "ApproximateNumberOfMessagesVisible",
            "Dimensions": [{"Name": "QueueName", "Value": {"Fn::GetAtt": [dlq_id, "QueueName"]}}],
            "ComparisonOperator": "GreaterThanThreshold",
            "Threshold": 0,
            "AlarmActions": [{"Ref": topic}],
        },
    )


@pytest.fixture(scope="module")
def disabled(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    """dev with its one schedule switched off by name, as `-c disabledSchedules=[...]` gives it."""
    return synthesize(
        tmp_path_factory.mktemp("cdk-disabled"), {"disabledSchedules": '["queue-report"]'}
    )


def test_a_stage_can_switch_schedules_off(disabled: Synth) -> None:
    for resource_type in ("AWS::Scheduler::Schedule", "AWS::Scheduler::ScheduleGroup"):
        assert disabled.resources(resource_type) == {}
    assert disabled.stack.schedules is None


def config(**overrides: Any) -> InfraConfig:
    context = {**cdk_json_context(), **overrides}
    return InfraConfig.from_context(context)


def test_schedules_false_makes_none_and_an_unknown_name_is_refused() -> None:
    assert [s.name for s in config().enabled_schedules] == ["queue-report"]
    assert config(schedules="false").enabled_schedules == []
    with pytest.raises(
        ConfigError, match=r"no declared schedule is named 'nightly' \(declared: queue-report\)"
    ):
        config(disabledSchedules='["nightly"]')


def test_a_refused_fire_is_retried_5_times_within_15_minutes(dev: Synth) -> None:
    """infra/README.md: `RetryPolicy` 5 attempts within 15 minutes, then the DLQ."""
    for schedule in schedules_of(dev).values():
        assert schedule["Target"]["RetryPolicy"] == {
            "MaximumRetryAttempts": 5,
            "MaximumEventAgeInSeconds": 15 * 60,
        }


def test_the_schedule_group_is_named_after_the_stack(dev: Synth, prod: Synth) -> None:
    for synth in (dev, prod):
        _, group = only(synth.resources("AWS::Scheduler::ScheduleGroup"))
        assert group["Properties"]["Name"] == synth.stack.stack_name


def test_a_paused_schedule_is_a_declared_one() -> None:
    assert config().paused_schedules == ["queue-report"]  # dev (cdk.json)
    assert config(stage="prod").paused_schedules == []
    with pytest.raises(
        ConfigError, match=r"no declared schedule is named 'nightly' \(declared: queue-report\)"
    ):
        config(pausedSchedules='["nightly"]')
