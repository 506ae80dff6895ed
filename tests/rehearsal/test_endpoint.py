"""The rehearsal's endpoint: a stack a change set made (the CDK CLI's way) has its outputs,
CloudFormation creates a tagged KMS key (the alarm topic's) and lists what it created, and a
Query of an index is authorized against the index's ARN."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import requests
from botocore.exceptions import ClientError

from rehearsal.deploy import REPO
from rehearsal.local_aws import LocalAws
from rehearsal.runner import free_port

pytestmark = pytest.mark.timeout(60)

TEMPLATE = {
    "Resources": {
        "Queue": {"Type": "AWS::SQS::Queue", "Properties": {}},
        # moto's CloudFormation skips any alarm: an output naming one cannot be resolved.
        "Alarm": {"Type": "AWS::CloudWatch::Alarm", "Properties": {}},
    },
    "Outputs": {
        "QueueUrl": {"Value": {"Ref": "Queue"}, "Description": "the queue"},
        "QueueArn": {"Value": {"Fn::Join": ["", ["arn=", {"Fn::GetAtt": ["Queue", "Arn"]}]]}},
        "AlarmName": {"Value": {"Ref": "Alarm"}},
    },
}


@contextmanager
def endpoint() -> Iterator[LocalAws]:
    """The rehearsal's endpoint on a free port, stopped at the end."""
    local = LocalAws(port=free_port())
    server = subprocess.Popen(
        [sys.executable, "-m", "rehearsal.endpoint", str(local.port)],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(f"{local.url}/moto-api/", timeout=2)
                break
            except requests.ConnectionError:
                assert server.poll() is None and time.monotonic() < deadline, "no endpoint"
                time.sleep(0.2)
        yield local
    finally:
        server.terminate()
        server.wait(10)


def deploy_by_change_set(aws: LocalAws, name: str, template: dict[str, Any]) -> Any:
    """Make stack `name` as the CDK CLI does (a change set, then its execution); the client."""
    cloudformation = aws.client("cloudformation")
    cloudformation.create_change_set(
        StackName=name,
        ChangeSetName="cdk-deploy-change-set",
        ChangeSetType="CREATE",
        TemplateBody=json.dumps(template),
    )
    cloudformation.execute_change_set(StackName=name, ChangeSetName="cdk-deploy-change-set")
    return cloudformation


@pytest.fixture(scope="module")
def aws() -> Iterator[LocalAws]:
    """One endpoint for the CloudFormation tests."""
    with endpoint() as local:
        yield local


def test_a_stack_made_by_a_change_set_has_the_outputs_of_what_was_created(aws: LocalAws) -> None:
    cloudformation = deploy_by_change_set(aws, "outputs", TEMPLATE)

    (stack,) = cloudformation.describe_stacks(StackName="outputs")["Stacks"]

    outputs = {output["OutputKey"]: output for output in stack.get("Outputs", [])}
    queue_name = outputs["QueueUrl"]["OutputValue"].rsplit("/", 1)[1]
    assert queue_name.startswith("outputs-Queue-")
    aws.client("sqs").get_queue_url(QueueName=queue_name)  # the queue the stack made
    assert outputs["QueueUrl"]["Description"] == "the queue"
    assert (
        outputs["QueueArn"]["OutputValue"] == f"arn=arn:aws:sqs:us-east-1:123456789012:{queue_name}"
    )
    # The skipped alarm's output is left out; DescribeStacks still answers.
    assert "AlarmName" not in outputs


def test_a_tagged_kms_key_and_what_names_it_are_created_and_listed(aws: LocalAws) -> None:
    template = {
        "Resources": {
            "Key": {
                "Type": "AWS::KMS::Key",
                "Properties": {
                    "KeyPolicy": {"Version": "2012-10-17", "Statement": []},
                    "Tags": [{"Key": "project", "Value": "taskqueue"}],
                },
            },
            "Topic": {
                "Type": "AWS::SNS::Topic",
                "Properties": {"KmsMasterKeyId": {"Fn::GetAtt": ["Key", "Arn"]}},
            },
        },
        "Outputs": {"TopicArn": {"Value": {"Ref": "Topic"}}},
    }
    cloudformation = deploy_by_change_set(aws, "tagged-key", template)

    summaries = cloudformation.list_stack_resources(StackName="tagged-key")
    created = {
        summary["LogicalResourceId"]: summary["PhysicalResourceId"]
        for summary in summaries["StackResourceSummaries"]
    }
    assert set(created) == {"Key", "Topic"}
    tags = aws.client("kms").list_resource_tags(KeyId=created["Key"])["Tags"]
    assert tags == [{"TagKey": "project", "TagValue": "taskqueue"}]
    (stack,) = cloudformation.describe_stacks(StackName="tagged-key")["Stacks"]
    assert stack["Outputs"][0]["OutputValue"] == created["Topic"]


def test_the_resources_listed_are_the_ones_created_even_beside_a_skipped_alarm(
    aws: LocalAws,
) -> None:
    """moto skips the alarm; re-parsing it for the list failed on the target group's
    TargetGroupFullName, an attribute moto does not have."""
    template = {
        "Resources": {
            "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.0.0.0/16"}},
            "Targets": {
                "Type": "AWS::ElasticLoadBalancingV2::TargetGroup",
                "Properties": {
                    "Port": 80,
                    "Protocol": "HTTP",
                    "TargetType": "ip",
                    "VpcId": {"Ref": "Vpc"},
                },
            },
            "NoHealthyTargets": {
                "Type": "AWS::CloudWatch::Alarm",
                "Properties": {
                    "Namespace": "AWS/ApplicationELB",
                    "MetricName": "HealthyHostCount",
                    "Dimensions": [
                        {
                            "Name": "TargetGroup",
                            "Value": {"Fn::GetAtt": ["Targets", "TargetGroupFullName"]},
                        }
                    ],
                    "Statistic": "Minimum",
                    "Period": 60,
                    "EvaluationPeriods": 2,
                    "Threshold": 1,
                    "ComparisonOperator": "LessThanThreshold",
                },
            },
        }
    }
    cloudformation = deploy_by_change_set(aws, "skipped-alarm", template)

    summaries = cloudformation.list_stack_resources(StackName="skipped-alarm")

    listed = {s["LogicalResourceId"]: s for s in summaries["StackResourceSummaries"]}
    assert set(listed) == {"Vpc", "Targets"}
    assert listed["Targets"]["ResourceType"] == "AWS::ElasticLoadBalancingV2::TargetGroup"
    assert listed["Targets"]["PhysicalResourceId"].startswith("arn:aws:elasticloadbalancing:")


def test_a_query_of_an_index_is_authorized_against_the_index_not_the_table() -> None:
    """The web's role may Query the results table's index and nothing else (GET /tasks,
    GET /workers), as the stack grants it; AWS checks such a Query against the index's ARN."""
    with endpoint() as aws:
        dynamodb = aws.client("dynamodb")
        table = dynamodb.create_table(
            TableName="results",
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[
                {"AttributeName": "id", "AttributeType": "S"},
                {"AttributeName": "client", "AttributeType": "S"},
            ],
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": "by_client",
                    "KeySchema": [{"AttributeName": "client", "KeyType": "HASH"}],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
        )["TableDescription"]
        iam = aws.client("iam")
        trust = {"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}}
        role = iam.create_role(
            RoleName="web",
            AssumeRolePolicyDocument=json.dumps(
                {"Version": "2012-10-17", "Statement": [{**trust, "Action": "sts:AssumeRole"}]}
            ),
        )["Role"]
        query_index = {
            "Effect": "Allow",
            "Action": "dynamodb:Query",
            "Resource": f"{table['TableArn']}/index/by_client",
        }
        iam.put_role_policy(
            RoleName="web",
            PolicyName="index",
            PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [query_index]}),
        )
        web = aws.assume(role["Arn"], "web")
        aws.enforce_iam()
        as_web = aws.client("dynamodb", web)
        query = {
            "TableName": "results",
            "KeyConditionExpression": "#c = :c",
            "ExpressionAttributeNames": {"#c": "client"},
            "ExpressionAttributeValues": {":c": {"S": "billing"}},
        }

        assert as_web.query(IndexName="by_client", **query)["Count"] == 0
        with pytest.raises(ClientError) as denied:  # the table itself stays denied
            as_web.query(
                TableName="results",
                KeyConditionExpression="id = :id",
                ExpressionAttributeValues={":id": {"S": "x"}},
            )
        assert denied.value.response["Error"]["Code"] in {"403", "AccessDenied"}
