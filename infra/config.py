"""The one frozen configuration object of the stack, built from CDK context in `app.py`.

Context layout (see `cdk.json`)::

    "stage": "dev",                        # or -c stage=prod
    "taskqueue": {"dev": {...}, "prod": {...}}   # every tunable, per stage
    "workerCount": 5                       # optional top-level override (-c workerCount=5)

A top-level key wins over the stage's block, so ``cdk deploy -c workerCount=5`` changes one
value. Values given with ``-c`` arrive as strings and are converted here. Constructs never
read context: they get the typed values of this object.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, cast, get_args

Stage = Literal["dev", "prod"]
Egress = Literal["public", "nat", "endpoints"]

STAGES: tuple[str, ...] = get_args(Stage)
EGRESS_MODES: tuple[str, ...] = get_args(Egress)

ACM_ARN = re.compile(r"arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[A-Za-z0-9-]+")
"""An ACM certificate's ARN (the load balancer's HTTPS listener needs one)."""

S3_BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
"""An S3 bucket name (3-63 lowercase letters, digits, dots and hyphens)."""

CONTEXT_NAMESPACE = "taskqueue"
"""cdk.json context key holding one block of tunables per stage."""

FARGATE_MAX_STOP_TIMEOUT = 120
"""Seconds Fargate waits between SIGTERM and SIGKILL at most (the container stopTimeout)."""

LOG_RETENTION_DAYS: frozenset[int] = frozenset(
    {1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731}
)
"""Retention periods CloudWatch Logs accepts (the ones this stack maps)."""

FARGATE_CPU_MEMORY: Mapping[int, tuple[int, int, int]] = {
    256: (512, 2048, 1024),
    512: (1024, 4096, 1024),
    1024: (2048, 8192, 1024),
    2048: (4096, 16384, 1024),
    4096: (8192, 30720, 1024),
}
"""Fargate CPU units -> (smallest memory MiB, largest memory MiB, step), 256 cpu aside."""


class ConfigError(ValueError):
    """The context describes a stack that cannot work."""


@dataclass(frozen=True, kw_only=True)
class ServiceCounts:
    """Desired, minimum and maximum task counts of one ECS service."""

    desired: int
    minimum: int
    maximum: int

    def __post_init__(self) -> None:
        if not 0 <= self.minimum <= self.desired <= self.maximum:
            raise ConfigError(
                f"task counts must satisfy 0 <= minimum ({self.minimum}) <= desired "
                f"({self.desired}) <= maximum ({self.maximum})"
            )
        if self.maximum < 1:
            raise ConfigError(f"maximum task count must be at least 1, got {self.maximum}")


@dataclass(frozen=True, kw_only=True)
class TaskSize:
    """Fargate task size: CPU units and memory in MiB."""

    cpu: int
    memory_mib: int

    def __post_init__(self) -> None:
        if self.cpu not in FARGATE_CPU_MEMORY:
            raise ConfigError(f"Fargate cpu must be one of {sorted(FARGATE_CPU_MEMORY)}")
        low, high, step = FARGATE_CPU_MEMORY[self.cpu]
        valid = {512, 1024, 2048} if self.cpu == 256 else set(range(low, high + 1, step))
        if self.memory_mib not in valid:
            raise ConfigError(
                f"Fargate memory {self.memory_mib} MiB does not fit cpu {self.cpu} "
                f"(allowed: {sorted(valid)})"
            )


@dataclass(frozen=True, kw_only=True)
class InfraConfig:
    """Every tunable of the stack, typed and checked once."""

    stage: Stage
    stack_name: str
    egress: Egress
    """public: tasks in public subnets, no NAT (dev, nothing billed idle); nat: private
    subnets behind one NAT gateway; endpoints: isolated subnets with VPC endpoints."""
    max_azs: int

    # Task timing: the single source of truth for the queue and the containers.
    task_max_duration: int
    task_soft_time_limit: int
    task_time_limit: int
    visibility_margin: int
    """Seconds the queue's visibility timeout adds on top of the task time limit."""
    max_receive_count: int
    dlq_retention_days: int
    result_expires: int

    log_level: str
    log_retention_days: int

    web_size: TaskSize
    web_counts: ServiceCounts
    web_cpu_target_percent: int

    worker_size: TaskSize
    worker_counts: ServiceCounts
    worker_concurrency: int
    worker_soft_shutdown_timeout: int
    worker_stop_timeout: int = FARGATE_MAX_STOP_TIMEOUT

    acceptable_latency_seconds: float
    """How long a message may wait in the queue (backlog-per-task scaling)."""
    average_processing_seconds: float
    """Average seconds one worker task needs per message (backlog-per-task scaling)."""
    worker_scale_out_cooldown: int
    worker_scale_in_cooldown: int

    oldest_message_alarm_seconds: int
    alb_5xx_alarm_threshold: int
    backlog_without_workers_alarm_minutes: int
    alarm_topic_arn: str | None = None
    certificate_arn: str | None = None
    """ACM certificate for the load balancer: HTTPS on 443 and 80 redirecting to it.
    Unset: plain HTTP on 80."""
    access_logs_bucket: str | None = None
    """An existing S3 bucket whose policy lets Elastic Load Balancing write to it (often an
    organisation's central log bucket): the load balancer's access logs go there, under
    the stack's name. Unset: no access logs."""

    def __post_init__(self) -> None:
        if self.stage not in STAGES:
            raise ConfigError(f"stage must be one of {STAGES}, got {self.stage!r}")
        if self.egress not in EGRESS_MODES:
            raise ConfigError(f"egress must be one of {EGRESS_MODES}, got {self.egress!r}")
        if self.stage == "prod" and self.egress == "public":
            raise ConfigError("prod runs tasks in private subnets: egress must be nat|endpoints")
        if self.max_azs < 2:
            raise ConfigError("an application load balancer needs at least 2 AZs")
        self._check_timing()
        if not 1 <= self.max_receive_count <= 1000:
            raise ConfigError("maxReceiveCount must be within 1..1000")
        if not 1 <= self.dlq_retention_days <= 14:
            raise ConfigError("SQS keeps messages 14 days at most")
        if self.result_expires <= 0:
            raise ConfigError("resultExpires must be positive")
        if self.log_retention_days not in LOG_RETENTION_DAYS:
            raise ConfigError(f"logRetentionDays must be one of {sorted(LOG_RETENTION_DAYS)}")
        if self.web_counts.minimum < 1:
            raise ConfigError("the web service keeps at least one task behind the load balancer")
        if not 1 <= self.web_cpu_target_percent <= 100:
            raise ConfigError("webCpuTarget is a percentage")
        if self.worker_concurrency < 1:
            raise ConfigError("workerConcurrency must be at least 1")
        if self.acceptable_latency_seconds <= 0 or self.average_processing_seconds <= 0:
            raise ConfigError("acceptableLatency and averageProcessingTime must be positive")
        if self.worker_scale_out_cooldown < 0 or self.worker_scale_in_cooldown < 0:
            raise ConfigError("worker scaling cooldowns must not be negative")
        if self.oldest_message_alarm_seconds <= 0 or self.alb_5xx_alarm_threshold < 0:
            raise ConfigError("alarm thresholds must be positive")
        if self.backlog_without_workers_alarm_minutes < 1:
            raise ConfigError("backlogWithoutWorkersAlarmMinutes must be at least 1")
        if self.access_logs_bucket is not None and not S3_BUCKET_NAME.fullmatch(
            self.access_logs_bucket
        ):
            raise ConfigError(
                f"accessLogsBucket must be an S3 bucket name, got {self.access_logs_bucket!r}"
            )
        if self.certificate_arn is not None and not ACM_ARN.fullmatch(self.certificate_arn):
            raise ConfigError(
                f"certificateArn must be an ACM certificate ARN, got {self.certificate_arn!r}"
            )

    def _check_timing(self) -> None:
        """The same order the runtime settings enforce, plus the worker's stop window."""
        if self.visibility_margin < 1:
            raise ConfigError("visibilityMargin must be at least 1 second")
        if not (0 < self.task_max_duration < self.task_soft_time_limit < self.task_time_limit):
            raise ConfigError(
                "task limits must satisfy 0 < taskMaxDuration "
                f"({self.task_max_duration}) < taskSoftTimeLimit ({self.task_soft_time_limit})"
                f" < taskTimeLimit ({self.task_time_limit})"
            )
        if self.queue_visibility_timeout > 43_200:
            raise ConfigError("SQS visibility timeout is 12 hours at most")
        if not 0 < self.worker_stop_timeout <= FARGATE_MAX_STOP_TIMEOUT:
            raise ConfigError(f"Fargate stopTimeout is {FARGATE_MAX_STOP_TIMEOUT} s at most")
        if not 0 <= self.worker_soft_shutdown_timeout < self.worker_stop_timeout:
            raise ConfigError(
                f"workerSoftShutdownTimeout ({self.worker_soft_shutdown_timeout}) must fit "
                f"inside the worker's stopTimeout ({self.worker_stop_timeout})"
            )

    @property
    def queue_visibility_timeout(self) -> int:
        """Derived, never configured: a task is killed before its message reappears."""
        return self.task_time_limit + self.visibility_margin

    @property
    def backlog_per_task_target(self) -> float:
        """Acceptable backlog per worker task: acceptable latency / average processing time."""
        return round(self.acceptable_latency_seconds / self.average_processing_seconds, 3)

    @property
    def is_prod(self) -> bool:
        return self.stage == "prod"

    @property
    def point_in_time_recovery(self) -> bool:
        return self.is_prod

    @property
    def retain_data(self) -> bool:
        """Keep the table and log groups when the stack is deleted (prod)."""
        return self.is_prod

    def runtime_environment(
        self,
        *,
        task_queue_name: str,
        task_queue_url: str,
        task_dlq_name: str,
        results_table: str,
        aws_region: str,
    ) -> dict[str, str]:
        """Environment shared by both containers, named as the runtime `Settings` fields.

        `AWS_ENDPOINT_URL` is never set: on AWS the SDKs use the real endpoints.
        """
        return {
            "TASK_QUEUE_NAME": task_queue_name,
            "TASK_QUEUE_URL": task_queue_url,
            "TASK_DLQ_NAME": task_dlq_name,
            "MAX_RECEIVE_COUNT": str(self.max_receive_count),
            "AWS_REGION": aws_region,
            "RESULTS_TABLE": results_table,
            "RESULT_EXPIRES": str(self.result_expires),
            "QUEUE_VISIBILITY_TIMEOUT": str(self.queue_visibility_timeout),
            "TASK_SOFT_TIME_LIMIT": str(self.task_soft_time_limit),
            "TASK_TIME_LIMIT": str(self.task_time_limit),
            "TASK_MAX_DURATION": str(self.task_max_duration),
            "WORKER_CONCURRENCY": str(self.worker_concurrency),
            "WORKER_SOFT_SHUTDOWN_TIMEOUT": str(self.worker_soft_shutdown_timeout),
            "LOG_LEVEL": self.log_level,
        }

    @classmethod
    def from_context(cls, get: Callable[[str], Any]) -> InfraConfig:
        """Build the config from a context lookup (`app.node.try_get_context`)."""
        stage = _text(get("stage") or "dev", "stage")
        if stage not in STAGES:
            raise ConfigError(f"-c stage must be one of {STAGES}, got {stage!r}")
        blocks = get(CONTEXT_NAMESPACE)
        if not isinstance(blocks, Mapping) or not isinstance(blocks.get(stage), Mapping):
            raise ConfigError(
                f"context {CONTEXT_NAMESPACE!r} must hold a block for stage {stage!r} "
                "(see cdk.json)"
            )
        ctx = _Context(get=get, stage_block=blocks[stage])
        topic = ctx.optional_text("alarmTopicArn")
        return cls(
            stage=cast(Stage, stage),
            stack_name=ctx.text("stackName"),
            egress=cast(Egress, ctx.text("egress")),
            max_azs=ctx.integer("maxAzs"),
            task_max_duration=ctx.integer("taskMaxDuration"),
            task_soft_time_limit=ctx.integer("taskSoftTimeLimit"),
            task_time_limit=ctx.integer("taskTimeLimit"),
            visibility_margin=ctx.integer("visibilityMargin"),
            max_receive_count=ctx.integer("maxReceiveCount"),
            dlq_retention_days=ctx.integer("dlqRetentionDays"),
            result_expires=ctx.integer("resultExpires"),
            log_level=ctx.text("logLevel").upper(),
            log_retention_days=ctx.integer("logRetentionDays"),
            web_size=TaskSize(cpu=ctx.integer("webCpu"), memory_mib=ctx.integer("webMemoryMiB")),
            web_counts=ServiceCounts(
                desired=ctx.integer("webCount"),
                minimum=ctx.integer("webMinCount"),
                maximum=ctx.integer("webMaxCount"),
            ),
            web_cpu_target_percent=ctx.integer("webCpuTarget"),
            worker_size=TaskSize(
                cpu=ctx.integer("workerCpu"), memory_mib=ctx.integer("workerMemoryMiB")
            ),
            worker_counts=ServiceCounts(
                desired=ctx.integer("workerCount"),
                minimum=ctx.integer("workerMinCount"),
                maximum=ctx.integer("workerMaxCount"),
            ),
            worker_concurrency=ctx.integer("workerConcurrency"),
            worker_soft_shutdown_timeout=ctx.integer("workerSoftShutdownTimeout"),
            acceptable_latency_seconds=ctx.number("acceptableLatency"),
            average_processing_seconds=ctx.number("averageProcessingTime"),
            worker_scale_out_cooldown=ctx.integer("workerScaleOutCooldown"),
            worker_scale_in_cooldown=ctx.integer("workerScaleInCooldown"),
            oldest_message_alarm_seconds=ctx.integer("oldestMessageAlarmAge"),
            alb_5xx_alarm_threshold=ctx.integer("alb5xxAlarmThreshold"),
            backlog_without_workers_alarm_minutes=ctx.integer("backlogWithoutWorkersAlarmMinutes"),
            alarm_topic_arn=topic,
            certificate_arn=ctx.optional_text("certificateArn"),
            access_logs_bucket=ctx.optional_text("accessLogsBucket"),
        )


@dataclass(frozen=True)
class _Context:
    """Typed reads: a top-level context key overrides the stage block's value."""

    get: Callable[[str], Any]
    stage_block: Mapping[str, Any]

    def raw(self, key: str) -> Any:
        value = self.get(key)
        if value is None:
            value = self.stage_block.get(key)
        if value is None:
            raise ConfigError(f"context key {key!r} is missing (cdk.json or -c {key}=...)")
        return value

    def text(self, key: str) -> str:
        return _text(self.raw(key), key)

    def optional_text(self, key: str) -> str | None:
        value = self.get(key)
        if value is None:
            value = self.stage_block.get(key)
        return None if value in (None, "") else _text(value, key)

    def integer(self, key: str) -> int:
        value = self.raw(key)
        if isinstance(value, bool):
            raise ConfigError(f"context key {key!r} must be an integer, got {value!r}")
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                return int(value.strip())
            except ValueError:
                pass
        raise ConfigError(f"context key {key!r} must be an integer, got {value!r}")

    def number(self, key: str) -> float:
        value = self.raw(key)
        if isinstance(value, bool):
            raise ConfigError(f"context key {key!r} must be a number, got {value!r}")
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"context key {key!r} must be a number, got {value!r}") from None
        if not math.isfinite(number):
            raise ConfigError(f"context key {key!r} must be finite, got {value!r}")
        return number


def _text(value: object, key: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"context key {key!r} must be a non-empty string, got {value!r}")
    return value.strip()
