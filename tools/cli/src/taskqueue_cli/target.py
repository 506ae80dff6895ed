"""Which stack the CLI operates: a deployed stack's outputs, or the local settings."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from botocore.config import Config
from botocore.exceptions import ClientError
from dotenv import dotenv_values
from taskqueue.settings import DEFAULT_QUEUE, QueueUrls, Settings, get_settings

from taskqueue_cli.errors import CliError

# The file `make run` reads; the local target reads it too (the environment wins).
LOCAL_ENV_FILE = Path("local.env")
# The CDK app's context: each stage's stack name (`taskqueue.<stage>.stackName`).
CDK_JSON_FILE = Path("cdk.json")
CDK_CONTEXT_NAMESPACE = "taskqueue"
CREDENTIAL_VARIABLES = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")

# An unreachable endpoint is an error within seconds, not a hang.
CLIENT_CONFIG = Config(
    connect_timeout=2, read_timeout=10, retries={"mode": "standard", "total_max_attempts": 2}
)
# S3 on a local endpoint by path (`localhost:PORT/bucket`): a bucket as a subdomain of
# localhost or an IP address reaches nothing.
LOCAL_S3_CONFIG = CLIENT_CONFIG.merge(Config(s3={"addressing_style": "path"}))


@dataclass(frozen=True)
class Target:
    """Where the web, the queues and the worker service of one stack are."""

    name: str
    web_url: str | None
    queue_url: str
    dlq_url: str
    cluster: str | None = None
    worker_service: str | None = None
    region: str | None = None
    endpoint_url: str | None = None
    credentials: dict[str, str] = field(default_factory=dict)
    results_table: str | None = None
    other_queues: dict[str, QueueUrls] | None = None
    """The queues besides the default, by name: a deployed stack's output `Queues` (the
    QUEUES JSON); None for the local stack, whose queues are the shipped tasks' (`queues`)."""
    local_settings: Settings | None = None

    def queues(self) -> dict[str, QueueUrls]:
        """Every queue of the stack by name, the default first."""
        default = {DEFAULT_QUEUE: QueueUrls(url=self.queue_url, dlq_url=self.dlq_url)}
        if self.other_queues is not None:
            return {**default, **dict(sorted(self.other_queues.items()))}
        # Here, not at start: loading the tasks imports Celery (0.4 s), which most commands
        # never need.
        from taskqueue.catalogue.registry import TASKS, queues_of
        from taskqueue.factory import load_tasks

        load_tasks()
        settings = self.local_settings or get_settings()
        others = {}
        for queue in queues_of(TASKS.values())[1:]:
            address = settings.queue_address(queue)
            others[queue] = QueueUrls(url=address.url, dlq_url=address.dlq_url)
        return {**default, **others}

    def queue(self, name: str) -> QueueUrls:
        """The queue `name` and its DLQ, or an error naming the stack's queues."""
        queues = self.queues()
        if name not in queues:
            raise CliError(f"{self.name} has no queue {name!r} (its queues: {', '.join(queues)})")
        return queues[name]

    def client(self, service: str) -> Any:
        """A boto3 client for this stack's account, region and endpoint."""
        import boto3  # here: it costs 0.4 s to import, and enqueue/status never need it

        return boto3.client(  # type: ignore[call-overload]
            service,
            region_name=self.region,
            endpoint_url=self.endpoint_url,
            config=LOCAL_S3_CONFIG if service == "s3" and self.endpoint_url else CLIENT_CONFIG,
            **{name.lower(): value for name, value in self.credentials.items()},
        )

    def require_web(self) -> str:
        """The web's base URL, or an error naming what is missing."""
        if not self.web_url:
            raise CliError(f"{self.name} has no web service URL: pass --url")
        return self.web_url.rstrip("/")

    def require_table(self) -> str:
        """The results table (where the clients' key hashes live), or an error."""
        if not self.results_table:
            raise CliError(f"{self.name} has no output ResultsTableName: deploy it again")
        return self.results_table

    def require_workers(self) -> tuple[str, str]:
        """The ECS cluster and worker service, or an error saying why there are none."""
        if not self.cluster or not self.worker_service:
            raise CliError(
                f"{self.name} has no ECS worker service: pass --stage <stage> for a deployed stack"
            )
        return self.cluster, self.worker_service


def resolve(stage: str | None, url: str | None = None) -> Target:
    """The deployed stack of `stage`, or the local stack when no stage is given."""
    if stage:
        return from_stack(stack_name_of(stage), url)
    return from_local_settings(url)


def stack_name_of(stage: str) -> str:
    """The stage's `stackName` in ./cdk.json: the one place that names the deployed stack."""
    try:
        stages = json.loads(CDK_JSON_FILE.read_text())["context"][CDK_CONTEXT_NAMESPACE]
    except OSError:
        raise CliError(
            f"--stage needs ./{CDK_JSON_FILE}, which names each stage's stack: "
            "run from the repository root"
        ) from None
    except (ValueError, KeyError, TypeError):
        raise CliError(f"./{CDK_JSON_FILE} has no context.{CDK_CONTEXT_NAMESPACE} block") from None
    block = stages.get(stage) if isinstance(stages, dict) else None
    name = block.get("stackName") if isinstance(block, dict) else None
    if not isinstance(name, str) or not name.strip():
        known = ", ".join(stages) if isinstance(stages, dict) else "none"
        raise CliError(
            f"./{CDK_JSON_FILE} names no stack for stage {stage!r} "
            f"({CDK_CONTEXT_NAMESPACE}.{stage}.stackName; stages: {known})"
        )
    return name.strip()


def from_stack(stack_name: str, url: str | None = None) -> Target:
    """Read the stack's outputs (CloudFormation DescribeStacks)."""
    region = os.environ.get("AWS_REGION") or None
    probe = Target(name=stack_name, web_url=None, queue_url="", dlq_url="", region=region)
    try:
        stacks = probe.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError as error:
        if "does not exist" in str(error):
            raise CliError(
                f"stack {stack_name} not found (deploy it with `make deploy`, "
                "or use --local for the local stack)"
            ) from error
        raise
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
    missing = [key for key in ("QueueUrl", "DlqUrl") if key not in outputs]
    if missing:
        raise CliError(f"stack {stack_name} has no output {', '.join(missing)}")
    return Target(
        name=f"stack {stack_name}",
        web_url=url or outputs.get("ServiceUrl"),
        queue_url=outputs["QueueUrl"],
        dlq_url=outputs["DlqUrl"],
        cluster=outputs.get("ClusterName"),
        worker_service=outputs.get("WorkerServiceName"),
        region=region,
        results_table=outputs.get("ResultsTableName"),
        other_queues=other_queues_of(stack_name, outputs),
    )


def other_queues_of(stack_name: str, outputs: dict[str, str]) -> dict[str, QueueUrls]:
    """The stack's output `Queues` (the JSON the services read as QUEUES); none in a stack
    deployed before it had several queues."""
    if "Queues" not in outputs:
        return {}
    try:
        given = json.loads(outputs["Queues"])
        return {name: QueueUrls.model_validate(urls) for name, urls in given.items()}
    except (ValueError, AttributeError) as error:
        raise CliError(f"stack {stack_name}: output Queues is not the queues' JSON") from error


def from_local_settings(url: str | None = None) -> Target:
    """The local stack, from the same settings the services read."""
    file_values = local_env_file()
    settings = Settings(_env_file=LOCAL_ENV_FILE) if file_values else get_settings()
    credentials = {
        name: value
        for name in CREDENTIAL_VARIABLES
        if (value := os.environ.get(name) or file_values.get(name))
    }
    return Target(
        name="the local stack",
        web_url=url or web_url_of(settings.web_bind),
        queue_url=settings.task_queue_url,
        dlq_url=sibling_queue_url(settings.task_queue_url, settings.task_dlq_name),
        region=settings.aws_region,
        endpoint_url=settings.aws_endpoint_url or local_endpoint_of(settings.task_queue_url),
        credentials=credentials,
        results_table=settings.results_table,
        local_settings=settings,
    )


def local_env_file() -> dict[str, str]:
    """./local.env's values, if the file is there."""
    if not LOCAL_ENV_FILE.is_file():
        return {}
    return {key: value for key, value in dotenv_values(LOCAL_ENV_FILE).items() if value}


def web_url_of(bind: str) -> str:
    """`0.0.0.0:8000` (what gunicorn binds) → `http://127.0.0.1:8000` (where to connect)."""
    host, _, port = bind.rpartition(":")
    if host in {"", "0.0.0.0", "::", "[::]"}:
        host = "127.0.0.1"
    return f"http://{host}:{port}"


def sibling_queue_url(queue_url: str, name: str) -> str:
    """The URL of queue `name` in the same account and endpoint as `queue_url`."""
    return f"{queue_url.rsplit('/', 1)[0]}/{name}"


def local_endpoint_of(queue_url: str) -> str | None:
    """A queue URL that is not on amazonaws.com names its endpoint (moto's server)."""
    parts = urlsplit(queue_url)
    if parts.hostname is None or parts.hostname.endswith("amazonaws.com"):
        return None
    return f"{parts.scheme}://{parts.netloc}"
