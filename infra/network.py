"""VPC over two AZs; how tasks reach AWS APIs depends on the egress mode.

- ``public`` (dev default): public subnets only, no NAT gateway, no interface endpoint:
  nothing is billed while idle. Tasks get a public IP; security groups keep them closed
  (web: only from the load balancer, worker: no inbound at all).
- ``nat``: public subnets for the load balancer, private subnets behind one NAT gateway.
- ``endpoints``: public subnets for the load balancer, isolated private subnets that reach
  SQS, ECR, CloudWatch Logs through interface endpoints and DynamoDB/S3 (ECR layers, the
  payload bucket) through gateway endpoints; and Secrets Manager and SSM through interface
  endpoints when the tasks' secrets come from them (the ECS agent reads them as a task
  starts: without a path it fails with ResourceInitializationError). No KMS endpoint: a
  secret under a customer-managed key is decrypted by Secrets Manager's or SSM's own call
  to KMS.
"""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.config import Egress
from infra.task_secrets import SecretStore

PUBLIC_SUBNETS = "public"
PRIVATE_SUBNETS = "private"
VPC_CIDR = "10.0.0.0/16"
# The tasks' subnets when they are not public: behind the NAT gateway, or isolated.
PRIVATE_SUBNET_TYPE = {
    "nat": ec2.SubnetType.PRIVATE_WITH_EGRESS,
    "endpoints": ec2.SubnetType.PRIVATE_ISOLATED,
}
# What every task calls, then each secret store only when a secret is read from it (an
# interface endpoint is billed per AZ and hour).
INTERFACE_ENDPOINTS = {
    "Sqs": ec2.InterfaceVpcEndpointAwsService.SQS,
    "EcrApi": ec2.InterfaceVpcEndpointAwsService.ECR,
    "EcrDocker": ec2.InterfaceVpcEndpointAwsService.ECR_DOCKER,
    "Logs": ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS,
}
SECRET_STORE_ENDPOINTS: dict[SecretStore, tuple[str, ec2.InterfaceVpcEndpointAwsService]] = {
    "secretsmanager": ("SecretsManager", ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER),
    "ssm": ("Ssm", ec2.InterfaceVpcEndpointAwsService.SSM),
}


class Network(Construct):
    """The VPC, the subnets tasks run in, and the VPC flow log."""

    vpc: ec2.Vpc
    task_subnets: ec2.SubnetSelection
    """Subnets the Fargate tasks run in."""
    assign_public_ip: bool
    """Whether tasks need a public IP (only when they run in public subnets)."""
    flow_log_group: logs.LogGroup
    endpoints: dict[str, ec2.IVpcEndpoint]
    """VPC endpoints by service name (empty unless egress is ``endpoints``)."""
    endpoint_security_group: ec2.SecurityGroup | None

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        egress: Egress,
        max_azs: int,
        log_retention: logs.RetentionDays,
        removal_policy: RemovalPolicy,
        secret_stores: frozenset[SecretStore] = frozenset(),
    ) -> None:
        super().__init__(scope, construct_id)
        subnets = [
            ec2.SubnetConfiguration(
                name=PUBLIC_SUBNETS, subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24
            )
        ]
        if egress in PRIVATE_SUBNET_TYPE:
            subnets.append(
                ec2.SubnetConfiguration(
                    name=PRIVATE_SUBNETS, subnet_type=PRIVATE_SUBNET_TYPE[egress], cidr_mask=22
                )
            )

        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            ip_addresses=ec2.IpAddresses.cidr(VPC_CIDR),
            max_azs=max_azs,
            nat_gateways=1 if egress == "nat" else 0,
            subnet_configuration=subnets,
            # The default security group is never used; restricting it would need a
            # Lambda-backed custom resource (see checkov-skips.md).
            restrict_default_security_group=False,
        )
        self.assign_public_ip = egress == "public"
        self.task_subnets = ec2.SubnetSelection(
            subnet_group_name=PUBLIC_SUBNETS if egress == "public" else PRIVATE_SUBNETS
        )

        self.flow_log_group = logs.LogGroup(
            self, "FlowLogs", retention=log_retention, removal_policy=removal_policy
        )
        self.vpc.add_flow_log(
            "FlowLog",
            destination=ec2.FlowLogDestination.to_cloud_watch_logs(self.flow_log_group),
            traffic_type=ec2.FlowLogTrafficType.REJECT,
        )

        self.endpoints = {}
        self.endpoint_security_group = None
        if egress == "endpoints":
            self._add_endpoints(secret_stores)

    def _add_endpoints(self, secret_stores: frozenset[SecretStore]) -> None:
        private = ec2.SubnetSelection(subnet_group_name=PRIVATE_SUBNETS)
        for name, gateway in (
            ("DynamoDb", ec2.GatewayVpcEndpointAwsService.DYNAMODB),
            ("S3", ec2.GatewayVpcEndpointAwsService.S3),
        ):
            self.endpoints[name] = self.vpc.add_gateway_endpoint(
                name, service=gateway, subnets=[private]
            )
        # One security group for the interface endpoints: HTTPS from inside the VPC only
        # (a literal CIDR, so cdk-nag can check it).
        endpoint_sg = ec2.SecurityGroup(
            self,
            "EndpointSecurityGroup",
            vpc=self.vpc,
            description="Interface VPC endpoints: HTTPS from inside the VPC",
            allow_all_outbound=False,
        )
        endpoint_sg.add_ingress_rule(
            ec2.Peer.ipv4(VPC_CIDR), ec2.Port.tcp(443), "HTTPS from the VPC"
        )
        self.endpoint_security_group = endpoint_sg
        interfaces = {
            **INTERFACE_ENDPOINTS,
            **dict(SECRET_STORE_ENDPOINTS[store] for store in sorted(secret_stores)),
        }
        for name, interface in interfaces.items():
            self.endpoints[name] = self.vpc.add_interface_endpoint(
                name,
                service=interface,
                subnets=private,
                private_dns_enabled=True,
                open=False,
                security_groups=[endpoint_sg],
            )
