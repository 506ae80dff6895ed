"""Network paths in a synthesized template: security group rules, subnet routes, VPC
endpoints; whether a task's subnet and security groups reach a service or a peer."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tests.infra.cfn_policies import REGION, Template

HTTPS = 443
PUBLIC_ADDRESS = ipaddress.IPv4Network("52.94.0.1/32")
"""Any address on the internet, for an egress rule to the public endpoints."""


@dataclass(frozen=True)
class Rule:
    """One security group rule: a protocol and port range, and a peer (a CIDR or a group)."""

    protocol: str
    ports: range
    cidr: ipaddress.IPv4Network | ipaddress.IPv6Network | None
    group: str | None

    def admits(self, port: int, *, cidr: ipaddress.IPv4Network | None, group: str | None) -> bool:
        if self.protocol not in ("-1", "tcp") or (
            self.protocol == "tcp" and port not in self.ports
        ):
            return False
        if self.group is not None:
            return self.group == group
        if cidr is None or self.cidr is None or cidr.version != self.cidr.version:
            return False
        return cidr.subnet_of(self.cidr)


def rules(template: Template, group_id: str, direction: str) -> list[Rule]:
    """The group's rules of one direction ("Ingress"/"Egress"), inline and standalone."""
    peer = "SourceSecurityGroupId" if direction == "Ingress" else "DestinationSecurityGroupId"
    group = template.of_type("AWS::EC2::SecurityGroup")[group_id]
    found = list(group.get(f"SecurityGroup{direction}", []))
    found += [
        rule
        for rule in template.of_type(f"AWS::EC2::SecurityGroup{direction}").values()
        if template.target(rule["GroupId"]) == group_id
    ]
    rules = []
    for rule in found:
        protocol = str(rule["IpProtocol"])
        ports = range(int(rule.get("FromPort", 0)), int(rule.get("ToPort", 65535)) + 1)
        cidr = rule.get("CidrIp") or rule.get("CidrIpv6")
        network = ipaddress.ip_network(cidr) if isinstance(cidr, str) else None
        rules.append(Rule(protocol, ports, network, template.target(rule.get(peer))))
    return rules


def admits(
    template: Template,
    groups: list[str],
    direction: str,
    port: int,
    *,
    cidr: ipaddress.IPv4Network | None = None,
    group: str | None = None,
) -> bool:
    return any(
        rule.admits(port, cidr=cidr, group=group)
        for group_id in groups
        for rule in rules(template, group_id, direction)
    )


def subnet_cidr(template: Template, subnet_id: str) -> ipaddress.IPv4Network:
    return ipaddress.IPv4Network(template.of_type("AWS::EC2::Subnet")[subnet_id]["CidrBlock"])


def route_table(template: Template, subnet_id: str) -> str | None:
    for association in template.of_type("AWS::EC2::SubnetRouteTableAssociation").values():
        if template.target(association["SubnetId"]) == subnet_id:
            return template.target(association["RouteTableId"])
    return None


def default_route(template: Template, route_table: str | None) -> Mapping[str, Any] | None:
    for route in template.of_type("AWS::EC2::Route").values():
        if (
            template.target(route["RouteTableId"]) == route_table
            and route.get("DestinationCidrBlock") == "0.0.0.0/0"
        ):
            return route
    return None


def reaches_internet(template: Template, subnet_id: str, public_ip: bool) -> bool:
    """A route to the internet: an internet gateway with a public IP, or a NAT gateway in a
    subnet that has one."""
    route = default_route(template, route_table(template, subnet_id))
    if route is None:
        return False
    gateway = template.target(route.get("GatewayId"))
    if template.type_of(gateway) == "AWS::EC2::InternetGateway":
        return public_ip
    nat = template.target(route.get("NatGatewayId"))
    if template.type_of(nat) == "AWS::EC2::NatGateway":
        nat_subnet = str(
            template.target(template.of_type("AWS::EC2::NatGateway")[str(nat)]["SubnetId"])
        )
        return reaches_internet(template, nat_subnet, public_ip=True)
    return False


def endpoint_reaches(template: Template, name: str, subnet_id: str, task_groups: list[str]) -> bool:
    """A VPC endpoint of `name` that the subnet's tasks reach: a gateway endpoint in its
    route table, or an interface endpoint with private DNS whose security group admits
    HTTPS from them, and their group lets it out."""
    service_name = f"com.amazonaws.{REGION}.{name}"
    task_cidr = subnet_cidr(template, subnet_id)
    for endpoint in template.of_type("AWS::EC2::VPCEndpoint").values():
        if template.resolve(endpoint["ServiceName"]) != service_name:
            continue
        if endpoint.get("VpcEndpointType") == "Gateway":
            route_tables = [template.target(t) for t in endpoint.get("RouteTableIds", [])]
            if route_table(template, subnet_id) in route_tables:
                return True
            continue
        if not endpoint.get("PrivateDnsEnabled"):
            continue
        endpoint_groups = [str(template.target(g)) for g in endpoint.get("SecurityGroupIds", [])]
        endpoint_subnets = [str(template.target(s)) for s in endpoint.get("SubnetIds", [])]
        inbound = any(
            admits(template, endpoint_groups, "Ingress", HTTPS, cidr=task_cidr, group=group)
            for group in task_groups
        )
        outbound = any(
            admits(template, task_groups, "Egress", HTTPS, cidr=subnet_cidr(template, s))
            for s in endpoint_subnets
        ) or any(
            admits(template, task_groups, "Egress", HTTPS, group=group) for group in endpoint_groups
        )
        if inbound and outbound:
            return True
    return False


def reaches(
    template: Template, name: str, subnet_id: str, task_groups: list[str], *, public_ip: bool
) -> bool:
    """Whether a task in `subnet_id` with `task_groups` reaches the AWS service `name` (its
    endpoint's name: sqs, ecr.api, …): through the internet, or through a VPC endpoint."""
    through_internet = reaches_internet(template, subnet_id, public_ip) and admits(
        template, task_groups, "Egress", HTTPS, cidr=PUBLIC_ADDRESS
    )
    return through_internet or endpoint_reaches(template, name, subnet_id, task_groups)
