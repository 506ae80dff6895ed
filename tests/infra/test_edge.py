"""At the edge: the load balancer admits only `allowedCidrs`; `rateLimitPerIp` adds AWS WAF."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import Validations
from aws_cdk.assertions import Match

from infra.config import ConfigError, InfraConfig
from tests.infra.conftest import Synth, cdk_json_context, get_att, only, ref_to

pytestmark = pytest.mark.timeout(300)


def config(**overrides: Any) -> InfraConfig:
    return InfraConfig.from_context({**cdk_json_context(), **overrides})


def load_balancer_ingress(synth: Synth) -> list[dict[str, Any]]:
    found = synth.template.find_resources(
        "AWS::EC2::SecurityGroup",
        {"Properties": {"GroupDescription": Match.string_like_regexp("Security Group for ELB")}},
    )
    (group,) = found.values()
    rules: list[dict[str, Any]] = group["Properties"]["SecurityGroupIngress"]
    return rules


def test_by_default_the_listener_admits_anyone_on_port_80_only(dev: Synth) -> None:
    rules = load_balancer_ingress(dev)
    assert [(r.get("CidrIp"), r["FromPort"], r["ToPort"]) for r in rules] == [("0.0.0.0/0", 80, 80)]


def test_allowed_cidrs_are_the_only_sources_on_both_listener_ports(dev_edge: Synth) -> None:
    rules = load_balancer_ingress(dev_edge)
    sources = {
        (r.get("CidrIp") or r.get("CidrIpv6"), r["IpProtocol"], r["FromPort"]) for r in rules
    }
    assert sources == {
        (cidr, "tcp", port) for cidr in ("203.0.113.0/24", "2001:db8::/32") for port in (80, 443)
    }
    assert all(r["FromPort"] == r["ToPort"] for r in rules)


@pytest.mark.parametrize(
    "value", ['["10.0.0.0/33"]', '["not a cidr"]', "[]", '"10.0.0.0/8"', "10.0.0.0/8"]
)
def test_a_malformed_cidr_list_is_refused_naming_the_context_key(value: str) -> None:
    with pytest.raises(ConfigError, match="allowedCidrs"):
        config(allowedCidrs=value)


def test_a_cidr_with_host_bits_is_refused() -> None:
    with pytest.raises(ConfigError, match="allowedCidrs"):
        config(allowedCidrs='["10.0.0.1/8"]')


def test_no_rate_limit_means_no_web_acl(dev: Synth) -> None:
    dev.template.resource_count_is("AWS::WAFv2::WebACL", 0)
    dev.template.resource_count_is("AWS::WAFv2::WebACLAssociation", 0)


def test_rate_limit_per_ip_is_a_regional_web_acl_on_the_load_balancer(dev_edge: Synth) -> None:
    dev_edge.template.has_resource_properties(
        "AWS::WAFv2::WebACL",
        {
            "Scope": "REGIONAL",
            "DefaultAction": {"Allow": {}},
            "Rules": [
                Match.object_like(
                    {
                        "Action": {"Block": {}},
                        "Statement": {
                            "RateBasedStatement": {
                                "AggregateKeyType": "IP",
                                "Limit": 1000,
                                "EvaluationWindowSec": 300,
                            }
                        },
                        "VisibilityConfig": Match.object_like({"CloudWatchMetricsEnabled": True}),
                    }
                )
            ],
        },
    )
    dev_edge.template.has_resource_properties(
        "AWS::WAFv2::WebACLAssociation",
        {
            "ResourceArn": ref_to(dev_edge.resources("AWS::ElasticLoadBalancingV2::LoadBalancer")),
            "WebACLArn": get_att(dev_edge.resources("AWS::WAFv2::WebACL"), "Arn"),
        },
    )


@pytest.mark.parametrize("limit", ["9", "0", "2000000001", "many"])
def test_a_rate_limit_outside_wafs_bounds_is_refused(limit: str) -> None:
    with pytest.raises(ConfigError, match="rateLimitPerIp"):
        config(rateLimitPerIp=limit)


@pytest.mark.parametrize("limit", ["10", "2000000000"])
def test_wafs_bounds_themselves_are_accepted(limit: str) -> None:
    assert config(rateLimitPerIp=limit).rate_limit_per_ip == int(limit)


def test_a_narrower_cidr_list_needs_no_open_ingress_acknowledgement(
    dev: Synth, dev_edge: Synth
) -> None:
    """infra/README.md: with a narrower `allowedCidrs`, cdk-nag's AwsSolutions-EC23 no longer
    needs acknowledging (and synthesis fails on any unacknowledged finding)."""

    def acknowledged(synth: Synth) -> str:
        return " ".join(
            str(entry.data)
            for construct in synth.stack.node.find_all()
            for entry in construct.node.metadata
            if entry.type == Validations.ACKNOWLEDGED_RULES_METADATA_KEY
        )

    assert "AwsSolutions-EC23" in acknowledged(dev)
    assert "AwsSolutions-EC23" not in acknowledged(dev_edge)


def test_the_web_acl_samples_requests_and_publishes_metrics(dev_edge: Synth) -> None:
    """infra/README.md: CloudWatch metrics and sampled requests are on."""
    _, acl = only(dev_edge.resources("AWS::WAFv2::WebACL"))
    properties = acl["Properties"]
    for visibility in [
        properties["VisibilityConfig"],
        *(r["VisibilityConfig"] for r in properties["Rules"]),
    ]:
        assert visibility["CloudWatchMetricsEnabled"] is True
        assert visibility["SampledRequestsEnabled"] is True
