"""One typed settings object, read once from the environment by both services.

Each variable is a field here, declared once with its default and description: the field
name upper-cased is the environment variable (``task_queue_url`` -> ``TASK_QUEUE_URL``), read
by pydantic-settings and written by `Settings.environment`, and in camelCase its CDK context
key (``taskQueueUrl``). A field marked `UsedByStack` applies to the infrastructure too; one
marked `SetElsewhere` has no context key. The CDK app builds a `Settings` at synth time and
sets its `environment()` on the containers, so a combination the services would refuse fails
``cdk synth``; ``local.env`` sets only what differs from the defaults below. The settings
reference (shared/README.md#settings) is generated from these declarations (`make docs`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Annotated, Any, Literal, Self, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

# SQS keeps a received message invisible for 12 hours at most, extensions included: a task
# still running after that is delivered again. No time limit may be longer.
SQS_MAX_INVISIBLE_SECONDS = 43_200
# SQS delays one message by at most 15 minutes (DelaySeconds); a longer delay re-delays the
# message in hops of at most this long (taskqueue.runtime.sqs_transport).
SQS_MAX_DELAY_SECONDS = 900
# The longest delay the web accepts may be at most a year: a hop every 15 minutes for a year
# is 35,040 hops (70,080 SQS requests).
MAX_TASK_DELAY_SECONDS = 365 * 86_400
# A web process reads a request's body whole, and the Celery message that carries it (base64,
# a third larger): the largest body it may be configured to accept.
MAX_REQUEST_BYTES_CEILING = 100 * 1024 * 1024
# A DynamoDB item is at most 400 KB, names and values of every attribute together: a result's
# record offloaded above this still leaves 20 KB for the item's other attributes (the lease,
# the state, the client, the index's attributes).
RESULT_OFFLOAD_CEILING = 380_000


class SettingsError(ValueError):
    """The environment describes a configuration that would lose or repeat work."""


@dataclass(frozen=True)
class UsedByStack:
    """Marks a runtime setting the CDK app uses too (it applies to both): it builds or checks
    a resource with it, and writes it into both containers' environment even at its default,
    so the resources and the services run with one value that the template shows."""

    how: str


@dataclass(frozen=True)
class SetElsewhere:
    """Marks a runtime setting that no CDK context key sets, with what sets it instead."""

    by: str


DEFAULT_QUEUE = "default"
"""The queue of every task that names none (SQS queue TASK_QUEUE_NAME)."""


class QueueUrls(BaseModel):
    """Where one queue other than the default is: its URL and its dead-letter queue's."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    url: str
    dlq_url: str


@dataclass(frozen=True)
class QueueAddress:
    """One queue as the services use it: the name Celery routes by, its URL, its DLQ's URL."""

    queue: str
    """The queue's name in the catalogue (`register(..., queue=...)`)."""
    name: str
    """Its Celery (and, locally, SQS) name."""
    url: str
    dlq_url: str


Applies = Literal["runtime", "both"]
"""Where a runtime setting applies: the services only, or the infrastructure too."""

_Marker = TypeVar("_Marker", UsedByStack, SetElsewhere)


def too_long(name: str, seconds: float) -> str:
    """The error for a time limit above SQS's 12 hours of invisibility."""
    return (
        f"{name} ({seconds:g}) is above 12 hours ({SQS_MAX_INVISIBLE_SECONDS} s), the longest "
        "SQS keeps a received message invisible: the task would be delivered again while it runs"
    )


class Settings(BaseSettings):
    """Runtime configuration shared by the web service and the worker."""

    model_config = SettingsConfigDict(frozen=True, extra="ignore")

    task_queue_name: Annotated[str, SetElsewhere("the stack's task queue")] = Field(
        "taskqueue-tasks", description="SQS queue that carries the Celery tasks."
    )
    task_queue_url: Annotated[str, SetElsewhere("the stack's task queue")] = Field(
        "http://127.0.0.1:4566/123456789012/taskqueue-tasks",
        description="URL of that queue (a CDK output on AWS); `make run`'s processes and the"
        " test harness take the local endpoint's answer (GetQueueUrl), whatever its account.",
    )
    task_dlq_name: Annotated[str, SetElsewhere("the stack's dead-letter queue")] = Field(
        "taskqueue-tasks-dlq", description="Dead-letter queue the task queue redrives into."
    )
    task_dlq_url: Annotated[str | None, SetElsewhere("the stack's dead-letter queue")] = Field(
        None,
        description="URL of that dead-letter queue (the CDK app sets it); unset: the queue"
        " TASK_DLQ_NAME beside TASK_QUEUE_URL (the local stack). The status page counts its"
        " messages.",
    )
    queues: Annotated[dict[str, QueueUrls], SetElsewhere("the stack's queues")] = Field(
        {},
        description="The queues other than the default, by name, as JSON"
        ' (`{"reports": {"url": ..., "dlq_url": ...}}`; the CDK app sets it). A queue not'
        " named here is the local stack's: SQS queue `<TASK_QUEUE_NAME>-<queue>` and its"
        " `-dlq` beside TASK_QUEUE_URL.",
    )
    worker_queue: Annotated[str, SetElsewhere("each queue's worker service")] = Field(
        DEFAULT_QUEUE,
        description="The one queue this worker consumes (one worker process per queue:"
        " `taskqueue-worker` started once per queue).",
    )
    max_receive_count: Annotated[int, UsedByStack("the task queue's redrive policy")] = Field(
        3,
        ge=1,
        description="Deliveries of one message before SQS moves it to the DLQ; also how many"
        " lost workers a task is given back ([Dead-lettered tasks](#dead-lettered-tasks)).",
    )
    aws_region: Annotated[str, SetElsewhere("the stack's region")] = Field(
        "us-east-1", description="AWS region of the queue and the table."
    )
    aws_endpoint_url: Annotated[
        str | None, SetElsewhere("local stacks only: on AWS the SDKs use the real endpoints")
    ] = Field(None, description="Local AWS endpoint (moto server); unset on AWS.")
    results_table: Annotated[str, SetElsewhere("the stack's table")] = Field(
        "taskqueue-results", description="DynamoDB table that holds task states and results."
    )
    result_expires: Annotated[
        int,
        UsedByStack(
            "how long the stack's results table keeps an item (its TTL) and the payload bucket"
            " a result's object (in whole days, rounded up)"
        ),
    ] = Field(
        86_400,
        gt=0,
        description="Seconds a result is kept (the table's TTL attribute `ttl`, DynamoDB TTL;"
        " a result's object in the payload bucket: as many whole days, rounded up).",
    )
    payload_bucket: Annotated[str, SetElsewhere("the stack's payload bucket")] = Field(
        "taskqueue-payloads",
        description="S3 bucket of what is too large for SQS or DynamoDB: a task's message over"
        " SQS's 1 MiB (`params/`) and a result over RESULT_OFFLOAD_BYTES (`results/`)"
        " ([Large parameters and results](#large-parameters-and-results)).",
    )
    max_request_bytes: int = Field(
        8 * 1024 * 1024,
        ge=1024,
        le=MAX_REQUEST_BYTES_CEILING,
        description="Largest request body the web accepts (413 beyond it, nothing queued); a"
        " task message over SQS's 1 MiB goes through the payload bucket. 8 MiB; 100 MiB at most"
        " (a web process holds the body, and its message, in memory).",
    )
    result_offload_bytes: int = Field(
        300_000,
        ge=1024,
        le=RESULT_OFFLOAD_CEILING,
        description="A result whose encoded record is larger is stored in the payload bucket,"
        " its item keeps a pointer; at most 380,000 (DynamoDB's 400 KB item also holds the"
        " record's other attributes).",
    )
    result_inline_max_bytes: int = Field(
        1024 * 1024,
        ge=0,
        description="GET /tasks/<id> returns a stored result inline up to this size; a larger"
        " one as `result_url`, a presigned URL valid for a few minutes.",
    )
    # The one home of the base visibility: the stack sets the queue's VisibilityTimeout from it.
    queue_visibility_timeout: Annotated[int, UsedByStack("the task queue's VisibilityTimeout")] = (
        Field(
            60,
            gt=0,
            le=SQS_MAX_INVISIBLE_SECONDS,
            description="Base visibility: seconds a received message stays invisible, the"
            " queue's VisibilityTimeout; the visibility heartbeat extends it while the task"
            " runs, so a dead worker's task is back after it.",
        )
    )
    visibility_heartbeat_interval: float = Field(
        20.0,
        gt=0,
        description="Seconds between a running task's visibility extensions (and lease renewals,"
        " and checks for a cancel request).",
    )
    task_soft_time_limit: Annotated[int, UsedByStack("checked against SQS's 12 hours")] = Field(
        90,
        gt=0,
        description="Seconds before a task gets SoftTimeLimitExceeded: the default (a task's"
        " own: `register(..., soft_time_limit=)`).",
    )
    task_time_limit: Annotated[int, UsedByStack("checked against SQS's 12 hours")] = Field(
        100,
        gt=0,
        description="Seconds before a task is killed: the default (a task's own:"
        " `register(..., time_limit=)`); 12 hours at most.",
    )
    task_max_duration: Annotated[int, UsedByStack("checked against SQS's 12 hours")] = Field(
        3600,
        gt=0,
        description="Largest `duration` the web accepts for long_task; its limits are this plus"
        " TASK_SOFT_TIME_LIMIT and TASK_TIME_LIMIT.",
    )
    task_max_delay: int = Field(
        7 * 86_400,
        gt=0,
        le=MAX_TASK_DELAY_SECONDS,
        description="Longest delay (`delay_seconds`, or `not_before` from now) the web accepts"
        " for a task, in seconds (7 days by default, a year at most).",
    )
    client_max_waiting: int = Field(
        1000,
        ge=0,
        description="Most tasks one client may have waiting (queued or SCHEDULED, not yet"
        " started); past it POST /tasks answers 429 with Retry-After and queues nothing"
        " ([Fair share between clients](#fair-share-between-clients)). 0: no cap.",
    )
    delay_hop_seconds: Annotated[int, SetElsewhere("tests only")] = Field(
        SQS_MAX_DELAY_SECONDS,
        ge=1,
        le=SQS_MAX_DELAY_SECONDS,
        description="For tests only: the longest DelaySeconds one message gets; a longer delay"
        " is re-sent in hops of this length (SQS's 900 s, the default and maximum).",
    )
    # The status page reads every 3 s (web_service/assets/status.js): at 2 s each read sees a
    # newer report, at half the writes of long_task's one a second.
    progress_write_interval: float = Field(
        2.0,
        ge=0,
        le=60,
        description="Seconds between two writes of a running task's own reports"
        " (`update_state`, PROGRESS): a report sooner is held, the newest written when the"
        " interval ends; final states are never held ([Progress writes](#progress-writes))."
        " 0: every report written at once.",
    )
    task_cancel_grace: float = Field(
        30.0,
        gt=0,
        description="Seconds a running task has to clean up after a cancel's"
        " SoftTimeLimitExceeded before its pool process is killed.",
    )
    ecs_agent_uri: Annotated[str | None, SetElsewhere("ECS, in every task")] = Field(
        None,
        description="The ECS agent's endpoint, set by ECS itself: the worker's scale-in"
        " protection calls it; unset locally (no protection).",
    )
    task_protection_minutes: int = Field(
        10,
        ge=1,
        le=2880,
        description="ExpiresInMinutes of a busy worker's scale-in protection (1 minute to 48"
        " hours); renewed while busy.",
    )
    task_protection_renewal: float = Field(
        60.0, gt=0, description="Seconds between renewals of a busy worker's protection."
    )
    worker_concurrency: Annotated[int, UsedByStack("the worker autoscaling's backlog per task")] = (
        Field(2, ge=1, description="Worker pool processes.")
    )
    worker_soft_shutdown_timeout: Annotated[
        float, UsedByStack("fits inside the worker container's stopTimeout")
    ] = Field(
        105.0,
        ge=0,
        description="Seconds a stopping worker lets running tasks finish (inside ECS's 120 s"
        " stop timeout).",
    )
    worker_heartbeat_file: Annotated[
        str,
        SetElsewhere("its default: /tmp is all the read-only root leaves writable"),
    ] = Field(
        "/tmp/taskqueue-worker-heartbeat",
        description="File the worker touches while alive; its health check reads it.",
    )
    worker_heartbeat_interval: float = Field(
        5.0,
        gt=0,
        description="Seconds between heartbeat touches; 3 missed make the worker unhealthy.",
    )
    worker_presence_interval: float = Field(
        15.0,
        gt=0,
        description="Seconds between writes of a worker's presence item (GET /workers).",
    )
    worker_presence_window: float = Field(
        45.0,
        gt=0,
        le=60,
        description="Seconds since its last presence write that a worker still counts as"
        " live (at most 60; at least two intervals): a stopped worker leaves GET /workers"
        " within this time.",
    )
    # Every five minutes: an idle worker's looks add 12 requests an hour to its 180 polls
    # (bench/results.md), and the watch already records the common losses within a lease.
    dead_letter_sweep_interval: float = Field(
        300.0,
        gt=0,
        description="Seconds between a worker's looks into the dead-letter queue for tasks"
        " whose last receive no run saw (recorded DEAD_LETTERED).",
    )
    ecs_container_metadata_uri_v4: Annotated[str | None, SetElsewhere("ECS, in every task")] = (
        Field(
            None,
            description="The task metadata endpoint, set by ECS itself: the worker names itself"
            " by its ECS task id from it; unset locally (host name and process id).",
        )
    )
    aws_client_connect_timeout: float = Field(
        1.0, gt=0, description="Seconds to connect to SQS/DynamoDB before giving up."
    )
    aws_client_read_timeout: float = Field(
        2.0, gt=0, description="Seconds to wait for an SQS/DynamoDB answer (not long polls)."
    )
    web_bind: Annotated[str, SetElsewhere("the web container's port")] = Field(
        "0.0.0.0:8000", description="Address gunicorn listens on."
    )
    web_workers: int = Field(2, ge=1, description="gunicorn worker processes.")
    web_threads: int = Field(4, ge=1, description="Threads per gunicorn worker.")
    load_balancer_idle_timeout: Annotated[int, UsedByStack("the load balancer's idle timeout")] = (
        Field(
            60,
            ge=1,
            le=4000,
            description="Seconds the load balancer keeps an idle connection (the ALB's"
            " idle_timeout.timeout_seconds); gunicorn keeps its side open 5 s longer, so the load"
            " balancer always closes first.",
        )
    )
    api_key_cache_seconds: float = Field(
        30.0,
        ge=0,
        le=60,
        description="Seconds a web process trusts its last lookup of an API key: a revoked"
        " key stops working within this time.",
    )
    log_level: Annotated[
        str,
        AfterValidator(str.upper),
        UsedByStack("what the services write to the stack's log groups"),
    ] = Field("INFO", description="Log level of both services.")
    task_metrics: bool = Field(
        True,
        description="Whether the worker logs one EMF record (CloudWatch metrics) per task run"
        " ([Task metrics](#task-metrics)); the bench turns it off to measure its cost.",
    )
    metrics_namespace: Annotated[str, SetElsewhere("TaskQueue/<stackName>")] = Field(
        "TaskQueue",
        pattern=r"^[A-Za-z0-9._/#:-]{1,255}$",  # CloudWatch's characters (no AWS/: below)
        description="CloudWatch namespace of the task metrics (the CDK app sets"
        " TaskQueue/<stack name>).",
    )
    task_secrets: Annotated[str, SetElsewhere("the names of `secrets`")] = Field(
        "",
        description="Comma-separated names of the variables ECS fills from Secrets Manager or"
        " SSM (the context's `secrets`); `taskqueue.secrets.get(NAME)` reads only these, as"
        " `SecretStr`.",
    )
    diagnostic_tasks: bool = Field(
        False,
        description="Whether the web and the worker offer the diagnostic tasks (fail, crash,"
        " retry_then_succeed, check_secret, limited, param_digest, sized_result,"
        " frequent_progress): on in `local.env` and the tests' stacks. Off, the web refuses"
        " them as unknown tasks (422, not in `/openapi.json`) and the worker does not register"
        " them; a prod stack cannot turn them on (`crash` takes worker slots down,"
        " `check_secret` answers guesses of a secret).",
    )

    @field_validator("queues", mode="before")
    @classmethod
    def _queues_from_json(cls, queues: object) -> object:
        # The environment's JSON text, also when given as a value (`from_environment`).
        return json.loads(queues) if isinstance(queues, str) else queues

    @field_validator("metrics_namespace")
    @classmethod
    def _not_an_aws_namespace(cls, namespace: str) -> str:
        if namespace.startswith("AWS/"):
            raise ValueError("namespaces starting with AWS/ are AWS's own")
        return namespace

    @model_validator(mode="after")
    def _limits_fit_sqs(self) -> Self:
        """Refuse limits that would let a running task's message reach a second worker."""
        if not self.task_soft_time_limit < self.task_time_limit:
            raise SettingsError(
                f"TASK_SOFT_TIME_LIMIT ({self.task_soft_time_limit}) must be below "
                f"TASK_TIME_LIMIT ({self.task_time_limit})"
            )
        for name, limit in {
            "TASK_TIME_LIMIT": self.task_time_limit,
            "TASK_MAX_DURATION + TASK_TIME_LIMIT (long_task's limit)": (
                self.task_max_duration + self.task_time_limit
            ),
        }.items():
            if limit > SQS_MAX_INVISIBLE_SECONDS:
                raise SettingsError(too_long(name, limit))
        if not 2 * self.visibility_heartbeat_interval <= self.queue_visibility_timeout:
            raise SettingsError(
                f"VISIBILITY_HEARTBEAT_INTERVAL ({self.visibility_heartbeat_interval:g}) must fit "
                f"twice inside QUEUE_VISIBILITY_TIMEOUT ({self.queue_visibility_timeout}): one "
                "late extension would let a running task's message reach a second worker"
            )
        if not 2 * self.worker_presence_interval <= self.worker_presence_window:
            raise SettingsError(
                f"WORKER_PRESENCE_INTERVAL ({self.worker_presence_interval:g}) must fit twice"
                f" inside WORKER_PRESENCE_WINDOW ({self.worker_presence_window:g}): one late"
                " write would hide a live worker"
            )
        if not self.task_protection_renewal < 60 * self.task_protection_minutes:
            raise SettingsError(
                f"TASK_PROTECTION_RENEWAL ({self.task_protection_renewal:g}) must be below "
                f"TASK_PROTECTION_MINUTES ({self.task_protection_minutes}) in seconds: the "
                "protection would lapse while the worker is busy"
            )
        return self

    @property
    def dlq_url(self) -> str:
        """The dead-letter queue's URL: TASK_DLQ_URL, or TASK_DLQ_NAME's in the account and
        endpoint of TASK_QUEUE_URL."""
        if self.task_dlq_url is not None:
            return self.task_dlq_url
        return f"{self.task_queue_url.rsplit('/', 1)[0]}/{self.task_dlq_name}"

    def queue_address(self, queue: str) -> QueueAddress:
        """Where the queue named `queue` in the catalogue is ("default": TASK_QUEUE_*)."""
        if queue == DEFAULT_QUEUE:
            return QueueAddress(queue, self.task_queue_name, self.task_queue_url, self.dlq_url)
        name = f"{self.task_queue_name}-{queue}"
        if (given := self.queues.get(queue)) is not None:
            return QueueAddress(queue, name, given.url, given.dlq_url)
        beside = self.task_queue_url.rsplit("/", 1)[0]
        return QueueAddress(queue, name, f"{beside}/{name}", f"{beside}/{name}-dlq")

    @classmethod
    def from_values(cls, **values: Any) -> Settings:
        """Settings from `values` and the defaults only, never the process's environment (the
        CDK app builds the containers' settings at synth time)."""
        return _GivenSettings(**values)

    @classmethod
    def from_environment(cls, environment: Mapping[str, str]) -> Settings:
        """The settings a process started with `environment` reads (other variables ignored)."""
        return cls.from_values(
            **{
                name.lower(): value
                for name, value in environment.items()
                if name.lower() in cls.model_fields
            }
        )

    def environment(self) -> dict[str, str]:
        """The variables that give a process these settings: each value set explicitly, as
        ``FIELD_NAME``; defaults and unset (None) values are left out."""
        values = self.model_dump(exclude_unset=True, exclude_none=True)
        return {name.upper(): _variable(value) for name, value in values.items()}


def used_by_stack(name: str) -> UsedByStack | None:
    """How the CDK app uses the runtime setting `name`, if it does (its `UsedByStack`)."""
    return _marker(name, UsedByStack)


def set_elsewhere(name: str) -> SetElsewhere | None:
    """What sets the runtime setting `name` instead of a context key, if something does."""
    return _marker(name, SetElsewhere)


def applies_to(name: str) -> Applies:
    """Where the runtime setting `name` applies, by its declaration."""
    return "both" if used_by_stack(name) else "runtime"


def _marker(name: str, kind: type[_Marker]) -> _Marker | None:
    found = [item for item in Settings.model_fields[name].metadata if isinstance(item, kind)]
    return found[0] if found else None


class _GivenSettings(Settings):
    """Settings whose only source is the values given (pydantic-settings' documented way to
    drop the environment and dotenv sources)."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)


def _variable(value: object) -> str:
    """A variable's text: seconds given as whole numbers stay whole (105, not 105.0); a
    mapping as JSON."""
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Read the environment once per process."""
    return Settings()
