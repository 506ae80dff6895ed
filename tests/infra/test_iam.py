"""IAM: the two task roles get exactly their lists of actions, on their queue and table (the
web's Query on the table's index only), and the worker's the task-protection actions on its
cluster's tasks."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk.assertions import Match

from infra.stack import worker_container_name
from tests.infra.conftest import Synth, get_att, logical_id, only, task_queue_pair

pytestmark = pytest.mark.timeout(300)

# The web's: an Idempotency-Key's record is the task's own PutItem, made conditional, and a
# repeat gives its waiting slot back (UpdateItem of the counter): nothing of its own.
WEB_ACTIONS = {
    "sqs:SendMessage",
    "sqs:GetQueueAttributes",
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:Query",
    "dynamodb:UpdateItem",
    "s3:PutObject",
    "s3:GetObject",
    "s3:ListBucket",
}
# The web's one conditioned statement: it may update a client's waiting counter only.
COUNTER_ONLY = {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["waiting#*"]}}
WORKER_ACTIONS = {
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibility",
    "sqs:GetQueueAttributes",
    "sqs:SendMessage",
    "dynamodb:UpdateItem",
    "dynamodb:GetItem",
    "ecs:UpdateTaskProtection",
    "ecs:GetTaskProtection",
    "s3:GetObject",
    "s3:PutObject",
    "s3:ListBucket",
}
WORKER_DLQ_ACTIONS = {"sqs:GetQueueAttributes", "sqs:ReceiveMessage"}
TASK_PROTECTION_ACTIONS = {"ecs:UpdateTaskProtection", "ecs:GetTaskProtection"}


def actions_of(statement: dict[str, Any]) -> list[str]:
    actions = statement["Action"]
    return [actions] if isinstance(actions, str) else list(actions)


def resources_of(statement: dict[str, Any]) -> list[Any]:
    """A statement's resources: CDK merges the statements of equal actions (minimizePolicies),
    such as the web's on every queue."""
    resources = statement["Resource"]
    return resources if isinstance(resources, list) else [resources]


def every_queue(synth: Synth) -> list[dict[str, Any]]:
    """The ARNs of every declared queue and its DLQ."""
    return [
        {"Fn::GetAtt": [logical_id(synth, queue), "Arn"]}
        for each in synth.stack.queues.values()
        for queue in (each.task_queue.queue, each.task_queue.dead_letter_queue)
    ]


def task_role_statements(synth: Synth, container_name: str) -> list[dict[str, Any]]:
    """Every policy statement attached to the task role of `container_name`."""
    task_definitions = synth.template.find_resources(
        "AWS::ECS::TaskDefinition",
        {
            "Properties": {
                "ContainerDefinitions": Match.array_with(
                    [Match.object_like({"Name": container_name})]
                )
            }
        },
    )
    assert len(task_definitions) == 1
    (task_definition,) = task_definitions.values()
    role_id = task_definition["Properties"]["TaskRoleArn"]["Fn::GetAtt"][0]
    role = synth.resources("AWS::IAM::Role")[role_id]
    assert "ManagedPolicyArns" not in role["Properties"]
    assert "Policies" not in role["Properties"]
    statements: list[dict[str, Any]] = []
    for policy in synth.resources("AWS::IAM::Policy").values():
        if {"Ref": role_id} in policy["Properties"]["Roles"]:
            statements.extend(policy["Properties"]["PolicyDocument"]["Statement"])
    assert statements
    return statements


def tasks_of_the_cluster(synth: Synth) -> dict[str, Any]:
    """arn:<partition>:ecs:<region>:<account>:task/<the stack's cluster>/* (the resource
    type `task` of the Service Authorization Reference, any task id)."""
    cluster = synth.resources("AWS::ECS::Cluster")
    assert len(cluster) == 1
    (cluster_id,) = cluster
    return {
        "Fn::Join": [
            "",
            [
                "arn:",
                {"Ref": "AWS::Partition"},
                ":ecs:",
                {"Ref": "AWS::Region"},
                ":",
                {"Ref": "AWS::AccountId"},
                ":task/",
                {"Ref": cluster_id},
                "/*",
            ],
        ]
    }


def payload_arns(synth: Synth) -> list[Any]:
    """The payload bucket's ARN and its two prefixes' objects' (tests/infra/test_payload_bucket.py
    says which role may do what where)."""
    bucket_arn = get_att(synth.resources("AWS::S3::Bucket"), "Arn")
    return [
        bucket_arn,
        *({"Fn::Join": ["", [bucket_arn, f"/{prefix}/*"]]} for prefix in ("params", "results")),
    ]


def index_of(table_arn: dict[str, Any]) -> dict[str, Any]:
    """The ARN of the results table's index `by_client`: the table's ARN + /index/by_client."""
    return {"Fn::Join": ["", [table_arn, "/index/by_client"]]}


def queue_and_table(synth: Synth) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """The default queue's ARN, its DLQ's and the table's (tests/infra/test_queues.py: the
    other queues')."""
    queue = task_queue_pair(synth, {"RedrivePolicy": Match.any_value()})
    # The task queue's DLQ is the one its redrive names (the schedules have their own).
    _, task_queue = only(queue)
    dlq_arn = task_queue["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]
    table = synth.resources("AWS::DynamoDB::Table")
    return get_att(queue, "Arn"), dlq_arn, get_att(table, "Arn")


@pytest.mark.parametrize(("name", "expected"), [("web", WEB_ACTIONS), ("worker", WORKER_ACTIONS)])
def test_task_role_has_exactly_its_actions(dev: Synth, name: str, expected: set[str]) -> None:
    queue_arn, dlq_arn, table_arn = queue_and_table(dev)
    # Both count the DLQ's messages (their one statement there: the tests below); the web
    # acts on every queue, a worker on its own (tests/infra/test_queues.py).
    queues = every_queue(dev) if name == "web" else [queue_arn, dlq_arn]
    granted: set[str] = set()
    for statement in task_role_statements(dev, name):
        assert statement["Effect"] == "Allow"
        actions = actions_of(statement)
        if name == "web" and actions == ["dynamodb:UpdateItem"]:
            assert statement["Condition"] == COUNTER_ONLY
        else:
            assert "Condition" not in statement
        granted.update(actions)
        services = {action.split(":")[0] for action in actions}
        assert len(services) == 1
        assert services <= {"sqs", "dynamodb", "ecs", "s3"}
        expected_resources = {
            "sqs": queues,
            "dynamodb": [index_of(table_arn) if actions == ["dynamodb:Query"] else table_arn],
            "ecs": [tasks_of_the_cluster(dev)],
            "s3": payload_arns(dev),
        }[services.pop()]
        assert all(resource in expected_resources for resource in resources_of(statement))
    assert granted == expected


def test_web_role_cannot_receive_or_delete(dev: Synth) -> None:
    actions = {a for s in task_role_statements(dev, "web") for a in actions_of(s)}
    forbidden = {
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:ChangeMessageVisibility",
        "sqs:PurgeQueue",
        "dynamodb:DeleteItem",
        "dynamodb:Scan",
    }
    assert not actions & forbidden
    assert not any(a.endswith("*") for a in actions)
    # It may update no task's item: only a client's waiting counter (taskqueue.stores.waiting).
    updates = [
        s for s in task_role_statements(dev, "web") if "dynamodb:UpdateItem" in actions_of(s)
    ]
    assert [(actions_of(s), s.get("Condition")) for s in updates] == [
        (["dynamodb:UpdateItem"], COUNTER_ONLY)
    ]


def test_web_role_may_only_count_the_dead_letter_queue(dev: Synth) -> None:
    _, dlq_arn, table_arn = queue_and_table(dev)
    statements = task_role_statements(dev, "web")
    on_dlq = [s for s in statements if dlq_arn in resources_of(s)]

    assert [actions_of(s) for s in on_dlq] == [["sqs:GetQueueAttributes"]]
    resources = (*every_queue(dev), table_arn, index_of(table_arn), *payload_arns(dev))
    assert all(r in resources for s in statements for r in resources_of(s))


def test_the_web_may_query_the_index_only_and_the_worker_not_at_all(dev: Synth) -> None:
    _, _, table_arn = queue_and_table(dev)
    querying = [
        (name, statement)
        for name in ("web", "worker")
        for statement in task_role_statements(dev, name)
        if "dynamodb:Query" in actions_of(statement)
    ]

    assert querying == [
        ("web", {"Action": "dynamodb:Query", "Effect": "Allow", "Resource": index_of(table_arn)})
    ]


def test_worker_role_touches_only_its_queue_and_table(dev: Synth) -> None:
    queue_arn, dlq_arn, table_arn = queue_and_table(dev)
    statements = task_role_statements(dev, "worker")
    resources = [r for s in statements for r in resources_of(s)]
    allowed = (queue_arn, dlq_arn, table_arn, tasks_of_the_cluster(dev), *payload_arns(dev))
    assert all(r in allowed for r in resources)
    # The DLQ: its counts, for the queue_report task (taskqueue.tasks.queue_report), and the
    # dead-letter sweep's looks (taskqueue.runtime.dead_letter_sweep); never delete, hide or send.
    on_dlq = [s for s in statements if s["Resource"] == dlq_arn]
    assert [set(actions_of(s)) for s in on_dlq] == [WORKER_DLQ_ACTIONS]


@pytest.mark.parametrize("variant", ["dev", "prod", "prod_endpoints"])
def test_only_the_worker_role_may_protect_tasks_and_only_its_clusters(
    synth_variant: Any, variant: str
) -> None:
    synth: Synth = synth_variant(variant)
    web = {a for s in task_role_statements(synth, "web") for a in actions_of(s)}
    assert not any(a.startswith("ecs:") for a in web)
    protecting = [
        statement
        for policy in synth.resources("AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if any("TaskProtection" in a for a in actions_of(statement))
    ]
    # One per worker service, each in its own role.
    assert len(protecting) == len(synth.stack.queues)
    for name in synth.stack.queues:
        (statement,) = [
            s for s in task_role_statements(synth, worker_container_name(name)) if s in protecting
        ]
        assert set(actions_of(statement)) == TASK_PROTECTION_ACTIONS
        assert statement["Resource"] == tasks_of_the_cluster(synth)


@pytest.mark.parametrize("variant", ["dev", "prod", "prod_endpoints"])
def test_no_sqs_or_dynamodb_action_on_a_wildcard_resource(synth_variant: Any, variant: str) -> None:
    synth: Synth = synth_variant(variant)
    for policy in synth.resources("AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            actions = actions_of(statement)
            if not any(a.startswith(("sqs:", "dynamodb:")) for a in actions):
                continue
            resources = statement["Resource"]
            resources = resources if isinstance(resources, list) else [resources]
            assert "*" not in resources, statement
            for resource in resources:
                assert isinstance(resource, dict), statement  # a reference, never a pattern
            assert not any(a in ("sqs:*", "dynamodb:*", "*") for a in actions)


def test_no_kms_permission_is_needed(dev: Synth) -> None:
    for policy in dev.resources("AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            assert not any(a.startswith("kms:") for a in actions_of(statement))
