"""TaskQueue: SSE, TLS-only, visibility from the task time limit, DLQ after 3 receives."""

from __future__ import annotations

import pytest
from aws_cdk.assertions import Match

from tests.infra.conftest import Synth, container_env, get_att, ref_to, task_queue_pair

pytestmark = pytest.mark.timeout(300)

FOURTEEN_DAYS = 14 * 24 * 3600


def test_two_queues_one_the_dead_letter_queue_of_the_other(dev: Synth) -> None:
    # The others: another queue's pair (tests/infra/test_queues.py), the schedules' DLQ
    # (tests/infra/test_schedules.py).
    dev.template.resource_count_is("AWS::SQS::Queue", 2 * len(dev.stack.queues) + 1)
    assert len(task_queue_pair(dev)) == 2
    dlq = task_queue_pair(dev, {"MessageRetentionPeriod": FOURTEEN_DAYS})
    dev.template.has_resource_properties(
        "AWS::SQS::Queue",
        {
            "RedrivePolicy": {
                "deadLetterTargetArn": get_att(dlq, "Arn"),
                "maxReceiveCount": 3,
            }
        },
    )


def test_visibility_timeout_is_cdk_json_s_short_base_visibility(dev: Synth) -> None:
    # The worker's heartbeat extends it while a task runs (issue 13): a dead worker's task
    # comes back after one base visibility, not after the longest task's limit.
    cfg = dev.stack.config
    assert cfg.runtime.queue_visibility_timeout == 60 < cfg.runtime.task_time_limit
    dev.template.has_resource_properties(
        "AWS::SQS::Queue",
        {
            "VisibilityTimeout": cfg.runtime.queue_visibility_timeout,
            "RedrivePolicy": Match.any_value(),
        },
    )


def test_both_queues_use_sqs_managed_encryption(dev: Synth) -> None:
    queues = task_queue_pair(dev)
    assert len(queues) == 2
    for queue in queues.values():
        assert queue["Properties"]["SqsManagedSseEnabled"] is True
        assert "KmsMasterKeyId" not in queue["Properties"]


def test_both_queues_deny_requests_without_tls(dev: Synth) -> None:
    policies = dev.resources("AWS::SQS::QueuePolicy")
    queue_ids = set(dev.resources("AWS::SQS::Queue"))
    covered: set[str] = set()
    for policy in policies.values():
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        deny = [s for s in statements if s["Effect"] == "Deny"]
        assert len(deny) == 1
        assert deny[0]["Action"] == "sqs:*"
        assert deny[0]["Principal"] == {"AWS": "*"}
        assert deny[0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        covered.update(queue["Ref"] for queue in policy["Properties"]["Queues"])
    assert covered == queue_ids


def test_queue_names_and_urls_reach_both_containers(dev: Synth) -> None:
    main_queue = task_queue_pair(dev, {"RedrivePolicy": Match.any_value()})
    dlq = task_queue_pair(dev, {"MessageRetentionPeriod": FOURTEEN_DAYS})
    for name in ("web", "worker"):
        env = container_env(dev, name)
        assert env["TASK_QUEUE_URL"] == ref_to(main_queue)
        assert env["TASK_QUEUE_NAME"] == get_att(main_queue, "QueueName")
        assert env["TASK_DLQ_NAME"] == get_att(dlq, "QueueName")
        assert env["TASK_DLQ_URL"] == ref_to(dlq)
        assert env["MAX_RECEIVE_COUNT"] == "3"
        assert env["QUEUE_VISIBILITY_TIMEOUT"] == str(
            dev.stack.config.runtime.queue_visibility_timeout
        )
