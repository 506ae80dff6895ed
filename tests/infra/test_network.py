"""Network: 2 AZs; dev is public subnets without NAT, prod is private (NAT or endpoints)."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk.assertions import Match

from tests.infra.conftest import Synth, get_att, only, service_for

pytestmark = pytest.mark.timeout(300)


def subnets(synth: Synth, *, public: bool) -> dict[str, Any]:
    found = synth.template.find_resources(
        "AWS::EC2::Subnet", {"Properties": {"MapPublicIpOnLaunch": public}}
    )
    assert isinstance(found, dict)
    return found


def service_network(synth: Synth, container_name: str) -> dict[str, Any]:
    """AwsvpcConfiguration of the ECS service running `container_name`."""
    _, service = service_for(synth, container_name)
    config = service["Properties"]["NetworkConfiguration"]["AwsvpcConfiguration"]
    assert isinstance(config, dict)
    return config


def test_dev_is_two_public_subnets_without_nat(dev: Synth) -> None:
    dev.template.resource_count_is("AWS::EC2::VPC", 1)
    assert len(subnets(dev, public=True)) == 2
    assert len(subnets(dev, public=False)) == 0
    dev.template.resource_count_is("AWS::EC2::NatGateway", 0)
    dev.template.resource_count_is("AWS::EC2::VPCEndpoint", 0)
    dev.template.resource_count_is("AWS::EC2::EIP", 0)


@pytest.mark.parametrize("name", ["web", "worker"])
def test_dev_tasks_get_a_public_ip_in_public_subnets(dev: Synth, name: str) -> None:
    network = service_network(dev, name)
    assert network["AssignPublicIp"] == "ENABLED"
    public = set(subnets(dev, public=True))
    assert {s["Ref"] for s in network["Subnets"]} == public


def test_prod_nat_runs_tasks_in_private_subnets_behind_one_nat(prod: Synth) -> None:
    assert prod.stack.config.egress == "nat"
    prod.template.resource_count_is("AWS::EC2::NatGateway", 1)
    private = set(subnets(prod, public=False))
    assert len(private) == 2
    for name in ("web", "worker"):
        network = service_network(prod, name)
        assert network["AssignPublicIp"] == "DISABLED"
        assert {s["Ref"] for s in network["Subnets"]} == private


def test_prod_endpoints_replace_the_nat_gateway(prod_endpoints: Synth) -> None:
    synth = prod_endpoints
    synth.template.resource_count_is("AWS::EC2::NatGateway", 0)
    services = set()
    for endpoint in synth.resources("AWS::EC2::VPCEndpoint").values():
        # {"Fn::Join": ["", ["com.amazonaws.", {"Ref": "AWS::Region"}, ".sqs"]]}
        parts = endpoint["Properties"]["ServiceName"]["Fn::Join"][1]
        assert parts[:2] == ["com.amazonaws.", {"Ref": "AWS::Region"}]
        services.add((parts[2].lstrip("."), endpoint["Properties"]["VpcEndpointType"]))
    assert services == {
        ("sqs", "Interface"),
        ("ecr.api", "Interface"),
        ("ecr.dkr", "Interface"),
        ("logs", "Interface"),
        ("dynamodb", "Gateway"),
        ("s3", "Gateway"),
    }
    private = set(subnets(synth, public=False))
    for name in ("web", "worker"):
        network = service_network(synth, name)
        assert network["AssignPublicIp"] == "DISABLED"
        assert {s["Ref"] for s in network["Subnets"]} == private
    # Isolated subnets: no route to an internet gateway from them.
    for route in synth.resources("AWS::EC2::Route").values():
        assert "NatGatewayId" not in route["Properties"]


def test_endpoint_security_group_allows_https_from_the_vpc_only(prod_endpoints: Synth) -> None:
    prod_endpoints.template.has_resource_properties(
        "AWS::EC2::SecurityGroup",
        {
            "GroupDescription": Match.string_like_regexp("Interface VPC endpoints"),
            "SecurityGroupIngress": [
                Match.object_like({"CidrIp": "10.0.0.0/16", "FromPort": 443, "ToPort": 443})
            ],
        },
    )


def test_vpc_flow_log_goes_to_a_log_group_with_retention(dev: Synth) -> None:
    log_group = dev.template.find_resources(
        "AWS::Logs::LogGroup", {"Properties": {"RetentionInDays": Match.any_value()}}
    )
    assert log_group
    dev.template.has_resource_properties(
        "AWS::EC2::FlowLog",
        {"ResourceType": "VPC", "TrafficType": "REJECT", "LogDestinationType": "cloud-watch-logs"},
    )


def test_web_tasks_accept_only_the_load_balancer(dev: Synth) -> None:
    alb_sg = dev.template.find_resources(
        "AWS::EC2::SecurityGroup",
        {"Properties": {"SecurityGroupIngress": [Match.object_like({"CidrIp": "0.0.0.0/0"})]}},
    )
    ingress = dev.resources("AWS::EC2::SecurityGroupIngress")
    web_sg_ids = {g["Fn::GetAtt"][0] for g in service_network(dev, "web")["SecurityGroups"]}
    rules = [
        r["Properties"]
        for r in ingress.values()
        if r["Properties"]["GroupId"]["Fn::GetAtt"][0] in web_sg_ids
    ]
    assert len(rules) == 1
    assert rules[0]["IpProtocol"] == "tcp"
    assert rules[0]["FromPort"] == rules[0]["ToPort"] == 8000
    assert rules[0]["SourceSecurityGroupId"] == get_att(alb_sg, "GroupId")
    for group_id in web_sg_ids:
        assert (
            "SecurityGroupIngress"
            not in dev.resources("AWS::EC2::SecurityGroup")[group_id]["Properties"]
        )


def test_worker_tasks_accept_no_inbound_traffic(dev: Synth) -> None:
    worker_sg_ids = {g["Fn::GetAtt"][0] for g in service_network(dev, "worker")["SecurityGroups"]}
    groups = dev.resources("AWS::EC2::SecurityGroup")
    for group_id in worker_sg_ids:
        assert "SecurityGroupIngress" not in groups[group_id]["Properties"]
    for rule in dev.resources("AWS::EC2::SecurityGroupIngress").values():
        assert rule["Properties"]["GroupId"]["Fn::GetAtt"][0] not in worker_sg_ids
    only({k: groups[k] for k in worker_sg_ids})


def endpoint_services(synth: Synth) -> dict[str, str]:
    """The VPC endpoints' service names (after com.amazonaws.<region>.) and their types."""
    services = {}
    for endpoint in synth.resources("AWS::EC2::VPCEndpoint").values():
        parts = endpoint["Properties"]["ServiceName"]["Fn::Join"][1]
        assert parts[:2] == ["com.amazonaws.", {"Ref": "AWS::Region"}]
        services[parts[2].lstrip(".")] = endpoint["Properties"]["VpcEndpointType"]
    return services


def test_isolated_tasks_reach_the_secret_stores_they_read(
    prod_endpoints_secrets: Synth, prod_endpoints: Synth
) -> None:
    """The ECS agent reads a task's secrets with the execution role when the task starts:
    from isolated subnets only an endpoint reaches Secrets Manager or SSM, or the task stops
    with ResourceInitializationError. A key's decrypt is Secrets Manager's or SSM's own call
    to KMS, so no KMS endpoint. Only the stores the secrets name: an endpoint costs money."""
    synth = prod_endpoints_secrets
    stores = endpoint_services(synth)
    assert stores["secretsmanager"] == stores["ssm"] == "Interface"
    assert "kms" not in stores
    private = [{"Ref": subnet} for subnet in subnets(synth, public=False)]
    for store in ("secretsmanager", "ssm"):
        synth.template.has_resource_properties(
            "AWS::EC2::VPCEndpoint",
            {
                "ServiceName": {
                    "Fn::Join": ["", ["com.amazonaws.", {"Ref": "AWS::Region"}, f".{store}"]]
                },
                "PrivateDnsEnabled": True,
                "SubnetIds": Match.array_equals(private),
            },
        )
    # Without secrets, neither.
    assert {"secretsmanager", "ssm"}.isdisjoint(endpoint_services(prod_endpoints))
