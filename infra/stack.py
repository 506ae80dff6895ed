"""The stack: composes the constructs, wires least-privilege grants, exports outputs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from aws_cdk import Aws, CfnOutput, Duration, RemovalPolicy, Stack, Tags
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as sns_subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct
from taskqueue.catalogue.registry import DEFAULT_QUEUE
from taskqueue.factory import load_catalogue
from taskqueue.stores import payloads, waiting

from infra import kept
from infra.alarm_topic import AlarmTopic
from infra.cluster import ServiceCluster, image_platform, task_platform
from infra.config import InfraConfig
from infra.container_secrets import container_secrets
from infra.log_groups import ServiceLogGroups, retention_days
from infra.monitoring import Monitoring, WatchedQueue
from infra.nag import acknowledge_findings
from infra.network import Network
from infra.payload_bucket import PayloadBucket
from infra.rate_limit import RateLimit
from infra.results_table import ResultsTable
from infra.schedules import Schedules, ScheduleTarget
from infra.task_queue import TaskQueue
from infra.task_secrets import SERVICES, Service, for_service, stores
from infra.web_service import WebService
from infra.worker_autoscaling import WorkerAutoscaling
from infra.worker_service import WorkerService

# Both images are built from the repository root's one Dockerfile, each from its own target;
# a stack that offers the diagnostic tasks builds the targets that add them (prod cannot).
WEB_IMAGE_TARGET = "web"
WORKER_IMAGE_TARGET = "worker"
DIAGNOSTICS_TARGET_SUFFIX = "-diagnostics"

# The web sends to every queue; the status page counts each queue's messages and its DLQ's.
WEB_QUEUE_ACTIONS = ("sqs:SendMessage", "sqs:GetQueueAttributes")
WEB_DLQ_ACTIONS = ("sqs:GetQueueAttributes",)
# A client's count of waiting tasks is changed by GetItem and a conditional PutItem
# (taskqueue.stores.waiting), so the web needs no UpdateItem for its cap.
WEB_TABLE_ACTIONS = ("dynamodb:GetItem", "dynamodb:PutItem")
# A client's count of waiting tasks is one atomic UpdateItem (taskqueue.stores.waiting): the
# web may update those counter items only (fine-grained access on the partition key).
WEB_COUNTER_ACTIONS = ("dynamodb:UpdateItem",)
WEB_COUNTER_KEYS = (f"{waiting.ITEM_PREFIX}*",)
# GET /tasks and GET /workers query the results table's index, and only the index: a Query
# of the table itself, or a Scan, stays denied.
WEB_INDEX_ACTIONS = ("dynamodb:Query",)
# A worker's, on its own queue only (it re-delays a delayed task there).
WORKER_QUEUE_ACTIONS = (
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibility",
    "sqs:GetQueueAttributes",
    "sqs:SendMessage",
)
# On its own queue's DLQ: the queue_report task reads the DLQ's counts
# (taskqueue.tasks.queue_report); the dead-letter sweep looks at its messages, leaving them
# there (taskqueue.runtime.dead_letter_sweep).
WORKER_DLQ_ACTIONS = ("sqs:GetQueueAttributes", "sqs:ReceiveMessage")
# Every state the worker records, and the idempotency claim, is one conditional UpdateItem;
# its one read is whether a delayed task it re-delays was cancelled (taskqueue.catalogue.delays).
WORKER_TABLE_ACTIONS = ("dynamodb:UpdateItem", "dynamodb:GetItem")
# A busy worker task protects itself from scale-in and deployments through the ECS agent's
# endpoint, which calls these with the task role. Both take the resource type `task`
# (arn:...:task/<cluster>/<id>): the statement names this cluster's tasks, the tightest
# ARN known at synth time (task ids are not).
WORKER_TASK_PROTECTION_ACTIONS = ("ecs:UpdateTaskProtection", "ecs:GetTaskProtection")
# The payload bucket (taskqueue.stores.payloads): the web writes a large task message's body
# and reads (and presigns) a large result; a worker reads and writes both, its own sends
# (a retry) and its results.
WEB_PARAMS_ACTIONS = ("s3:PutObject",)
WEB_RESULTS_ACTIONS = ("s3:GetObject",)
WORKER_PAYLOAD_ACTIONS = ("s3:GetObject", "s3:PutObject")
# Each worker service's container and log stream prefix: "worker", then "worker-<queue>".
WORKER_CONTAINER = "worker"


def queue_prefix(queue: str) -> str:
    """What a queue's construct ids and outputs start with: nothing for the default queue,
    whose logical ids stay the one-queue stack's (an update must not replace its queue or
    its worker service), else its name in CamelCase ("reports": "Reports")."""
    return "" if queue == DEFAULT_QUEUE else "".join(part.title() for part in queue.split("-"))


def worker_container_name(queue: str) -> str:
    """The worker container (and log stream prefix) of the queue's worker service."""
    return WORKER_CONTAINER if queue == DEFAULT_QUEUE else f"{WORKER_CONTAINER}-{queue}"


@dataclass(frozen=True)
class QueueResources:
    """One declared queue's own resources: its SQS queue and DLQ, its worker service (one
    worker process consumes one queue) and that service's scaling."""

    name: str
    task_queue: TaskQueue
    worker: WorkerService
    autoscaling: WorkerAutoscaling


class TaskQueueStack(Stack):
    """Flask web + Celery worker on SQS, with a DynamoDB result backend, on Fargate."""

    config: InfraConfig
    network: Network
    task_queue: TaskQueue
    queues: dict[str, QueueResources]
    results_table: ResultsTable
    payload_bucket: PayloadBucket
    log_groups: ServiceLogGroups
    cluster: ServiceCluster
    web: WebService
    worker: WorkerService
    worker_autoscaling: WorkerAutoscaling
    monitoring: Monitoring
    alarm_topic: sns.ITopic
    rate_limit: RateLimit | None = None
    schedules: Schedules | None = None

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: InfraConfig,
        repo_root: Path,
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            stack_name=config.stack_name,
            description=f"Task queue ({config.stage}): Flask web + Celery worker on SQS",
        )
        self.config = config
        Tags.of(self).add("project", "taskqueue")
        Tags.of(self).add("stage", config.stage)
        removal = RemovalPolicy.RETAIN if config.retain_data else RemovalPolicy.DESTROY
        retention = retention_days(config.log_retention_days)

        self.network = Network(
            self,
            "Network",
            egress=config.egress,
            max_azs=config.max_azs,
            log_retention=retention,
            removal_policy=removal,
            secret_stores=stores(config.secrets.values()),
        )
        # One SQS queue and DLQ per queue the offered tasks are sent to, the default first.
        task_queues = {
            name: TaskQueue(
                self,
                f"{queue_prefix(name)}TaskQueue",
                visibility_timeout=Duration.seconds(
                    config.queue_config(name).runtime.queue_visibility_timeout
                ),
                max_receive_count=config.runtime.max_receive_count,
                dlq_retention=Duration.days(config.dlq_retention_days),
            )
            for name in config.declared_queues
        }
        self.task_queue = task_queues[DEFAULT_QUEUE]
        self.results_table = ResultsTable(
            self,
            "ResultsTable",
            point_in_time_recovery=config.point_in_time_recovery,
            removal_policy=removal,
        )
        self.payload_bucket = PayloadBucket(
            self,
            "PayloadBucket",
            expiry_days=payloads.expiry_days(config.runtime),
            removal_policy=removal,
        )
        self.log_groups = ServiceLogGroups(
            self, "Logs", retention=retention, removal_policy=removal
        )
        if config.retain_data:
            for resource, why in (
                (self.results_table.table, kept.TABLE),
                (self.payload_bucket.bucket, kept.PAYLOADS),
                (self.log_groups.web, kept.SERVICE_LOGS),
                (self.log_groups.worker, kept.SERVICE_LOGS),
                (self.network.flow_log_group, kept.FLOW_LOGS),
            ):
                kept.record_why_kept(resource, why)
        self.cluster = ServiceCluster(
            self,
            "Cluster",
            vpc=self.network.vpc,
            fargate_capacity_providers=config.fargate_spot,
            container_insights=config.container_insights,
        )
        platform = task_platform(config.cpu_architecture)
        build_platform = image_platform(config.cpu_architecture)
        diagnostics = config.runtime.diagnostic_tasks

        def image_target(service: str) -> str:
            return service + DIAGNOSTICS_TARGET_SUFFIX if diagnostics else service

        queue = self.task_queue.queue
        dlq = self.task_queue.dead_letter_queue
        table = self.results_table.table
        # The other queues' URLs, as the services read them (QUEUES).
        other_queues = {
            name: {"url": each.queue.queue_url, "dlq_url": each.dead_letter_queue.queue_url}
            for name, each in task_queues.items()
            if name != DEFAULT_QUEUE
        }
        # The runtime's own settings object, checked as the services check it. It never
        # names AWS_ENDPOINT_URL: on AWS the SDKs use the real endpoints.
        resources = {
            "task_queue_name": queue.queue_name,
            "task_queue_url": queue.queue_url,
            "task_dlq_name": dlq.queue_name,
            "task_dlq_url": dlq.queue_url,
            "results_table": table.table_name,
            "payload_bucket": self.payload_bucket.bucket.bucket_name,
            "aws_region": Aws.REGION,
            **({"queues": other_queues} if other_queues else {}),
        }
        secrets = {service: for_service(config.secrets, service) for service in SERVICES}

        def environment(service: Service, queue_name: str | None = None) -> dict[str, str]:
            """The service's variables; a worker's are its queue's (WORKER_QUEUE, and that
            queue's concurrency and visibility)."""
            names = secrets[service]
            settings = config.queue_config(queue_name or DEFAULT_QUEUE).runtime_settings(
                **resources,
                # TASK_SECRETS names the service's secret variables (ECS secrets' values).
                **({"task_secrets": ",".join(sorted(names))} if names else {}),
                **({"worker_queue": queue_name} if queue_name else {}),
            )
            variables = settings.environment()
            if other_queues:
                # Tokens inside JSON: CloudFormation writes the URLs into the text it resolves.
                variables["QUEUES"] = self.to_json_string(other_queues)
            return variables

        self.web = WebService(
            self,
            "Web",
            cluster=self.cluster.cluster,
            vpc=self.network.vpc,
            image=ecs.ContainerImage.from_asset(
                str(repo_root), target=image_target(WEB_IMAGE_TARGET), platform=build_platform
            ),
            environment=environment("web"),
            secrets=container_secrets(secrets["web"]),
            log_group=self.log_groups.web,
            size=config.web_size,
            counts=config.web_counts,
            cpu_target_percent=config.web_cpu_target_percent,
            capacity=config.web_capacity,
            runtime_platform=platform,
            idle_timeout=Duration.seconds(config.runtime.load_balancer_idle_timeout),
            task_subnets=self.network.task_subnets,
            assign_public_ip=self.network.assign_public_ip,
            deletion_protection=config.is_prod,
            certificate=(
                None
                if config.certificate_arn is None
                else acm.Certificate.from_certificate_arn(
                    self, "Certificate", config.certificate_arn
                )
            ),
            access_logs_bucket=config.access_logs_bucket,
            access_logs_prefix=config.stack_name,
            allowed_cidrs=config.allowed_cidrs,
        )
        if config.rate_limit_per_ip is not None:
            self.rate_limit = RateLimit(
                self,
                "RateLimit",
                load_balancer=self.web.load_balancer,
                limit=config.rate_limit_per_ip,
                metric_prefix=config.stack_name,
            )
        worker_image = ecs.ContainerImage.from_asset(
            str(repo_root), target=image_target(WORKER_IMAGE_TARGET), platform=build_platform
        )
        self.queues = {}
        for name, task_queue in task_queues.items():
            prefix = queue_prefix(name)
            queue_config = config.queue_config(name)
            worker = WorkerService(
                self,
                f"{prefix}Worker",
                cluster=self.cluster.cluster,
                vpc=self.network.vpc,
                image=worker_image,
                container_name=worker_container_name(name),
                environment=environment("worker", name),
                secrets=container_secrets(secrets["worker"]),
                log_group=self.log_groups.worker,
                size=queue_config.worker_size,
                stop_timeout=Duration.seconds(config.worker_stop_timeout),
                runtime_platform=platform,
                capacity=queue_config.worker_capacity,
                on_demand_base=queue_config.worker_on_demand_base,
                task_subnets=self.network.task_subnets,
                assign_public_ip=self.network.assign_public_ip,
            )
            autoscaling = WorkerAutoscaling(
                self,
                f"{prefix}WorkerAutoscaling",
                cluster=self.cluster.cluster,
                service=worker.service,
                queue=task_queue.queue,
                counts=queue_config.worker_counts,
                target_backlog_per_task=queue_config.backlog_per_task_target,
                scale_out_cooldown=Duration.seconds(config.worker_scale_out_cooldown),
                scale_in_cooldown=Duration.seconds(config.worker_scale_in_cooldown),
                container_insights=config.container_insights,
            )
            self.queues[name] = QueueResources(name, task_queue, worker, autoscaling)
            self._grant_worker(worker.task_role, task_queue, table)
            for prefix in (payloads.PARAMS_PREFIX, payloads.RESULTS_PREFIX):
                self.payload_bucket.grant(worker.task_role, WORKER_PAYLOAD_ACTIONS, prefix)
            self.payload_bucket.grant_listing(worker.task_role)
        self.worker = self.queues[DEFAULT_QUEUE].worker
        self.worker_autoscaling = self.queues[DEFAULT_QUEUE].autoscaling

        self._grant(self.web.task_role, queue, WEB_QUEUE_ACTIONS, table, WEB_TABLE_ACTIONS)
        self.web.task_role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=list(WEB_COUNTER_ACTIONS),
                resources=[table.table_arn],
                conditions={
                    "ForAllValues:StringLike": {"dynamodb:LeadingKeys": list(WEB_COUNTER_KEYS)}
                },
            )
        )
        self.web.task_role.add_to_principal_policy(
            iam.PolicyStatement(actions=list(WEB_DLQ_ACTIONS), resources=[dlq.queue_arn])
        )
        for name, task_queue in task_queues.items():
            if name != DEFAULT_QUEUE:
                self.web.task_role.add_to_principal_policy(
                    iam.PolicyStatement(
                        actions=list(WEB_QUEUE_ACTIONS), resources=[task_queue.queue.queue_arn]
                    )
                )
                self.web.task_role.add_to_principal_policy(
                    iam.PolicyStatement(
                        actions=list(WEB_DLQ_ACTIONS),
                        resources=[task_queue.dead_letter_queue.queue_arn],
                    )
                )
        self.web.task_role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=list(WEB_INDEX_ACTIONS), resources=[self.results_table.index_arn]
            )
        )
        self.payload_bucket.grant(self.web.task_role, WEB_PARAMS_ACTIONS, payloads.PARAMS_PREFIX)
        self.payload_bucket.grant(self.web.task_role, WEB_RESULTS_ACTIONS, payloads.RESULTS_PREFIX)
        self.payload_bucket.grant_listing(self.web.task_role)

        if config.alarm_topic_arn:
            self.alarm_topic = sns.Topic.from_topic_arn(self, "AlarmTopic", config.alarm_topic_arn)
            if config.alarm_email is not None:
                self.alarm_topic.add_subscription(
                    sns_subscriptions.EmailSubscription(config.alarm_email)
                )
        else:
            self.alarm_topic = AlarmTopic(self, "Alarms", email=config.alarm_email).topic
        if declarations := config.enabled_schedules:
            self.schedules = Schedules(
                self,
                "Schedules",
                declarations=declarations,
                paused=config.paused_schedules,
                # Each fire goes to the queue of its task, under that queue's Celery name.
                targets={
                    name: ScheduleTarget(
                        queue=each.queue,
                        routing_key=config.runtime_settings(**resources).queue_address(name).name,
                    )
                    for name, each in task_queues.items()
                },
                group_name=config.stack_name,
                dlq_retention=Duration.days(config.dlq_retention_days),
                alarm_topic=self.alarm_topic,
            )
        self.monitoring = Monitoring(
            self,
            "Monitoring",
            dashboard_name=f"{config.stack_name}-{Aws.REGION}",
            queues=[
                WatchedQueue(
                    name=name,
                    queue=each.task_queue.queue,
                    dead_letter_queue=each.task_queue.dead_letter_queue,
                    worker_service_name=each.worker.service.service_name,
                    oldest_message_threshold=Duration.seconds(
                        config.queue_config(name).oldest_message_alarm_seconds
                    ),
                )
                for name, each in self.queues.items()
            ],
            load_balancer=self.web.load_balancer,
            target_group=self.web.target_group,
            cluster_name=self.cluster.cluster.cluster_name,
            web_service_name=self.web.service.service_name,
            container_insights=config.container_insights,
            services=[self.web.service, *(each.worker.service for each in self.queues.values())],
            alb_5xx_threshold=config.alb_5xx_alarm_threshold,
            backlog_without_workers_minutes=config.backlog_without_workers_alarm_minutes,
            metrics_namespace=config.metrics_namespace,
            task_names=sorted(load_catalogue(config.runtime_settings())),
            task_failure_rate_threshold=config.task_failure_rate_alarm,
            alarm_topic=self.alarm_topic,
        )

        CfnOutput(
            self,
            "AlarmTopicArn",
            value=self.alarm_topic.topic_arn,
            description="SNS topic of the alarms and failed deployments",
        )
        CfnOutput(self, "ServiceUrl", value=self.web.url, description="Web service URL")
        CfnOutput(self, "QueueUrl", value=queue.queue_url, description="Task queue URL")
        CfnOutput(self, "DlqUrl", value=dlq.queue_url, description="Dead-letter queue URL")
        CfnOutput(self, "ResultsTableName", value=table.table_name, description="Results table")
        CfnOutput(
            self,
            "PayloadBucketName",
            value=self.payload_bucket.bucket.bucket_name,
            description="Bucket of task messages and results too large for SQS and DynamoDB",
        )
        CfnOutput(
            self,
            "ClusterName",
            value=self.cluster.cluster.cluster_name,
            description="ECS cluster name",
        )
        CfnOutput(
            self,
            "WebServiceName",
            value=self.web.service.service_name,
            description="ECS web service name",
        )
        if other_queues:
            CfnOutput(
                self,
                "Queues",
                value=self.to_json_string(other_queues),
                description="The other queues' URLs as the services read them (QUEUES): the"
                " CLI's `queues` and `dlq --queue` read it",
            )
        for name, each in self.queues.items():
            prefix = queue_prefix(name)
            if name != DEFAULT_QUEUE:
                CfnOutput(
                    self,
                    f"{prefix}QueueUrl",
                    value=each.task_queue.queue.queue_url,
                    description=f"Task queue URL of queue {name}",
                )
                CfnOutput(
                    self,
                    f"{prefix}DlqUrl",
                    value=each.task_queue.dead_letter_queue.queue_url,
                    description=f"Dead-letter queue URL of queue {name}",
                )
            CfnOutput(
                self,
                f"{prefix}WorkerServiceName",
                value=each.worker.service.service_name,
                description=(
                    "ECS worker service name (make scale-workers N=...)"
                    if name == DEFAULT_QUEUE
                    else f"ECS worker service name of queue {name}"
                ),
            )

        acknowledge_findings(
            load_balancer=self.web.load_balancer,
            task_definitions=(
                self.web.task_definition,
                *(each.worker.task_definition for each in self.queues.values()),
            ),
            task_protection=(
                [each.worker.task_role for each in self.queues.values()],
                self.cluster.cluster,
            ),
            table=table,
            access_logs=config.access_logs_bucket is not None,
            open_to_anyone=any(cidr.prefixlen == 0 for cidr in config.allowed_cidrs),
            point_in_time_recovery=config.point_in_time_recovery,
            schedule_dlq=None if self.schedules is None else self.schedules.dead_letter_queue,
            cluster_without_insights=None if config.container_insights else self.cluster.cluster,
            payload_bucket=(
                self.payload_bucket.bucket,
                [self.web.task_role, *(each.worker.task_role for each in self.queues.values())],
            ),
        )

    def _grant_worker(self, role: iam.IRole, task_queue: TaskQueue, table: dynamodb.ITable) -> None:
        """A worker's grants: its own queue and DLQ only, the table, its tasks' protection."""
        self._grant(role, task_queue.queue, WORKER_QUEUE_ACTIONS, table, WORKER_TABLE_ACTIONS)
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=list(WORKER_DLQ_ACTIONS),
                resources=[task_queue.dead_letter_queue.queue_arn],
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=list(WORKER_TASK_PROTECTION_ACTIONS),
                resources=[self.cluster.cluster.arn_for_tasks("*")],
            )
        )

    @staticmethod
    def _grant(
        role: iam.IRole,
        queue: sqs.IQueue,
        queue_actions: tuple[str, ...],
        table: dynamodb.ITable,
        table_actions: tuple[str, ...],
    ) -> None:
        """Explicit statements: CDK's grant_* helpers add actions beyond these lists."""
        role.add_to_principal_policy(
            iam.PolicyStatement(actions=list(queue_actions), resources=[queue.queue_arn])
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(actions=list(table_actions), resources=[table.table_arn])
        )
