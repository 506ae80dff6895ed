"""The Flask web service: Fargate tasks behind a public application load balancer."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from ipaddress import IPv4Network, IPv6Network

from aws_cdk import Duration
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_ecs_patterns as ecs_patterns
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.config import ServiceCounts, TaskSize, WebCapacity
from infra.read_only import read_only_root

CONTAINER_NAME = "web"
CONTAINER_PORT = 8000
HEALTH_CHECK_PATH = "/healthz"
WEB_BIND = f"0.0.0.0:{CONTAINER_PORT}"


class WebService(Construct):
    """`ApplicationLoadBalancedFargateService` with a /healthz target-group check,
    a rollback circuit breaker and CPU target-tracking autoscaling.

    The service sets no desired count: autoscaling owns it between `counts` (a count in the
    template would put it back on every deploy). ECS starts a new service with one task,
    and registering the scalable target moves the count into [minimum, maximum].

    With a `certificate` the load balancer serves HTTPS on 443 (AWS's recommended TLS
    policy) and answers plain HTTP on 80 with a redirect; without one, HTTP on 80. With an
    `access_logs_bucket` (whose policy already admits Elastic Load Balancing) it writes its
    access logs there under `access_logs_prefix`. Its security group admits only
    `allowed_cidrs` on the listener ports.

    With `capacity` FARGATE_SPOT every web task runs on Fargate Spot (the cluster must offer
    the Fargate capacity providers): an interruption stops a task with two minutes' notice,
    and the service runs short of it until ECS places another.

    The task role starts empty: the stack grants it exactly what the web needs.
    """

    service: ecs.FargateService
    task_definition: ecs.FargateTaskDefinition
    load_balancer: elbv2.ApplicationLoadBalancer
    target_group: elbv2.ApplicationTargetGroup
    task_role: iam.Role
    scaling: ecs.ScalableTaskCount
    url: str

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        cluster: ecs.ICluster,
        vpc: ec2.IVpc,
        image: ecs.ContainerImage,
        environment: Mapping[str, str],
        log_group: logs.ILogGroup,
        size: TaskSize,
        counts: ServiceCounts,
        cpu_target_percent: int,
        capacity: WebCapacity,
        runtime_platform: ecs.RuntimePlatform,
        idle_timeout: Duration,
        task_subnets: ec2.SubnetSelection,
        assign_public_ip: bool,
        deletion_protection: bool,
        certificate: acm.ICertificate | None = None,
        access_logs_bucket: str | None = None,
        access_logs_prefix: str = "taskqueue",
        allowed_cidrs: Sequence[IPv4Network | IPv6Network] = (IPv4Network("0.0.0.0/0"),),
        secrets: Mapping[str, ecs.Secret] | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.task_role = iam.Role(
            self,
            "TaskRole",
            assumed_by=iam.ServicePrincipal("ecs-tasks.amazonaws.com"),
            description="Web tasks: send to the task queue, read/write the results table",
        )
        self.load_balancer = elbv2.ApplicationLoadBalancer(
            self,
            "LoadBalancer",
            vpc=vpc,
            internet_facing=True,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PUBLIC),
            drop_invalid_header_fields=True,
            deletion_protection=deletion_protection,
            # gunicorn's keep-alive is longer (gunicorn_conf.py), both from one setting.
            idle_timeout=idle_timeout,
        )
        if access_logs_bucket is not None:
            # The attributes themselves: `log_access_logs` would also write the bucket's
            # policy, which needs a region-pinned stack and an owned bucket.
            self.load_balancer.set_attribute("access_logs.s3.enabled", "true")
            self.load_balancer.set_attribute("access_logs.s3.bucket", access_logs_bucket)
            self.load_balancer.set_attribute("access_logs.s3.prefix", access_logs_prefix)
        https = certificate is not None
        pattern = ecs_patterns.ApplicationLoadBalancedFargateService(
            self,
            "Service",
            cluster=cluster,
            load_balancer=self.load_balancer,
            public_load_balancer=True,
            open_listener=False,  # the listener ports admit `allowed_cidrs` only (below)
            listener_port=443 if https else 80,
            protocol=elbv2.ApplicationProtocol.HTTPS if https else elbv2.ApplicationProtocol.HTTP,
            certificate=certificate,
            ssl_policy=elbv2.SslPolicy.RECOMMENDED_TLS if https else None,
            redirect_http=https,  # a listener on 80 that answers with a redirect to 443
            cpu=size.cpu,
            memory_limit_mib=size.memory_mib,
            desired_count=None,  # autoscaling owns it
            capacity_provider_strategies=(
                [ecs.CapacityProviderStrategy(capacity_provider="FARGATE_SPOT", weight=1)]
                if capacity == "FARGATE_SPOT"
                else None
            ),
            min_healthy_percent=100,
            max_healthy_percent=200,
            circuit_breaker=ecs.DeploymentCircuitBreaker(enable=True, rollback=True),
            health_check_grace_period=Duration.seconds(60),
            task_subnets=task_subnets,
            assign_public_ip=assign_public_ip,
            runtime_platform=runtime_platform,
            enable_ecs_managed_tags=True,
            propagate_tags=ecs.PropagatedTagSource.SERVICE,
            health_check=ecs.HealthCheck(
                command=["CMD", "web-healthcheck"],
                interval=Duration.seconds(30),
                timeout=Duration.seconds(5),
                retries=3,
                start_period=Duration.seconds(20),
            ),
            task_image_options=ecs_patterns.ApplicationLoadBalancedTaskImageOptions(
                image=image,
                container_name=CONTAINER_NAME,
                container_port=CONTAINER_PORT,
                environment={**environment, "WEB_BIND": WEB_BIND},
                secrets=dict(secrets or {}),
                task_role=self.task_role,
                log_driver=ecs.LogDrivers.aws_logs(stream_prefix="web", log_group=log_group),
            ),
        )
        for port in (80, 443) if https else (80,):
            for cidr in allowed_cidrs:
                peer = ec2.Peer.ipv4(str(cidr)) if cidr.version == 4 else ec2.Peer.ipv6(str(cidr))
                self.load_balancer.connections.allow_from(
                    peer, ec2.Port.tcp(port), f"Listener port {port} from {cidr}"
                )
        self.service = pattern.service
        self.task_definition = pattern.task_definition
        container = self.task_definition.default_container
        assert container is not None
        read_only_root(self.task_definition, container)
        self.target_group = pattern.target_group
        self.target_group.configure_health_check(
            path=HEALTH_CHECK_PATH,
            healthy_http_codes="200",
            interval=Duration.seconds(15),
            timeout=Duration.seconds(5),
            healthy_threshold_count=2,
            unhealthy_threshold_count=3,
        )
        # gunicorn drains in-flight requests quickly; no need for the 300 s default.
        self.target_group.set_attribute("deregistration_delay.timeout_seconds", "30")

        self.scaling = self.service.auto_scale_task_count(
            min_capacity=counts.minimum, max_capacity=counts.maximum
        )
        self.scaling.scale_on_cpu_utilization(
            "CpuScaling",
            target_utilization_percent=cpu_target_percent,
            scale_in_cooldown=Duration.seconds(120),
            scale_out_cooldown=Duration.seconds(60),
        )
        scheme = "https" if https else "http"
        self.url = f"{scheme}://{self.load_balancer.load_balancer_dns_name}"
