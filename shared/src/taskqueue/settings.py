"""One typed settings object, read once from the environment by both services.

Each variable is a field here: the field name upper-cased is the environment
variable (``task_queue_url`` -> ``TASK_QUEUE_URL``), read by pydantic-settings and written
by `Settings.environment`. The CDK app builds a `Settings` at synth time and sets its
`environment()` on the containers, so a combination the services would refuse fails
``cdk synth``; ``local.env`` sets only what differs from the defaults below.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any, Self

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

# SQS keeps a received message invisible for 12 hours at most, extensions included: a task
# still running after that is delivered again. No time limit may be longer.
SQS_MAX_INVISIBLE_SECONDS = 43_200
# SQS delays one message by at most 15 minutes (DelaySeconds); a longer delay re-delays the
# message in hops of at most this long (taskqueue.sqs_transport).
SQS_MAX_DELAY_SECONDS = 900
# The longest delay the web accepts may be at most a year: a hop every 15 minutes for a year
# is 35,040 hops (70,080 SQS requests).
MAX_TASK_DELAY_SECONDS = 365 * 86_400


class SettingsError(ValueError):
    """The environment describes a configuration that would lose or repeat work."""


def too_long(name: str, seconds: float) -> str:
    """The error for a time limit above SQS's 12 hours of invisibility."""
    return (
        f"{name} ({seconds:g}) is above 12 hours ({SQS_MAX_INVISIBLE_SECONDS} s), the longest "
        "SQS keeps a received message invisible: the task would be delivered again while it runs"
    )


class Settings(BaseSettings):
    """Runtime configuration shared by the web service and the worker."""

    model_config = SettingsConfigDict(frozen=True, extra="ignore")

    task_queue_name: str = Field(
        "taskqueue-tasks", description="SQS queue that carries the Celery tasks."
    )
    task_queue_url: str = Field(
        "http://127.0.0.1:4566/123456789012/taskqueue-tasks",
        description="URL of that queue (from the CDK output on AWS).",
    )
    task_dlq_name: str = Field(
        "taskqueue-tasks-dlq", description="Dead-letter queue the task queue redrives into."
    )
    task_dlq_url: str | None = Field(
        None,
        description="URL of that dead-letter queue (the CDK app sets it); unset: the queue"
        " TASK_DLQ_NAME beside TASK_QUEUE_URL (the local stack).",
    )
    max_receive_count: int = Field(
        3, ge=1, description="Deliveries of one message before SQS moves it to the DLQ."
    )
    aws_region: str = Field("us-east-1", description="AWS region of the queue and the table.")
    aws_endpoint_url: str | None = Field(
        None, description="Local AWS endpoint (moto server); unset on AWS."
    )
    results_table: str = Field(
        "taskqueue-results", description="DynamoDB table that holds task states and results."
    )
    result_expires: int = Field(
        86_400, gt=0, description="Seconds a result is kept (DynamoDB TTL on the table)."
    )
    queue_visibility_timeout: int = Field(
        60,
        gt=0,
        le=SQS_MAX_INVISIBLE_SECONDS,
        description="Base visibility: seconds a received message stays invisible, the queue's"
        " VisibilityTimeout (cdk.json's queueVisibilityTimeout on AWS); the visibility"
        " heartbeat extends it while the task runs, so a dead worker's task is back after it.",
    )
    visibility_heartbeat_interval: float = Field(
        20.0,
        gt=0,
        description="Seconds between a running task's visibility extensions (and lease renewals,"
        " and checks for a cancel request).",
    )
    task_soft_time_limit: int = Field(
        90, gt=0, description="Seconds before a task gets SoftTimeLimitExceeded (default)."
    )
    task_time_limit: int = Field(
        100, gt=0, description="Seconds before a task is killed (default; 12 hours at most)."
    )
    task_max_duration: int = Field(
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
    delay_hop_seconds: int = Field(
        SQS_MAX_DELAY_SECONDS,
        ge=1,
        le=SQS_MAX_DELAY_SECONDS,
        description="For tests only: the longest DelaySeconds one message gets; a longer delay"
        " is re-sent in hops of this length (SQS's 900 s, the default and maximum).",
    )
    task_cancel_grace: float = Field(
        30.0,
        gt=0,
        description="Seconds a running task has to clean up after a cancel's"
        " SoftTimeLimitExceeded before its pool process is killed.",
    )
    ecs_agent_uri: str | None = Field(
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
    worker_concurrency: int = Field(2, ge=1, description="Worker pool processes.")
    worker_soft_shutdown_timeout: float = Field(
        105.0, ge=0, description="Seconds a stopping worker lets running tasks finish."
    )
    worker_heartbeat_file: str = Field(
        "/tmp/taskqueue-worker-heartbeat",
        description="File the worker touches while alive; its health check reads it.",
    )
    worker_heartbeat_interval: float = Field(
        5.0, gt=0, description="Seconds between heartbeat touches."
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
        " live: a stopped worker leaves GET /workers within this time.",
    )
    dead_letter_sweep_interval: float = Field(
        60.0,
        gt=0,
        description="Seconds between a worker's looks into the dead-letter queue for tasks"
        " whose last receive no run saw (recorded DEAD_LETTERED).",
    )
    ecs_container_metadata_uri_v4: str | None = Field(
        None,
        description="The task metadata endpoint, set by ECS itself: the worker names itself"
        " by its ECS task id from it; unset locally (host name and process id).",
    )
    aws_client_connect_timeout: float = Field(
        1.0, gt=0, description="Seconds to connect to SQS/DynamoDB before giving up."
    )
    aws_client_read_timeout: float = Field(
        2.0, gt=0, description="Seconds to wait for an SQS/DynamoDB answer (not long polls)."
    )
    web_bind: str = Field("0.0.0.0:8000", description="Address gunicorn listens on.")
    web_workers: int = Field(2, ge=1, description="gunicorn worker processes.")
    web_threads: int = Field(4, ge=1, description="Threads per gunicorn worker.")
    load_balancer_idle_timeout: int = Field(
        60,
        ge=1,
        le=4000,
        description="Seconds the load balancer keeps an idle connection (the ALB's"
        " idle_timeout.timeout_seconds); gunicorn keeps its side open longer.",
    )
    api_key_cache_seconds: float = Field(
        30.0,
        ge=0,
        le=60,
        description="Seconds a web process trusts its last lookup of an API key: a revoked"
        " key stops working within this time.",
    )
    log_level: str = Field("INFO", description="Log level of both services.")
    task_metrics: bool = Field(
        True,
        description="Whether the worker logs one EMF record (CloudWatch metrics) per task run;"
        " the bench turns it off to measure its cost.",
    )
    metrics_namespace: str = Field(
        "TaskQueue",
        pattern=r"^[A-Za-z0-9._/#:-]{1,255}$",  # CloudWatch's characters (no AWS/: below)
        description="CloudWatch namespace of the task metrics (the CDK app sets"
        " TaskQueue/<stack name>).",
    )
    task_secrets: str = Field(
        "",
        description="Comma-separated names of the variables ECS fills from Secrets Manager or"
        " SSM (cdk.json's secrets); taskqueue.secrets.get reads only these.",
    )
    diagnostic_tasks: bool = Field(
        False,
        description="Whether the web and the worker offer the diagnostic tasks (fail, crash,"
        " retry_then_succeed, check_secret): test and local stacks only. Off, the web refuses"
        " them as unknown tasks and the worker does not register them; a prod stack cannot turn"
        " them on (`crash` takes worker slots down, `check_secret` answers guesses of a secret).",
    )

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
    """A variable's text: seconds given as whole numbers stay whole (105, not 105.0)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Read the environment once per process."""
    return Settings()
