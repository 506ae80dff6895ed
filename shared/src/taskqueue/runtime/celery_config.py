"""Celery settings for SQS and the DynamoDB result backend, built from `Settings`."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from botocore.config import Config
from kombu import Queue

from taskqueue import aws_session
from taskqueue.catalogue.registry import TaskSpec, queues_of
from taskqueue.settings import QueueAddress, Settings

# Long polling: one ReceiveMessage waits up to 20 s (the SQS maximum) for a message, so an
# idle worker makes about three requests a minute and still sees a new task at once.
SQS_WAIT_TIME_SECONDS = 20


def broker_url(settings: Settings) -> str:
    """`sqs://` on AWS; `sqs://host:port` locally (kombu reads the endpoint from the URL)."""
    if settings.aws_endpoint_url is None:
        return "sqs://"
    endpoint = urlsplit(settings.aws_endpoint_url)
    return f"sqs://{endpoint.netloc}"


def result_backend_url(settings: Settings) -> str:
    """Celery's DynamoDB backend, through the subclass that assumes a provisioned table."""
    return (
        "taskqueue.stores.results:ProvisionedTableBackend+"
        f"dynamodb://@{settings.aws_region}/{settings.results_table}"
        f"?ttl_seconds={settings.result_expires}"
    )


def aws_client_config(settings: Settings) -> dict[str, Any]:
    """Bounded SDK timeouts and retries: a producer fails fast instead of hanging a worker."""
    return {
        "connect_timeout": settings.aws_client_connect_timeout,
        "read_timeout": settings.aws_client_read_timeout,
        "retries": {"mode": "standard", "total_max_attempts": 2},
    }


def queue_addresses(settings: Settings, specs: Iterable[TaskSpec]) -> list[QueueAddress]:
    """Where each queue of `specs` is, the default queue first (always there)."""
    return [settings.queue_address(queue) for queue in queues_of(specs)]


def celery_config(settings: Settings, specs: Iterable[TaskSpec] = ()) -> dict[str, Any]:
    """Every Celery setting this project changes, each with the reason; `specs` (the
    catalogue) are routed to their own queues."""
    endpoint = settings.aws_endpoint_url
    specs = list(specs)
    queues = queue_addresses(settings, specs)
    return {
        "broker_url": broker_url(settings),
        # kombu's SQS transport, but messages handed back at shutdown are visible at once
        # instead of after wait_time_seconds (taskqueue.runtime.sqs_transport).
        "broker_transport": "taskqueue.runtime.sqs_transport:Transport",
        "broker_transport_options": {
            "region": settings.aws_region,
            "is_secure": endpoint is None or endpoint.startswith("https"),
            # The stack (or the local bootstrap) owns the queue: no ListQueues/CreateQueue
            # calls and no IAM for them. Its own VisibilityTimeout attribute rules; kombu's
            # `visibility_timeout` option is ignored for predefined queues.
            "predefined_queues": {queue.name: {"url": queue.url} for queue in queues},
            "wait_time_seconds": SQS_WAIT_TIME_SECONDS,
            # No sleep between polls: long polling already waits. Measured: 0.3 s capped a
            # prefetch-1 worker near 3 tasks/s; 0 costs no idle CPU because the poll blocks.
            "polling_interval": 0,
            "client-config": aws_client_config(settings),
            # A task's delay waits in SQS in hops of at most this (taskqueue.catalogue.delays).
            "delay_hop_seconds": settings.delay_hop_seconds,
            # A message over SQS's limit carries its body here (taskqueue.runtime.large_messages).
            "payload_bucket": settings.payload_bucket,
        },
        # The SDK already retries once (client-config); a second layer of retries in kombu
        # would stretch a broker outage past the web's 5 s answer.
        "task_publish_retry": False,
        "broker_connection_retry_on_startup": True,
        "task_default_queue": settings.task_queue_name,
        # no_declare: a producer needs only sqs:SendMessage (otherwise .delay() also calls
        # GetQueueAttributes).
        "task_queues": [Queue(queue.name, no_declare=True) for queue in queues],
        # Each task to its own queue, whose own workers run it (`register(..., queue=)`); a
        # worker consumes one queue only (`taskqueue.factory.consumed_queue`).
        "task_routes": {
            spec.name: {"queue": settings.queue_address(spec.queue).name} for spec in specs
        },
        # Late ack: a message leaves the queue only when its task is done, so a worker that
        # dies mid-task loses nothing. The price: tasks must be idempotent.
        "task_acks_late": True,
        # A pool process killed mid-task puts the message back instead of acking it.
        "task_reject_on_worker_lost": True,
        # Measured: with the default (True) a failing task's message is deleted and never
        # reaches the dead-letter queue. False leaves it to SQS's redrive policy.
        "task_acks_on_failure_or_timeout": False,
        # Each pool process holds one message at a time: no message waits invisible behind
        # a long task while another worker sits idle.
        "worker_prefetch_multiplier": 1,
        # With SQS, remote control and task events create extra queues per node (the seed).
        "worker_enable_remote_control": False,
        "worker_send_task_events": False,
        "task_send_sent_event": False,
        # JSON only: no pickle from a queue that others may write to.
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "result_accept_content": ["json"],
        # The defaults; a task may have its own (`register`). Any limit may outlast the
        # queue's base visibility: the heartbeat extends it while the task runs
        # (taskqueue.runtime.visibility_extension), up to SQS's 12 hours (Settings enforces it).
        "task_soft_time_limit": settings.task_soft_time_limit,
        "task_time_limit": settings.task_time_limit,
        # STARTED and PROGRESS states are visible to GET /tasks/<id>. STARTED is written by
        # the idempotency claim in the same request (taskqueue.runtime.run_once), so Celery's
        # own STARTED write (`task_track_started`) would be a second, redundant one.
        "task_track_started": False,
        "result_backend": result_backend_url(settings),
        "dynamodb_endpoint_url": endpoint,
        "dynamodb_client_config": aws_client_config(settings),
        # Results expire with the table's TTL attribute.
        "result_expires": settings.result_expires,
        # A result too large for its DynamoDB item is stored in the payload bucket, the item
        # keeps a pointer (taskqueue.stores.large_results).
        "payload_bucket": settings.payload_bucket,
        "result_offload_bytes": settings.result_offload_bytes,
        "worker_concurrency": settings.worker_concurrency,
        # ECS sends SIGTERM, then SIGKILL after stopTimeout (120 s): a stopping worker lets
        # running tasks finish for this long, then puts their messages back; one that may
        # not finish in time goes back at once (worker_service.shutdown).
        "worker_soft_shutdown_timeout": settings.worker_soft_shutdown_timeout,
        # The project logs JSON lines itself (see taskqueue.runtime.logs).
        "worker_hijack_root_logger": False,
    }


def aws_client(service: str, settings: Settings) -> Any:
    """A client of `service` on the settings' region and endpoint, with the bounded timeouts
    above, from the process's one session (taskqueue.aws_session)."""
    return aws_session.client(
        service,
        region_name=settings.aws_region,
        endpoint_url=settings.aws_endpoint_url,
        config=Config(**aws_client_config(settings)),
    )
