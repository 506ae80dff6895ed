"""`taskqueue verify` end to end against moto's server with a real worker and web.

The stage's stack is made in moto with CloudFormation: its template declares what the app's
does (a target group, a task queue and its DLQ, a schedule and its DLQ, an alarm, the payload
bucket), and its outputs name the running local stack's queue and table; `--url` is the local
web. moto's CloudFormation skips the alarm and the schedule, sets no bucket lifecycle, and
nothing registers a target, so those checks are not verifiable offline; the others pass, and
a message in a DLQ fails the run.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from harness.stack import LocalStack
from tests.cli.conftest import Cli, write_cdk_json
from tests.verify_report import named, outcomes

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

PASSING = {
    "api key",
    "task to SUCCESS",
    "worker presence",
    "task DLQ",
    "schedules DLQ",
    "api key revoked",
}
NOT_VERIFIABLE_OFFLINE = {
    "load balancer targets",
    "alarm notification",
    "schedule queue-report",
    "payload bucket",
}


def template(stack: LocalStack) -> dict[str, Any]:
    """The app's kinds of resources, and outputs naming the local stack's queue and table."""
    queue_arn = {"Fn::GetAtt": ["TaskQueue", "Arn"]}
    resources = {
        "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.0.0.0/16"}},
        "WebTargets": {
            "Type": "AWS::ElasticLoadBalancingV2::TargetGroup",
            "Properties": {
                "Port": 8000,
                "Protocol": "HTTP",
                "TargetType": "ip",
                "VpcId": {"Ref": "Vpc"},
            },
        },
        "TaskDlq": {"Type": "AWS::SQS::Queue", "Properties": {}},
        "TaskQueue": {
            "Type": "AWS::SQS::Queue",
            "Properties": {
                "RedrivePolicy": {
                    "deadLetterTargetArn": {"Fn::GetAtt": ["TaskDlq", "Arn"]},
                    "maxReceiveCount": 3,
                }
            },
        },
        "SchedulesDlq": {"Type": "AWS::SQS::Queue", "Properties": {}},
        "Schedule": {
            "Type": "AWS::Scheduler::Schedule",
            "Properties": {
                "Name": "queue-report",
                "ScheduleExpression": "cron(0/5 * * * ? *)",
                "FlexibleTimeWindow": {"Mode": "OFF"},
                "Target": {
                    "Arn": queue_arn,
                    "RoleArn": "arn:aws:iam::123456789012:role/scheduler",
                    "DeadLetterConfig": {"Arn": {"Fn::GetAtt": ["SchedulesDlq", "Arn"]}},
                },
            },
        },
        "PayloadBucket": {
            "Type": "AWS::S3::Bucket",
            "Properties": {
                "LifecycleConfiguration": {
                    "Rules": [
                        {"Id": "expire-results", "Prefix": "results/", "ExpirationInDays": 1},
                    ]
                }
            },
        },
        "DeadLetterMessages": {
            "Type": "AWS::CloudWatch::Alarm",
            "Properties": {
                "Namespace": "AWS/SQS",
                "MetricName": "ApproximateNumberOfMessagesVisible",
                "Statistic": "Maximum",
                "Period": 60,
                "EvaluationPeriods": 1,
                "Threshold": 0,
                "ComparisonOperator": "GreaterThanThreshold",
            },
        },
    }
    outputs = {
        "QueueUrl": stack.queue_url,
        "DlqUrl": stack.queue_url + "-dlq",
        "ResultsTableName": stack.settings.results_table,
    }
    return {
        "Resources": resources,
        "Outputs": {key: {"Value": value} for key, value in outputs.items()},
    }


def deploy(stack: LocalStack, cwd: Path) -> str:
    """The stage's stack in moto; its name in ./cdk.json; the stage."""
    stage = f"v{uuid.uuid4().hex[:8]}"
    stack.client("cloudformation").create_stack(
        StackName=f"taskqueue-{stage}", TemplateBody=json.dumps(template(stack))
    )
    write_cdk_json(cwd, stage, f"taskqueue-{stage}")
    return stage


def test_verify_passes_what_moto_can_check_and_names_the_rest(
    full_stack: LocalStack, tmp_path: Path
) -> None:
    stage = deploy(full_stack, tmp_path)
    cli = Cli(env=full_stack.env, cwd=tmp_path)

    result = cli("verify", "--stage", stage, "--url", full_stack.web_url, timeout=90)

    assert result.returncode == 0, result.stdout + result.stderr
    found = outcomes(result.stdout)
    assert named(found, "PASS") == PASSING, result.stdout
    assert named(found, "not verifiable offline") == NOT_VERIFIABLE_OFFLINE, result.stdout
    assert "long_task SUCCESS in" in result.stdout
    assert result.stdout.splitlines()[-1] == "6 passed, 0 failed, 4 not verifiable offline"
    # The key verify made is gone again.
    clients = cli("keys", "list", "--stage", stage, "--json")
    assert not [line for line in clients.stdout.splitlines() if '"verify-' in line]


def test_a_message_in_a_dead_letter_queue_fails_verify(
    full_stack: LocalStack, tmp_path: Path
) -> None:
    stage = deploy(full_stack, tmp_path)
    resources = full_stack.client("cloudformation").describe_stack_resource(
        StackName=f"taskqueue-{stage}", LogicalResourceId="TaskDlq"
    )
    dlq_url = resources["StackResourceDetail"]["PhysicalResourceId"]
    full_stack.client("sqs").send_message(QueueUrl=dlq_url, MessageBody="dead-lettered")
    cli = Cli(env=full_stack.env, cwd=tmp_path)

    result = cli("verify", "--stage", stage, "--url", full_stack.web_url, timeout=90)

    assert result.returncode == 1, result.stdout + result.stderr
    assert outcomes(result.stdout)["task DLQ"] == "FAIL"
    assert "1 message(s) in" in result.stdout
