"""Several queues (issue 22): each declared queue gets its own SQS queue and DLQ, worker
service, scaling, alarms, dashboard row, least-privilege grants and outputs; its workers'
settings come from the queues' blocks of cdk.json, declared once, merged per stage."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Duration, Stack
from aws_cdk.assertions import Template
from taskqueue.catalogue.registry import DEFAULT_QUEUE, TASKS
from taskqueue.factory import declared_schedules as declared

from infra.config import QUEUE_KEYS, ConfigError, InfraConfig
from infra.schedules import Schedules, ScheduleTarget
from infra.stack import worker_container_name
from infra.task_queue import private_queue
from tests.infra.conftest import (
    SECOND_QUEUE,
    Synth,
    cdk_json_context,
    container,
    container_env,
    logical_id,
    resolved,
    scalable_target_of,
    service_for,
    synthesize,
)
from tests.infra.test_iam import actions_of, resources_of, task_role_statements

pytestmark = pytest.mark.timeout(300)

QUEUES = [DEFAULT_QUEUE, SECOND_QUEUE]


def config(context: dict[str, Any] | None = None, **overrides: Any) -> InfraConfig:
    return InfraConfig.from_context({**(context or cdk_json_context()), **overrides})


def queue_ids(synth: Synth, queue: str) -> tuple[str, str]:
    """The logical ids of the declared queue's SQS queue and its DLQ."""
    task_queue = synth.stack.queues[queue].task_queue
    return logical_id(synth, task_queue.queue), logical_id(synth, task_queue.dead_letter_queue)


def arn(logical: str) -> dict[str, Any]:
    return {"Fn::GetAtt": [logical, "Arn"]}


def test_the_stack_is_built_for_the_queues_of_the_offered_tasks(dev: Synth, prod: Synth) -> None:
    for synth in (dev, prod):
        assert synth.stack.config.declared_queues == QUEUES
        assert list(synth.stack.queues) == QUEUES


def test_each_queue_has_its_own_queue_and_dlq_with_its_own_visibility(dev: Synth) -> None:
    # Two per declared queue, and the schedules' DLQ.
    dev.template.resource_count_is("AWS::SQS::Queue", 2 * len(QUEUES) + 1)
    queues = dev.resources("AWS::SQS::Queue")
    for name in QUEUES:
        queue_id, dlq_id = queue_ids(dev, name)
        queue, dlq = queues[queue_id]["Properties"], queues[dlq_id]["Properties"]
        assert queue["RedrivePolicy"] == {"deadLetterTargetArn": arn(dlq_id), "maxReceiveCount": 3}
        assert queue["VisibilityTimeout"] == (
            dev.stack.config.queue_config(name).runtime.queue_visibility_timeout
        )
        assert dlq["MessageRetentionPeriod"] == 14 * 24 * 3600
        for each in (queue, dlq):
            assert each["SqsManagedSseEnabled"] is True
    # cdk.json: the reports queue's base visibility is its own, the default keeps Settings'.
    visibility = {name: queues[queue_ids(dev, name)[0]]["Properties"] for name in QUEUES}
    assert visibility[DEFAULT_QUEUE]["VisibilityTimeout"] == 60
    assert visibility[SECOND_QUEUE]["VisibilityTimeout"] == 300


def test_each_queue_has_its_own_worker_service_reading_its_own_settings(dev: Synth) -> None:
    """One task definition per queue, whose one worker process consumes that queue only."""
    assert len(dev.resources("AWS::ECS::Service")) == 1 + len(QUEUES)  # the web's, the workers'
    other_queue, other_dlq = queue_ids(dev, SECOND_QUEUE)
    default_queue, default_dlq = queue_ids(dev, DEFAULT_QUEUE)
    queues = {SECOND_QUEUE: {"url": f"<{other_queue}>", "dlq_url": f"<{other_dlq}>"}}
    for name in QUEUES:
        cfg = dev.stack.config.queue_config(name)
        env = container_env(dev, worker_container_name(name))
        assert env["WORKER_QUEUE"] == name
        assert env["WORKER_CONCURRENCY"] == str(cfg.runtime.worker_concurrency)
        assert env["QUEUE_VISIBILITY_TIMEOUT"] == str(cfg.runtime.queue_visibility_timeout)
        # The default queue stays TASK_QUEUE_*; the others are QUEUES' entries.
        assert env["TASK_QUEUE_URL"] == {"Ref": default_queue}
        assert env["TASK_DLQ_URL"] == {"Ref": default_dlq}
        assert json.loads(resolved(env["QUEUES"])) == queues
        task_definition = service_for(dev, worker_container_name(name))[1]
        assert "DesiredCount" not in task_definition["Properties"]
    reports = container_env(dev, worker_container_name(SECOND_QUEUE))
    assert (reports["WORKER_CONCURRENCY"], reports["QUEUE_VISIBILITY_TIMEOUT"]) == ("1", "300")
    web = container_env(dev, "web")
    assert json.loads(resolved(web["QUEUES"])) == queues
    assert "WORKER_QUEUE" not in web


def test_each_worker_service_logs_to_the_workers_group_under_its_own_prefix(dev: Synth) -> None:
    default = container(dev, "worker")["LogConfiguration"]["Options"]
    reports = container(dev, worker_container_name(SECOND_QUEUE))["LogConfiguration"]["Options"]
    assert reports["awslogs-group"] == default["awslogs-group"]
    assert (default["awslogs-stream-prefix"], reports["awslogs-stream-prefix"]) == (
        "worker",
        "worker-reports",
    )
    # One worker image for every queue.
    assert container(dev, "worker")["Image"] == container(dev, "worker-reports")["Image"]


def test_each_worker_service_scales_on_its_own_queue_with_its_own_bounds(
    dev_insights: Synth, prod: Synth
) -> None:
    for synth in (dev_insights, prod):
        policies = synth.resources("AWS::ApplicationAutoScaling::ScalingPolicy")
        for name in QUEUES:
            cfg = synth.stack.config.queue_config(name)
            target_id, target = scalable_target_of(synth, worker_container_name(name))
            assert (target["Properties"]["MinCapacity"], target["Properties"]["MaxCapacity"]) == (
                cfg.worker_counts.minimum,
                cfg.worker_counts.maximum,
            )
            own = [
                p["Properties"]
                for p in policies.values()
                if p["Properties"]["ScalingTargetId"] == {"Ref": target_id}
            ]
            # Backlog-per-task target tracking and the wake-up from zero.
            assert sorted(p["PolicyType"] for p in own) == ["StepScaling", "TargetTrackingScaling"]
            (tracking,) = [p for p in own if p["PolicyType"] == "TargetTrackingScaling"]
            configuration = tracking["TargetTrackingScalingPolicyConfiguration"]
            assert configuration["TargetValue"] == cfg.backlog_per_task_target
            text = json.dumps(configuration)
            queue_id, _ = queue_ids(synth, name)
            service_id, _ = service_for(synth, worker_container_name(name))
            assert f'"{queue_id}"' in text and f'"{service_id}"' in text
            others = [q for q in QUEUES if q != name]
            assert not any(f'"{queue_ids(synth, q)[0]}"' in text for q in others)
    # cdk.json: reports takes one message at a time, 60 s each, 300 s acceptable: 1 x (5 + 1).
    assert dev_insights.stack.config.queue_config(SECOND_QUEUE).backlog_per_task_target == 6
    # dev's block bounds reports to 2 tasks; prod's has none: the prod worker's own bounds.
    assert dev_insights.stack.config.queue_config(SECOND_QUEUE).worker_counts.maximum == 2
    assert prod.stack.config.queue_config(SECOND_QUEUE).worker_counts == (
        prod.stack.config.worker_counts
    )


def alarms_naming(synth: Synth, logical: str) -> dict[str, dict[str, Any]]:
    """The alarms whose metrics name the resource `logical`, by their metric names."""
    found: dict[str, dict[str, Any]] = {}
    for alarm in synth.resources("AWS::CloudWatch::Alarm").values():
        properties = alarm["Properties"]
        if f'"{logical}"' in json.dumps(properties):
            text = json.dumps(properties)
            for metric in (
                "ApproximateAgeOfOldestMessage",
                "ApproximateNumberOfMessagesVisible",
            ):
                if metric in text:
                    found.setdefault(metric, {})[properties["AlarmDescription"]] = properties
    return found


def test_each_queue_has_its_own_set_of_alarms(dev_insights: Synth) -> None:
    """DLQ not empty, oldest message, backlog without workers, and the wake-up, per queue."""
    for name in QUEUES:
        queue_id, dlq_id = queue_ids(dev_insights, name)
        service_id, _ = service_for(dev_insights, worker_container_name(name))
        on_dlq = alarms_naming(dev_insights, dlq_id)["ApproximateNumberOfMessagesVisible"]
        (dead_letters,) = on_dlq.values()
        assert dead_letters["Threshold"] == 0
        on_queue = alarms_naming(dev_insights, queue_id)
        (oldest,) = on_queue["ApproximateAgeOfOldestMessage"].values()
        assert (
            oldest["Threshold"]
            == dev_insights.stack.config.queue_config(name).oldest_message_alarm_seconds
        )
        waiting = on_queue["ApproximateNumberOfMessagesVisible"]
        # Backlog without workers, and the wake-up, each on this queue and its own service.
        assert len(waiting) == 2
        for alarm in waiting.values():
            assert f'"{service_id}"' in json.dumps(alarm)
    # Every queue's alarms notify (all alarms but the wake-ups, which scale).
    notifying = [
        a
        for a in dev_insights.resources("AWS::CloudWatch::Alarm").values()
        if "OKActions" in a["Properties"]
    ]
    assert len(notifying) == len(dev_insights.resources("AWS::CloudWatch::Alarm")) - len(QUEUES)


def test_the_dashboard_has_a_row_per_queue(dev_insights: Synth) -> None:
    (dashboard,) = dev_insights.resources("AWS::CloudWatch::Dashboard").values()
    body = resolved(dashboard["Properties"]["DashboardBody"])
    for name in QUEUES:
        queue_id, dlq_id = queue_ids(dev_insights, name)
        service_id, _ = service_for(dev_insights, worker_container_name(name))
        for logical in (queue_id, dlq_id, service_id):
            assert f"<{logical}." in body
    for title in ("Queue depth", "Age of oldest message (s)", "Running tasks"):
        assert f'"title":"{title}"' in body
        assert f'"title":"reports: {title}"' in body


def sqs_resources(statements: list[dict[str, Any]], action: str) -> list[Any]:
    """The resources the statements allow `action` on."""
    return [
        resource
        for statement in statements
        if statement["Effect"] == "Allow" and action in actions_of(statement)
        for resource in resources_of(statement)
    ]


@pytest.mark.parametrize("name", QUEUES)
def test_a_worker_may_receive_only_from_its_own_queue(dev: Synth, name: str) -> None:
    statements = task_role_statements(dev, worker_container_name(name))
    queue_id, dlq_id = queue_ids(dev, name)
    for action in ("sqs:ReceiveMessage",):
        # Its queue, and its DLQ (the dead-letter sweep looks, leaves the messages there).
        assert sorted(map(json.dumps, sqs_resources(statements, action))) == sorted(
            map(json.dumps, [arn(queue_id), arn(dlq_id)])
        )
    for action in ("sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:SendMessage"):
        assert sqs_resources(statements, action) == [arn(queue_id)]
    # No other queue's or DLQ's ARN in any of its statements.
    others = [i for q in QUEUES if q != name for i in queue_ids(dev, q)]
    text = json.dumps(statements)
    assert not [other for other in others if f'"{other}"' in text]


def test_the_web_may_send_to_every_queue_and_count_every_dlq(dev: Synth) -> None:
    statements = task_role_statements(dev, "web")
    queues = [queue_ids(dev, name) for name in QUEUES]
    sends = sorted(map(json.dumps, sqs_resources(statements, "sqs:SendMessage")))
    assert sends == sorted(json.dumps(arn(queue)) for queue, _ in queues)
    counts = sorted(map(json.dumps, sqs_resources(statements, "sqs:GetQueueAttributes")))
    assert counts == sorted(json.dumps(arn(each)) for pair in queues for each in pair)
    for action in ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:PurgeQueue"):
        assert sqs_resources(statements, action) == []


def test_each_queue_has_its_outputs(dev: Synth) -> None:
    outputs = dev.json["Outputs"]
    queue_id, dlq_id = queue_ids(dev, SECOND_QUEUE)
    service_id, _ = service_for(dev, "worker-reports")
    assert outputs["ReportsQueueUrl"]["Value"] == {"Ref": queue_id}
    assert outputs["ReportsDlqUrl"]["Value"] == {"Ref": dlq_id}
    # The CLI reads the other queues from one output, the services' QUEUES JSON.
    queues_json = json.dumps(outputs["Queues"]["Value"])
    assert queue_id in queues_json and dlq_id in queues_json
    assert outputs["ReportsWorkerServiceName"]["Value"] == {"Fn::GetAtt": [service_id, "Name"]}


@pytest.fixture(scope="module")
def one_queue(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    """dev as a stack of one queue made it: every task on the default queue, no queue blocks."""
    context = cdk_json_context()
    del context["taskqueue"]["queueSettings"]
    del context["taskqueue"]["dev"]["queueSettings"]
    with pytest.MonkeyPatch.context() as patch:
        for name, spec in list(TASKS.items()):
            patch.setitem(TASKS, name, replace(spec, queue=DEFAULT_QUEUE))
        return synthesize(tmp_path_factory.mktemp("one-queue"), context)


def test_a_second_queue_keeps_every_logical_id_and_the_default_queue_itself(
    one_queue: Synth, dev: Synth
) -> None:
    """An update that adds a queue replaces nothing: the default queue, its worker service and
    alarms keep their logical ids, and the queue and its DLQ are not even modified."""
    assert list(one_queue.stack.queues) == [DEFAULT_QUEUE]
    before, after = one_queue.json["Resources"], dev.json["Resources"]
    assert set(before) <= set(after)
    assert set(one_queue.json["Outputs"]) <= set(dev.json["Outputs"])
    for logical in queue_ids(one_queue, DEFAULT_QUEUE):
        assert before[logical] == after[logical]
    assert "QUEUES" not in container_env(one_queue, "worker")  # one queue: no others to name


def test_a_schedule_sends_its_fires_to_the_queue_of_its_task() -> None:
    """A schedule of a task on reports: its target is the reports queue, under that queue's
    Celery name, and its role may send there (and to its DLQ) only."""
    stack = Stack(App(), "Schedules")
    default, reports = private_queue(stack, "Default"), private_queue(stack, "Reports")
    shipped = declared()["queue-report"]
    on_reports = replace(shipped, spec=replace(shipped.spec, queue=SECOND_QUEUE))
    schedules = Schedules(
        stack,
        "Schedules",
        declarations=[on_reports],
        targets={
            DEFAULT_QUEUE: ScheduleTarget(queue=default, routing_key="tasks"),
            SECOND_QUEUE: ScheduleTarget(queue=reports, routing_key="tasks-reports"),
        },
        group_name="g",
        dlq_retention=Duration.days(1),
        alarm_topic=None,
    )
    template = Template.from_stack(stack)
    reports_id = stack.get_logical_id(reports.node.default_child)  # type: ignore[arg-type]
    dlq_id = stack.get_logical_id(schedules.dead_letter_queue.node.default_child)  # type: ignore[arg-type]
    (schedule,) = template.find_resources("AWS::Scheduler::Schedule").values()
    target = schedule["Properties"]["Target"]
    assert target["Arn"] == arn(reports_id)
    message = json.loads(target["Input"])
    assert message["properties"]["delivery_info"]["routing_key"] == "tasks-reports"
    (policy,) = template.find_resources("AWS::IAM::Policy").values()
    sends = sqs_resources(policy["Properties"]["PolicyDocument"]["Statement"], "sqs:SendMessage")
    assert sorted(map(json.dumps, sends)) == sorted(map(json.dumps, [arn(reports_id), arn(dlq_id)]))


# The queues' configuration: context -> each queue's settings (no synthesis).


def test_cdk_json_declares_the_second_queue_once_and_a_stage_only_its_differences() -> None:
    context = cdk_json_context()["taskqueue"]
    shared = context["queueSettings"][SECOND_QUEUE]
    for stage in ("dev", "prod"):
        own = context[stage].get("queueSettings", {}).get(SECOND_QUEUE, {})
        assert {key: value for key, value in own.items() if shared.get(key) == value} == {}
        cfg = config(stage=stage).queue_config(SECOND_QUEUE)
        assert cfg.runtime.worker_concurrency == shared["workerConcurrency"] == 1
        assert cfg.runtime.queue_visibility_timeout == shared["queueVisibilityTimeout"]


def test_a_queue_without_a_block_gets_the_default_workers_settings() -> None:
    context = cdk_json_context()
    del context["taskqueue"]["queueSettings"]
    del context["taskqueue"]["dev"]["queueSettings"]
    for stage in ("dev", "prod"):
        cfg = config(context, stage=stage)
        assert cfg.declared_queues == QUEUES  # the task is still sent there
        reports = cfg.queue_config(SECOND_QUEUE)
        assert (reports.worker_size, reports.worker_counts) == (cfg.worker_size, cfg.worker_counts)
        assert reports.runtime == cfg.runtime
        assert reports.backlog_per_task_target == cfg.backlog_per_task_target


def test_a_queue_block_merges_per_key_under_the_stage_and_the_command_line() -> None:
    """`taskqueue.queueSettings`, then the stage's block, then -c, each per queue and per key; a
    queue's own key wins over the default worker's (-c workerMaxCount)."""
    dev = config(queueSettings='{"reports": {"workerCpu": 1024, "workerMemoryMiB": 2048}}')
    reports = dev.queue_config(SECOND_QUEUE)
    assert reports.worker_size.cpu == 1024  # -c
    assert reports.worker_counts.maximum == 2  # dev's block
    assert reports.runtime.worker_concurrency == 1  # taskqueue.queueSettings
    top = config(workerMaxCount="15", workerConcurrency="3")
    assert top.worker_counts.maximum == 15 and top.runtime.worker_concurrency == 3
    assert top.queue_config(SECOND_QUEUE).worker_counts.maximum == 2
    assert top.queue_config(SECOND_QUEUE).runtime.worker_concurrency == 1
    assert top.queue_config(SECOND_QUEUE).worker_size == top.worker_size  # not in its block


def test_a_block_for_a_queue_no_task_is_sent_to_fails_naming_the_declared_queues() -> None:
    context = cdk_json_context()
    context["taskqueue"]["queueSettings"]["reprots"] = {"workerConcurrency": 1}
    with pytest.raises(ConfigError) as refused:
        config(context)
    assert str(refused.value) == (
        "context key 'queueSettings': no task is sent to 'reprots' (the queues of the tasks this"
        " stage offers: default, reports)"
    )


def test_an_unknown_key_in_a_queue_block_fails_naming_the_nearest_key() -> None:
    context = cdk_json_context()
    context["taskqueue"]["dev"]["queueSettings"][SECOND_QUEUE]["workerConcurency"] = 2
    with pytest.raises(ConfigError) as refused:
        config(context)
    assert str(refused.value) == (
        "context key 'queueSettings': queue 'reports': 'workerConcurency' is not a setting of a"
        " queue's workers: did you mean 'workerConcurrency'?"
    )
    with pytest.raises(ConfigError, match="a queue sets " + ", ".join(QUEUE_KEYS)):
        config(queueSettings='{"reports": {"rateLimit": "10/s"}}')


@pytest.mark.parametrize(
    ("queues", "message"),
    [
        ('{"default": {"workerCpu": 2048}}', "'default' is the queue of the tasks that name none"),
        ('{"reports": 1}', "must map each queue's name to a block of its settings"),
        ("[]", "must map each queue's name to a block of its settings"),
        ("{reports: {workerCpu: 2048}}", "context key 'queueSettings' (-c) is not JSON:"),
        (
            '{"reports": {"workerCpu": 300}}',
            "queue 'reports' (context key 'queueSettings'): context keys workerCpu/workerMemory",
        ),
        (
            '{"reports": {"queueVisibilityTimeout": 30}}',
            "queue 'reports' (context key 'queueSettings'): runtime Settings: VISIBILITY_HEARTBEAT",
        ),
        ('{"reports": {"workerMinCount": 3}}', "queue 'reports' (context key 'queueSettings'):"),
    ],
    ids=["default", "not-a-block", "not-a-mapping", "not-json", "cpu", "visibility", "counts"],
)
def test_a_queue_block_that_cannot_work_fails_with_what_is_wrong(queues: str, message: str) -> None:
    with pytest.raises(ConfigError) as refused:
        config(queueSettings=queues)
    assert message in str(refused.value)


def test_a_queue_block_that_cannot_work_fails_synth_before_any_template(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="queue 'reports'"):
        synthesize(tmp_path, {"queueSettings": '{"reports": {"workerMinCount": 3}}'})
    assert not list(tmp_path.glob("*.template.json"))
