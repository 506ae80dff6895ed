"""InfraConfig: context -> one frozen, checked object (no synthesis, fast)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError
from pydantic.alias_generators import to_camel
from taskqueue.settings import Settings

from infra.config import ConfigError, InfraConfig, ServiceCounts, TaskSize
from tests.infra.conftest import cdk_json_context

pytestmark = pytest.mark.timeout(300)


def config(**overrides: Any) -> InfraConfig:
    context = {**cdk_json_context(), **overrides}
    return InfraConfig.from_context(context)


def test_cdk_json_defaults_to_dev_and_builds_both_stages() -> None:
    dev = config()
    prod = config(stage="prod")
    assert dev.stage == "dev"
    assert dev.egress == "public"
    assert prod.stage == "prod"
    assert prod.egress in ("nat", "endpoints")
    assert dev.stack_name != prod.stack_name


def test_visibility_timeout_is_one_named_value_that_reaches_the_containers() -> None:
    assert config().runtime.queue_visibility_timeout == 60  # Settings' default: no stage sets it
    cfg = config(taskTimeLimit="200", taskSoftTimeLimit="150", queueVisibilityTimeout="230")
    assert cfg.runtime.queue_visibility_timeout == 230
    env = cfg.runtime_settings(
        task_queue_name="q",
        task_queue_url="u",
        task_dlq_name="d",
        results_table="t",
        aws_region="eu-west-1",
    ).environment()
    assert env["QUEUE_VISIBILITY_TIMEOUT"] == "230"
    assert env["TASK_TIME_LIMIT"] == "200"


def test_top_level_context_overrides_the_stage_block_and_strings_are_converted() -> None:
    cfg = config(workerMaxCount="15")
    base = config()
    assert cfg.worker_counts.maximum == 15
    assert cfg.model_copy(update={"worker_max_count": base.worker_max_count}) == base


@pytest.mark.parametrize("key", ["webCount", "workerCount"])
def test_the_removed_desired_counts_are_refused_with_what_to_use_instead(key: str) -> None:
    """Autoscaling owns the counts: a `-c workerCount=5` that did nothing would mislead."""
    prefix = key.removesuffix("Count")
    with pytest.raises(ConfigError, match=f"{key}.*{prefix}MinCount/{prefix}MaxCount"):
        config(**{key: "5"})
    context = cdk_json_context()
    context["taskqueue"]["prod"][key] = 2
    with pytest.raises(ConfigError, match=f"context key '{key}' is no longer read"):
        InfraConfig.from_context({**context, "stage": "prod"})


@pytest.mark.parametrize(
    ("concurrency", "target"),
    # 3 s a message, 90 s acceptable: one process starts 30 waiting messages in 90 s, so a
    # worker task of 2 processes starts 60 and holds 2 in flight (62); of 4: 120 + 4 (124).
    [("1", 31), ("2", 62), ("4", 124)],
)
def test_backlog_target_counts_the_processes_of_a_worker_task_and_their_messages_in_flight(
    concurrency: str, target: float
) -> None:
    cfg = config(acceptableLatency="90", averageProcessingTime="3", workerConcurrency=concurrency)
    assert cfg.backlog_per_task_target == target


def test_the_config_is_frozen() -> None:
    with pytest.raises(ValidationError, match="frozen"):
        config().stage = "prod"  # type: ignore[misc]


@pytest.mark.parametrize(
    "overrides",
    [
        {"stage": "qa"},
        {"stage": "prod", "egress": "public"},
        {"egress": "satellite"},
        {"taskSoftTimeLimit": "100", "taskTimeLimit": "100"},
        {"taskTimeLimit": "43201"},  # SQS keeps a message invisible 12 hours at most
        {"taskMaxDuration": "43200"},  # long_task's limit: this + taskTimeLimit, over 12 hours
        {"queueVisibilityTimeout": "30"},  # the 20 s heartbeat does not fit twice inside
        {"queueVisibilityTimeout": "43201"},  # SQS: 12 hours at most
        {"workerStopTimeout": "121"},  # Fargate: 120 s at most
        {"workerSoftShutdownTimeout": "120"},
        {"workerMinCount": "11"},
        {"workerMinCount": "2", "workerMaxCount": "1"},
        {"webMinCount": "0"},
        {"workerMaxCount": "many"},
        {"cpuArchitecture": "arm"},
        {"workerCapacity": "SPOT"},
        {"workerOnDemandBase": "-1"},
        {"workerOnDemandBase": "11"},  # above workerMaxCount
        {"loadBalancerIdleTimeout": "0"},
        {"loadBalancerIdleTimeout": "4001"},  # the ALB allows 1-4000 s
        {"alarmEmail": "ops-at-example.com"},
        {"logRetentionDays": "8"},
        {"webCpu": "256", "webMemoryMiB": "4096"},
        {"dlqRetentionDays": "15"},
        {"averageProcessingTime": "0"},
        {"maxAzs": "1"},
        {"certificateArn": "arn:aws:iam::123456789012:server-certificate/web"},
        {"accessLogsBucket": "s3://Org_Logs"},
    ],
)
def test_impossible_settings_are_refused(overrides: dict[str, str]) -> None:
    with pytest.raises(ConfigError) as refused:
        config(**overrides)
    assert any(key in str(refused.value) for key in overrides), refused.value


@pytest.mark.parametrize(
    "key", ["taskMaxDuration", "taskSoftTimeLimit", "taskTimeLimit", "queueVisibilityTimeout"]
)
def test_no_task_timing_may_exceed_the_12_hours_sqs_keeps_a_message_invisible(key: str) -> None:
    """Whatever the runtime's rules between them, SQS redelivers a message after 12 hours."""
    with pytest.raises(ConfigError) as refused:
        config(**{key: "43201"})
    assert str(refused.value).startswith(f"context key '{key}': 43201 s is more")
    assert "(12 hours, 43200 s)" in str(refused.value)


def test_the_worker_stop_timeout_of_each_stage_is_120_and_the_soft_shutdown_fits_inside() -> None:
    for stage in ("dev", "prod"):
        block = config(stage=stage)  # cdk.json's block over the declared defaults
        assert block.worker_stop_timeout == 120
        assert block.runtime.worker_soft_shutdown_timeout < block.worker_stop_timeout
    with pytest.raises(ConfigError, match=r"workerSoftShutdownTimeout .* stopTimeout"):
        config(workerStopTimeout="100", workerSoftShutdownTimeout="100")


def test_a_timing_the_runtime_refuses_fails_with_the_runtime_settings_message() -> None:
    with pytest.raises(ConfigError) as refused:
        config(taskSoftTimeLimit="200", taskTimeLimit="100")
    assert str(refused.value) == (
        "runtime Settings: TASK_SOFT_TIME_LIMIT (200) must be below TASK_TIME_LIMIT (100)"
        " (context: taskSoftTimeLimit, taskTimeLimit)"
    )


def test_empty_optional_arns_mean_unset() -> None:
    cfg = config(alarmTopicArn="", certificateArn=" ", accessLogsBucket="", alarmEmail="")
    assert (cfg.alarm_topic_arn, cfg.certificate_arn, cfg.access_logs_bucket) == (None,) * 3
    assert cfg.alarm_email is None


def test_a_missing_tunable_is_refused() -> None:
    """The stack's name is the one setting without a default (a stage block names its stack)."""
    context = cdk_json_context()
    del context["taskqueue"]["dev"]["stackName"]
    with pytest.raises(ConfigError, match="stackName"):
        InfraConfig.from_context(context)


def test_an_unknown_key_in_the_stage_block_is_refused() -> None:
    context = cdk_json_context()
    context["taskqueue"]["dev"]["visibilityMargin"] = 30  # replaced by queueVisibilityTimeout
    with pytest.raises(ConfigError, match="context key 'visibilityMargin'"):
        InfraConfig.from_context(context)


def test_value_objects_check_themselves() -> None:
    with pytest.raises(ConfigError):
        ServiceCounts(minimum=3, maximum=2)
    with pytest.raises(ConfigError):
        TaskSize(cpu=300, memory_mib=512)
    assert TaskSize(cpu=1024, memory_mib=3072).memory_mib == 3072


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_container_environment_is_accepted_by_the_runtime_settings(stage: str) -> None:
    """Every variable names a Settings field, and the runtime accepts the values."""
    cfg = config(stage=stage)
    env = cfg.runtime_settings(
        task_queue_name="taskqueue-tasks",
        task_queue_url="https://sqs.eu-west-1.amazonaws.com/123456789012/taskqueue-tasks",
        task_dlq_name="taskqueue-tasks-dlq",
        results_table="taskqueue-results",
        aws_region="eu-west-1",
    ).environment()
    fields = set(Settings.model_fields)
    assert {name.lower() for name in env} <= fields
    assert "AWS_ENDPOINT_URL" not in env
    settings = Settings(**{name.lower(): value for name, value in env.items()})
    assert settings.queue_visibility_timeout == cfg.runtime.queue_visibility_timeout
    # A running task's visibility is extended at least twice within one base visibility.
    assert 2 * settings.visibility_heartbeat_interval <= settings.queue_visibility_timeout
    assert settings.worker_soft_shutdown_timeout < cfg.worker_stop_timeout == 120


def test_the_task_failure_rate_alarm_is_a_fraction_of_runs() -> None:
    assert config().task_failure_rate_alarm == 0.2  # cdk.json
    assert config(taskFailureRateAlarm="0.5").task_failure_rate_alarm == 0.5
    for refused in ("0", "1.5"):
        with pytest.raises(ConfigError, match="taskFailureRateAlarm"):
            config(taskFailureRateAlarm=refused)


def test_the_metrics_namespace_is_the_stacks_own() -> None:
    settings = config(stackName="orders-dev").runtime_settings()
    assert settings.metrics_namespace == "TaskQueue/orders-dev"


# Settings that are not tunables: the stage is chosen, the runtime overrides gathered.
NOT_SETTINGS = {"stage", "runtime_overrides"}


def test_each_setting_is_declared_once() -> None:
    """A runtime setting is a `Settings` field only; the stack reads it through `runtime`."""
    assert set(InfraConfig.model_fields) & set(Settings.model_fields) == set()
    visibility = Settings.model_fields["queue_visibility_timeout"].default
    assert config(stage="prod").runtime.queue_visibility_timeout == visibility


def test_each_infrastructure_setting_declares_a_description_and_all_but_the_name_a_default() -> (
    None
):
    fields = {n: f for n, f in InfraConfig.model_fields.items() if n not in NOT_SETTINGS}
    assert [name for name, field in fields.items() if not field.description] == []
    assert [name for name, field in fields.items() if field.is_required()] == ["stack_name"]


def declared_default(key: str) -> Any:
    """The default the declaration of context key `key` gives, as cdk.json would write it."""
    for name, field in InfraConfig.model_fields.items():
        if (field.alias or name) == key:
            default = field.get_default(call_default_factory=True)
            return "" if default is None else default  # cdk.json writes unset ARNs as ""
    (name,) = [name for name in Settings.model_fields if to_camel(name) == key]
    return Settings.model_fields[name].default


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_a_stage_block_of_cdk_json_holds_only_what_differs_from_the_defaults(stage: str) -> None:
    block = cdk_json_context()["taskqueue"][stage]
    same = {key: value for key, value in block.items() if value == declared_default(key)}
    assert same == {}
    assert "stackName" in block  # the one setting without a default


def test_prod_refuses_its_web_on_fargate_spot_which_dev_takes() -> None:
    assert config().web_capacity == "FARGATE_SPOT"  # cdk.json's dev
    assert config(stage="prod").web_capacity == "FARGATE"
    with pytest.raises(ConfigError, match=r"webCapacity.*prod's web runs on regular Fargate"):
        config(stage="prod", webCapacity="FARGATE_SPOT")


def test_without_container_insights_a_queue_scaling_past_20_steps_is_refused() -> None:
    """One step per task count, and a step policy holds 20 (Application Auto Scaling)."""
    assert config().container_insights is False  # cdk.json's dev
    assert config(stage="prod").container_insights is True
    assert config(workerMaxCount=20).worker_counts.maximum == 20
    with pytest.raises(ConfigError, match=r"queue 'default'.*workerMaxCount \(21\).*lower"):
        config(workerMaxCount=21)
    reports = '{"reports": {"workerMaxCount": 25}}'
    with pytest.raises(ConfigError, match=r"queue 'reports'.*workerMaxCount \(25\)"):
        config(queueSettings=reports)
    # A minimum of 5 leaves the counts 5 to 24: 20 steps.
    assert config(stage="prod", containerInsights=False, workerMinCount=5, workerMaxCount=24)
    # Target tracking has no such bound.
    assert config(containerInsights=True, workerMaxCount=50).worker_counts.maximum == 50
