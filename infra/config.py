"""The one frozen configuration object of the stack, built from CDK context in `app.py`.

Context layout (see `cdk.json`)::

    "stage": "dev",                        # or -c stage=prod
    "taskqueue": {"dev": {...}, "prod": {...}}   # per stage: what differs from the defaults
    "taskqueue": {"queueSettings": {"reports": {...}}}  # each queue's, for every stage
    "workerMaxCount": 20                   # optional top-level override (-c workerMaxCount=20)

A top-level key wins over the stage's block, so ``cdk deploy -c workerMaxCount=20`` changes
one value. The queues' blocks merge per queue and per key: `taskqueue.queueSettings`, then
the stage block's `queueSettings`, then ``-c queueSettings=...``. Each setting is declared
once, with its default and description: an infrastructure setting as a field of
`InfraConfig` (its context key is its alias, its name in camelCase), a runtime setting as a
field of `Settings` (taskqueue.settings), whose camelCase name is its context key too (``-c
webWorkers=8``) unless it is declared `SetElsewhere` (the stack or ECS sets it, or it is for
local stacks only). Values given with ``-c`` arrive as strings and pydantic converts them.
Constructs never read context: they get the typed values of this object, the runtime ones
through `runtime`. A key that is no setting fails with the nearest known key; CDK's own keys
(feature flags, the CLI's) are not the stack's to judge. `make docs` writes the settings
reference (shared/README.md#settings) from the declarations.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from ipaddress import IPv4Network, IPv6Network
from typing import Annotated, Any, Literal, Self, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel
from taskqueue.catalogue.registry import DEFAULT_QUEUE
from taskqueue.catalogue.schedules import Schedule
from taskqueue.factory import declared_queues
from taskqueue.factory import declared_schedules as declared
from taskqueue.settings import Settings, set_elsewhere, used_by_stack

from infra.task_secrets import TaskSecrets

Stage = Literal["dev", "prod"]
Egress = Literal["public", "nat", "endpoints"]
CpuArchitecture = Literal["X86_64", "ARM64"]
WorkerCapacity = Literal["FARGATE", "FARGATE_SPOT"]
WebCapacity = WorkerCapacity
"""The web's choices are the worker's: regular Fargate, or Fargate Spot."""

METRICS_NAMESPACE_PREFIX = "TaskQueue"
"""The task metrics' namespace is this, a slash, and the stack's name."""

CONTEXT_NAMESPACE = "taskqueue"
"""cdk.json context key holding one block of tunables per stage."""

QUEUES_KEY = "queueSettings"
"""The context key of the queues' blocks: under `taskqueue` for every stage, in a stage's
block for that stage, or top-level (``-c queueSettings=...``). Not `queues`: that is the
runtime's QUEUES, which the stack sets."""

QUEUE_KEYS = (
    "workerCpu",
    "workerMemoryMiB",
    "workerMinCount",
    "workerMaxCount",
    "workerCapacity",
    "workerOnDemandBase",
    "workerConcurrency",
    "queueVisibilityTimeout",
    "acceptableLatency",
    "averageProcessingTime",
    "oldestMessageAlarmAge",
)
"""The context keys a queue's block may set: its workers' size, counts, concurrency and
scaling, its SQS queue's base visibility and its oldest-message alarm. Unset, each is the
default worker's (the stage's value of the same key)."""

FARGATE_MAX_STOP_TIMEOUT = 120
"""Seconds Fargate waits between SIGTERM and SIGKILL at most (the container stopTimeout)."""

STEP_ADJUSTMENTS_PER_POLICY = 20
"""Step adjustments one Application Auto Scaling step policy may hold (its default quota,
https://docs.aws.amazon.com/autoscaling/application/userguide/application-auto-scaling-quotas.html)."""

SQS_MAX_INVISIBILITY = 43_200
"""Seconds SQS keeps a received message invisible at most, extensions included (12 hours)."""

LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731)
"""Retention periods CloudWatch Logs accepts (the ones this stack maps)."""

REMOVED_CONTEXT_KEYS = {
    key: (
        "autoscaling owns the task count, so the template sets none (a deploy would reset "
        f"it): set the bounds with {prefix}MinCount/{prefix}MaxCount"
        + (", or the count now with `make scale-workers N=...`" if prefix == "worker" else "")
    )
    for key, prefix in (("webCount", "web"), ("workerCount", "worker"))
}
"""Context keys this stack no longer reads, with what to use instead."""

NOT_FROM_CONTEXT: Mapping[str, str] = {
    name: marker.by for name in Settings.model_fields if (marker := set_elsewhere(name))
}
"""The runtime `Settings` fields no context key sets, each with what sets it instead (their
`SetElsewhere` declarations)."""

RUNTIME_FIELDS = [name for name in Settings.model_fields if name not in NOT_FROM_CONTEXT]
"""The runtime settings a stage sets from context: every other `Settings` field."""

USED_BY_STACK = [name for name in RUNTIME_FIELDS if used_by_stack(name)]
"""The runtime settings the stack uses too: always in the containers' environment."""

TOP_LEVEL_KEYS = ("stage", CONTEXT_NAMESPACE)
"""Context keys that choose and hold the stage blocks: not tunables themselves."""

CDK_CLI_KEYS = ("acknowledged-issue-numbers",)
"""Context keys the CDK CLI keeps (`cdk acknowledge`), beside its `aws:cdk:*` ones."""

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
    """Minimum and maximum task counts of one ECS service (autoscaling moves it between)."""

    minimum: int
    maximum: int

    def __post_init__(self) -> None:
        if not 0 <= self.minimum <= self.maximum:
            raise ConfigError(
                f"task counts must satisfy 0 <= minimum ({self.minimum}) <= "
                f"maximum ({self.maximum})"
            )
        if self.maximum < 1:
            raise ConfigError(f"maximum task count must be at least 1, got {self.maximum}")

    @property
    def busy_counts(self) -> range:
        """The task counts a service with work to do may have: 1 (or the minimum) to the
        maximum (backlog steps scaling sets one of them per step)."""
        return range(max(1, self.minimum), self.maximum + 1)


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


def _log_retention(days: int) -> int:
    if days not in LOG_RETENTION_DAYS:
        raise ValueError(f"must be one of {list(LOG_RETENTION_DAYS)}")
    return days


def _at_most_12_hours(seconds: int) -> int:
    if seconds > SQS_MAX_INVISIBILITY:
        raise ValueError(
            f"{seconds} s is more than SQS keeps a received message invisible in all "
            f"(12 hours, {SQS_MAX_INVISIBILITY} s): the message would be delivered again "
            "while the task still runs"
        )
    return seconds


def _unset_if_blank(value: object) -> object:
    return None if isinstance(value, str) and not value.strip() else value


SqsInvisibility = Annotated[int, Field(gt=0), AfterValidator(_at_most_12_hours)]
Email = Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]
AcmArn = Annotated[str, Field(pattern=r"^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[\w-]+$")]
BucketName = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")]  # S3's rule
UNSET_IF_BLANK = BeforeValidator(_unset_if_blank)
"""cdk.json leaves an optional ARN or name empty ("") when it is unset."""


def _json_text(value: object) -> object:
    """A list given with ``-c key=[...]`` arrives as JSON text."""
    return json.loads(value) if isinstance(value, str) else value


Cidrs = Annotated[list[IPv4Network | IPv6Network], BeforeValidator(_json_text), Field(min_length=1)]
WAF_RATE_LIMIT = Field(ge=10, le=2_000_000_000)  # AWS WAF's rate-based rule limit bounds

AWS_LIMITS: Mapping[str, TypeAdapter[int]] = {
    **dict.fromkeys(
        (
            "task_max_duration",
            "task_soft_time_limit",
            "task_time_limit",
            "queue_visibility_timeout",
        ),
        TypeAdapter(SqsInvisibility),
    ),
    "max_receive_count": TypeAdapter(Annotated[int, Field(ge=1, le=1000)]),  # SQS's redrive
}
"""What AWS allows of a runtime setting the stack uses, beyond the runtime's own rules: each
is checked as its context key, before the runtime's rules between settings. SQS keeps a
received message invisible 12 hours at most, extensions included, so no task timing may
exceed that; the worker extends a running task's base visibility meanwhile (the heartbeat)."""


class InfraConfig(BaseModel):
    """The stack's configuration: its infrastructure settings, each declared here once, and
    the runtime settings a stage gives (`Settings` declares those; `runtime`)."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        alias_generator=to_camel,
        str_strip_whitespace=True,
        allow_inf_nan=False,
        use_attribute_docstrings=True,  # a field's docstring is its description (the docs')
    )

    # Each field is an infrastructure setting: its context key is its alias, its description
    # the docstring below it. Where dev and prod differ, the default is prod's, so a key a
    # stage block forgets never makes a stack weaker than prod; dev's block sets its cheaper
    # values (cdk.json holds only what differs from these defaults).
    stage: Stage = "dev"
    """The stage whose block of cdk.json applies (chosen with -c stage=...)."""
    stack_name: str = Field(min_length=1)
    """The CloudFormation stack's name. No default: each stage block names its stack, the one
    place the CLI and the rehearsal read it from."""
    egress: Egress = "nat"
    """public: tasks in public subnets, no NAT (dev, nothing billed idle); nat: private
    subnets behind one NAT gateway; endpoints: isolated subnets with VPC endpoints."""
    max_azs: int = Field(2, ge=2)
    """Availability zones of the VPC (2 at least: an application load balancer needs 2)."""
    cpu_architecture: CpuArchitecture = "X86_64"
    """Both task definitions' CPU architecture and the platform both images are built for.
    ARM64 (Graviton) is about 20% cheaper on Fargate and native on Apple silicon."""

    dlq_retention_days: int = Field(14, ge=1, le=14)
    """Days the dead-letter queues keep a message (SQS keeps messages 14 days at most)."""
    log_retention_days: Annotated[int, AfterValidator(_log_retention)] = 365
    """Days the services' and the VPC flow log's log groups keep their events (one of
    CloudWatch Logs' periods)."""

    web_cpu: int = 512
    """Fargate CPU units of a web task (with webMemoryMiB, one of Fargate's task sizes)."""
    web_memory_mib: int = Field(1024, alias="webMemoryMiB")
    """Memory of a web task, in MiB."""
    web_min_count: int = Field(2, ge=1)
    """Fewest web tasks autoscaling keeps (at least one behind the load balancer)."""
    web_max_count: int = 10
    """Most web tasks autoscaling starts."""
    web_cpu_target_percent: int = Field(60, alias="webCpuTarget", ge=1, le=100)
    """Average CPU per cent the web service's target tracking keeps."""
    web_capacity: WebCapacity = "FARGATE"
    """FARGATE_SPOT: every web task runs on Fargate Spot (up to 70% off). A Spot interruption
    stops a task with two minutes' notice and the service runs below its minimum until ECS
    places another (dev's single task: the API is down meanwhile). Refused in prod."""

    worker_cpu: int = 1024
    """Fargate CPU units of a worker task (with workerMemoryMiB, one of Fargate's task
    sizes)."""
    worker_memory_mib: int = Field(2048, alias="workerMemoryMiB")
    """Memory of a worker task, in MiB."""
    worker_min_count: int = 1
    """Fewest worker tasks autoscaling keeps; 0 lets an idle worker service scale to zero."""
    worker_max_count: int = 20
    """Most worker tasks autoscaling starts."""
    worker_stop_timeout: int = Field(FARGATE_MAX_STOP_TIMEOUT, gt=0, le=FARGATE_MAX_STOP_TIMEOUT)
    """Seconds ECS waits between SIGTERM and SIGKILL of a worker (the container's stopTimeout,
    120 at most on Fargate)."""
    worker_capacity: WorkerCapacity = "FARGATE"
    """FARGATE_SPOT: the worker tasks beyond `workerOnDemandBase` run on Fargate Spot."""
    worker_on_demand_base: int = Field(1, ge=0)
    """With FARGATE_SPOT: this many worker tasks always run on regular (on-demand) Fargate."""

    acceptable_latency_seconds: float = Field(60.0, alias="acceptableLatency", gt=0)
    """How long a message may wait in the queue, in seconds (backlog-per-task scaling)."""
    average_processing_seconds: float = Field(2.0, alias="averageProcessingTime", gt=0)
    """Average seconds one message takes to run in one worker process (backlog-per-task
    scaling; a worker task runs `workerConcurrency` of them at once)."""
    worker_scale_out_cooldown: int = Field(60, ge=0)
    """Seconds between two scale-outs of the worker service."""
    worker_scale_in_cooldown: int = Field(300, ge=0)
    """Seconds between two scale-ins of the worker service."""
    container_insights: bool = True
    """Container Insights on the cluster: per-service task counts (billed as custom metrics)
    that drive the workers' backlog-per-task target tracking. false (dev): no Insights; each
    worker service scales by steps on its queue's backlog alone (infra/README.md#autoscaling),
    which caps workerMaxCount at 20."""

    oldest_message_alarm_seconds: int = Field(300, alias="oldestMessageAlarmAge", gt=0)
    """Age in seconds of the queue's oldest message above which its alarm fires."""
    alb_5xx_alarm_threshold: int = Field(5, alias="alb5xxAlarmThreshold", ge=0)
    """5xx answers of the load balancer in a minute above which its alarm fires."""
    backlog_without_workers_alarm_minutes: int = Field(10, ge=1)
    """Minutes of messages waiting with no worker task running before its alarm fires."""
    task_failure_rate_alarm: float = Field(0.2, gt=0, le=1)
    """Failed / (Succeeded + Failed) runs of one task in 5 minutes above which its alarm fires
    (0.2: one run in five)."""
    alarm_topic_arn: Annotated[str | None, UNSET_IF_BLANK] = None
    """An existing SNS topic for the alarms. Unset: the stack creates an encrypted one."""
    alarm_email: Annotated[Email | None, UNSET_IF_BLANK] = None
    """An address subscribed to the alarm topic (it must confirm the subscription)."""
    certificate_arn: Annotated[AcmArn | None, UNSET_IF_BLANK] = None
    """ACM certificate for the load balancer: HTTPS on 443 and 80 redirecting to it.
    Unset: plain HTTP on 80."""
    access_logs_bucket: Annotated[BucketName | None, UNSET_IF_BLANK] = None
    """An existing S3 bucket whose policy lets Elastic Load Balancing write to it (often an
    organisation's central log bucket): the load balancer's access logs go there, under
    the stack's name. Unset: no access logs."""
    allowed_cidrs: Cidrs = [IPv4Network("0.0.0.0/0")]
    """The address ranges the load balancer's security group admits on its listener ports."""
    rate_limit_per_ip: Annotated[Annotated[int, WAF_RATE_LIMIT] | None, UNSET_IF_BLANK] = None
    """Requests one IP may make in 5 minutes before an AWS WAF rate-based rule blocks it.
    Unset: no web ACL."""
    secrets: TaskSecrets = {}
    """Environment variable -> Secrets Manager secret or SSM parameter (infra.task_secrets)."""
    schedules: bool = True
    """One EventBridge Scheduler schedule per declared periodic task
    (taskqueue.catalogue.schedules); false: none."""
    disabled_schedules: Annotated[list[str], BeforeValidator(_json_text)] = []
    """Declared schedules this stage does not create, by name."""
    paused_schedules: Annotated[list[str], BeforeValidator(_json_text)] = []
    """Declared schedules this stage creates paused (State DISABLED: they never fire until
    resumed), by name. dev pauses queue-report: its fires every 5 minutes would wake the worker
    service (minimum 0) each time, and it would never idle at zero."""
    runtime_overrides: dict[str, Any] = {}
    """The runtime settings this stage sets (``-c webWorkers=8``), by `Settings` field; the
    rest keep the runtime's defaults. `Settings` checks them (`runtime`)."""
    queue_settings: dict[str, dict[str, Any]] = {}
    """The queues other than the default (`register(..., queue="reports")`), each with what its
    workers and its SQS queue set differently from the default worker: their size, counts,
    concurrency, scaling, base visibility and oldest-message alarm, under the default
    worker's keys (infra/README.md#several-queues). Declared once under
    `taskqueue.queueSettings`; a stage's block (or -c) holds only what differs there, merged
    per queue and key. A queue that no task is sent to is refused; a task's queue with no
    block gets the default worker's settings."""

    @field_validator("disabled_schedules", "paused_schedules")
    @classmethod
    def _declared_names(cls, names: list[str]) -> list[str]:
        known = declared()
        unknown = [name for name in names if name not in known]
        if unknown:
            raise ValueError(
                f"no declared schedule is named {', '.join(map(repr, unknown))}"
                f" (declared: {', '.join(sorted(known)) or 'none'})"
            )
        return names

    @field_validator("queue_settings")
    @classmethod
    def _queue_keys(cls, queues: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        for name, block in queues.items():
            for key in block:
                if key not in QUEUE_KEYS:
                    raise ValueError(_unknown_queue_key(name, key))
        return queues

    @property
    def enabled_schedules(self) -> list[Schedule]:
        """The declared schedules the stack creates."""
        if not self.schedules:
            return []
        return [s for name, s in declared().items() if name not in self.disabled_schedules]

    @model_validator(mode="after")
    def _fits_together(self) -> Self:
        """The cross-field rules: each error names the context keys it is about."""
        if self.stage == "prod" and self.egress == "public":
            raise ConfigError("prod runs tasks in private subnets: egress must be nat|endpoints")
        for keys, build in {
            "webCpu/webMemoryMiB": lambda: self.web_size,
            "webMinCount/webMaxCount": lambda: self.web_counts,
            "workerCpu/workerMemoryMiB": lambda: self.worker_size,
            "workerMinCount/workerMaxCount": lambda: self.worker_counts,
        }.items():
            try:
                build()
            except ConfigError as error:
                raise ConfigError(f"context keys {keys}: {error}") from None
        if self.is_prod and self.web_capacity == "FARGATE_SPOT":
            raise ConfigError(
                "context key 'webCapacity': prod's web runs on regular Fargate: Fargate Spot may"
                " reclaim every web task at once (no capacity in the region), and the API is"
                " down until ECS places others; FARGATE_SPOT is for dev (workerCapacity may use"
                " Spot in prod: a worker's stop loses no task)"
            )
        if self.worker_on_demand_base > self.worker_max_count:
            raise ConfigError(
                f"workerOnDemandBase ({self.worker_on_demand_base}) must not exceed "
                f"workerMaxCount ({self.worker_max_count})"
            )
        for name, limit in AWS_LIMITS.items():
            if name in self.runtime_overrides:
                try:
                    limit.validate_python(self.runtime_overrides[name])
                except ValidationError as error:
                    key = _context_key(to_camel(name))
                    raise ConfigError(f"{key}: {_describe(error)}") from None
        try:
            settings = self.runtime
        except ValidationError as error:
            message = _describe(error, str.upper)
            keys = ", ".join(
                to_camel(name)
                for name in RUNTIME_FIELDS
                if re.search(rf"\b{name.upper()}\b", message)
            )
            raise ConfigError(f"runtime Settings: {message} (context: {keys})") from None
        # Fargate's stop window, which the runtime settings cannot know.
        if not settings.worker_soft_shutdown_timeout < self.worker_stop_timeout:
            raise ConfigError(
                f"workerSoftShutdownTimeout ({settings.worker_soft_shutdown_timeout:g}) must fit "
                f"inside the worker's stopTimeout ({self.worker_stop_timeout})"
            )
        if self.is_prod and settings.diagnostic_tasks:
            raise ConfigError(
                "context key 'diagnosticTasks': prod cannot offer the diagnostic tasks (fail,"
                " crash, retry_then_succeed, check_secret, limited, param_digest, sized_result,"
                " frequent_progress): any client could take worker slots down with crash, or"
                " test guesses of a secret with check_secret"
            )
        self._check_queues(settings)
        return self

    def _check_queues(self, settings: Settings) -> None:
        """Each queue's block names a queue a task is sent to, and its workers can work."""
        if DEFAULT_QUEUE in self.queue_settings:
            raise ConfigError(
                f"context key {QUEUES_KEY!r}: {DEFAULT_QUEUE!r} is the queue of the tasks that name"
                f" none: its workers are the stage's own keys ({', '.join(QUEUE_KEYS)})"
            )
        offered = declared_queues(settings)
        unused = [name for name in self.queue_settings if name not in offered]
        if unused:
            raise ConfigError(
                f"context key {QUEUES_KEY!r}: no task is sent to {', '.join(map(repr, unused))}"
                f" (the queues of the tasks this stage offers: {', '.join(offered)})"
            )
        for name in self.queue_settings:
            self.queue_config(name)
        if not self.container_insights:
            for name in offered:
                counts = self.queue_config(name).worker_counts
                highest = STEP_ADJUSTMENTS_PER_POLICY + counts.busy_counts.start - 1
                if counts.maximum > highest:
                    raise ConfigError(
                        f"queue {name!r}: with containerInsights false its workers scale by"
                        f" steps, one per task count from {counts.busy_counts.start} to"
                        f" workerMaxCount ({counts.maximum}), and a step policy holds at most"
                        f" {STEP_ADJUSTMENTS_PER_POLICY} (Application Auto Scaling's quota):"
                        f" lower workerMaxCount to {highest}"
                        " or set containerInsights true (target tracking, any maximum)"
                    )

    @property
    def declared_queues(self) -> list[str]:
        """The queues of the tasks this stage offers: "default" first, then the others."""
        return declared_queues(self.runtime)

    def queue_config(self, queue: str) -> InfraConfig:
        """This stage's configuration as the queue named `queue` is built: its block's keys
        over the default worker's (the default queue, or a queue without a block: this one)."""
        block = self.queue_settings.get(queue)
        if not block:
            return self
        runtime = {to_camel(name): name for name in RUNTIME_FIELDS}
        values = self.model_dump(by_alias=True, exclude={"queue_settings"})
        overrides = dict(self.runtime_overrides)
        for key, value in block.items():
            if key in runtime:
                overrides[runtime[key]] = value
            else:
                values[key] = value
        values["runtimeOverrides"] = overrides
        try:
            return type(self).model_validate(values)
        except ValidationError as error:
            raise ConfigError(
                f"queue {queue!r} (context key {QUEUES_KEY!r}): {_describe(error)}"
            ) from None

    @property
    def runtime(self) -> Settings:
        """The runtime settings of this stage: its `runtime_overrides` over the runtime's
        defaults (what the stack uses of them, such as the queue's visibility, is read here)."""
        return Settings.from_values(**self.runtime_overrides)

    def runtime_settings(self, **resources: object) -> Settings:
        """The containers' runtime settings: those the stage gives, those the stack uses (even
        at their defaults), and `resources` (queue and table names, the region: CDK tokens at
        synth time)."""
        given = self.runtime.model_dump(include={*USED_BY_STACK, *self.runtime_overrides})
        return Settings.from_values(**given, metrics_namespace=self.metrics_namespace, **resources)

    @property
    def metrics_namespace(self) -> str:
        """The task metrics' CloudWatch namespace: one per stack, so two stacks in one account
        and region (dev and prod, or two dev stacks) never add up each other's runs."""
        return f"{METRICS_NAMESPACE_PREFIX}/{self.stack_name}"

    @property
    def web_size(self) -> TaskSize:
        return TaskSize(cpu=self.web_cpu, memory_mib=self.web_memory_mib)

    @property
    def web_counts(self) -> ServiceCounts:
        return ServiceCounts(minimum=self.web_min_count, maximum=self.web_max_count)

    @property
    def worker_size(self) -> TaskSize:
        return TaskSize(cpu=self.worker_cpu, memory_mib=self.worker_memory_mib)

    @property
    def worker_counts(self) -> ServiceCounts:
        return ServiceCounts(minimum=self.worker_min_count, maximum=self.worker_max_count)

    @property
    def backlog_per_task_target(self) -> float:
        """Messages per worker task, waiting or in flight, at which the newest one waits the
        acceptable latency before it starts.

        A worker task runs `worker_concurrency` messages at once, so in the acceptable latency
        it starts concurrency x latency / processing time waiting messages, while
        `worker_concurrency` more are in flight (the autoscaling metric counts both).
        """
        starts_per_process = self.acceptable_latency_seconds / self.average_processing_seconds
        return round(self.runtime.worker_concurrency * (starts_per_process + 1), 3)

    @property
    def fargate_spot(self) -> bool:
        """Whether a service runs on Fargate Spot: the web or any queue's workers (the
        cluster must then offer the Fargate capacity providers)."""
        return self.web_capacity == "FARGATE_SPOT" or any(
            self.queue_config(name).worker_capacity == "FARGATE_SPOT"
            for name in self.declared_queues
        )

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

    @classmethod
    def from_context(cls, context: Mapping[str, Any]) -> InfraConfig:
        """Build the config from the app's whole context (`app.node.get_all_context()`): the
        stage's block, then each top-level tunable over it."""
        stage = context.get("stage") or "dev"
        if stage not in get_args(Stage):
            raise ConfigError(f"-c stage must be one of {get_args(Stage)}, got {stage!r}")
        blocks = context.get(CONTEXT_NAMESPACE)
        if not isinstance(blocks, Mapping) or not isinstance(blocks.get(stage), Mapping):
            raise ConfigError(
                f"context {CONTEXT_NAMESPACE!r} must hold a block for stage {stage!r} "
                "(see cdk.json)"
            )
        own = [
            field.alias or name
            for name, field in cls.model_fields.items()
            # chosen above, gathered below
            if name not in ("stage", "runtime_overrides", "queue_settings")
        ]
        runtime = {to_camel(name): name for name in RUNTIME_FIELDS}
        overrides: dict[str, Any] = {}
        queues: dict[str, dict[str, Any]] = {}
        values: dict[str, Any] = {
            "stage": stage,
            "runtimeOverrides": overrides,
            QUEUES_KEY: queues,
        }
        _merge_queues(queues, blocks.get(QUEUES_KEY), f"{CONTEXT_NAMESPACE}.{QUEUES_KEY}")
        for key, value, where in [
            *((key, value, f"{CONTEXT_NAMESPACE}.{stage}") for key, value in blocks[stage].items()),
            *(
                (key, value, "-c")
                for key, value in context.items()
                if key not in TOP_LEVEL_KEYS and not _cdk_own(key) and value is not None
            ),
        ]:
            if key in REMOVED_CONTEXT_KEYS:
                raise ConfigError(
                    f"context key {key!r} is no longer read: {REMOVED_CONTEXT_KEYS[key]}"
                )
            if key == QUEUES_KEY:
                _merge_queues(queues, value, where)
            elif key in runtime:
                overrides[runtime[key]] = value
            elif key in own:
                values[key] = value
            else:
                raise ConfigError(_unknown_key(key, where, [*own, *runtime]))
        try:
            return cls.model_validate(values)
        except ValidationError as error:
            raise ConfigError(_describe(error)) from None


def _cdk_own(key: str) -> bool:
    """CDK's own context: feature flags (`@aws-cdk/...`), the CLI's (`aws:cdk:...`, cached
    lookups such as `availability-zones:account=...`) and `cdk acknowledge`'s."""
    return key.startswith("@") or ":" in key or key in CDK_CLI_KEYS


def _unknown_key(key: str, where: str, known: list[str]) -> str:
    """The error for a context key that is no tunable, with the nearest one."""
    nearest = difflib.get_close_matches(key, known, n=1)
    hint = (
        f"did you mean {nearest[0]!r}?"
        if nearest
        else "the settings are the keys of cdk.json's stage blocks and the runtime settings'"
        " names in camelCase (shared/README.md#settings)"
    )
    return f"context key {key!r} ({where}) is not a setting of this stack: {hint}"


def _merge_queues(queues: dict[str, dict[str, Any]], given: object, where: str) -> None:
    """Put the queues' blocks `given` (at `where`) over `queues`, per queue and per key."""
    if given is None:
        return
    try:
        given = _json_text(given)
    except ValueError as error:  # -c text that is not JSON (a shell ate its quotes?)
        raise ConfigError(f"context key {QUEUES_KEY!r} ({where}) is not JSON: {error}") from None
    if not isinstance(given, Mapping) or not all(
        isinstance(block, Mapping) for block in given.values()
    ):
        raise ConfigError(
            f"context key {QUEUES_KEY!r} ({where}) must map each queue's name to a block of"
            f' its settings, as {{"reports": {{"workerConcurrency": 1}}}}'
        )
    for name, block in given.items():
        queues.setdefault(name, {}).update(block)


def _unknown_queue_key(queue: str, key: str) -> str:
    """The error for a key of a queue's block that is no queue's setting, with the nearest."""
    nearest = difflib.get_close_matches(key, QUEUE_KEYS, n=1)
    hint = f"did you mean {nearest[0]!r}?" if nearest else f"a queue sets {', '.join(QUEUE_KEYS)}"
    return f"queue {queue!r}: {key!r} is not a setting of a queue's workers: {hint}"


def _context_key(key: str) -> str:
    return f"context key {key!r}"


def _describe(error: ValidationError, name: Callable[[str], str] = _context_key) -> str:
    """The problems, each after the context key (or variable) it is about."""
    lines = []
    for problem in error.errors():
        cause = problem.get("ctx", {}).get("error")
        message = str(cause) if isinstance(cause, ValueError) else problem["msg"]
        key = ".".join(str(part) for part in problem["loc"])
        if problem["type"] == "missing":
            message = f"is missing (cdk.json or -c {key}=...)"
        lines.append(f"{name(key)}: {message}" if key else message)
    return "; ".join(lines)
