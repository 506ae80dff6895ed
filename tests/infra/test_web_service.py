"""WebService: ALB -> Fargate on :8000, /healthz checks, rollback breaker, CPU scaling."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from aws_cdk.assertions import Match
from constructs import IConstruct

from tests.infra.conftest import (
    CERTIFICATE_ARN,
    Synth,
    container,
    container_env,
    only,
    ref_to,
    resolved,
    scalable_target_of,
    service_for,
)

pytestmark = pytest.mark.timeout(300)


def test_public_load_balancer_forwards_http_to_the_web_target_group(dev: Synth) -> None:
    dev.template.resource_count_is("AWS::ElasticLoadBalancingV2::LoadBalancer", 1)
    alb = dev.template.find_resources(
        "AWS::ElasticLoadBalancingV2::LoadBalancer",
        {
            "Properties": {
                "Scheme": "internet-facing",
                "Type": "application",
                "LoadBalancerAttributes": Match.array_with(
                    [{"Key": "routing.http.drop_invalid_header_fields.enabled", "Value": "true"}]
                ),
            }
        },
    )
    target_group = dev.template.find_resources("AWS::ElasticLoadBalancingV2::TargetGroup")
    dev.template.has_resource_properties(
        "AWS::ElasticLoadBalancingV2::Listener",
        {
            "LoadBalancerArn": ref_to(alb),
            "Port": 80,
            "Protocol": "HTTP",
            "DefaultActions": [{"Type": "forward", "TargetGroupArn": ref_to(target_group)}],
        },
    )


def test_target_group_checks_healthz_on_port_8000(dev: Synth) -> None:
    dev.template.has_resource_properties(
        "AWS::ElasticLoadBalancingV2::TargetGroup",
        {
            "Port": 80,
            "Protocol": "HTTP",
            "TargetType": "ip",
            "HealthCheckPath": "/healthz",
            "Matcher": {"HttpCode": "200"},
            "TargetGroupAttributes": Match.array_with(
                [{"Key": "deregistration_delay.timeout_seconds", "Value": "30"}]
            ),
        },
    )
    dev.template.has_resource_properties(
        "AWS::ECS::Service",
        {
            "LoadBalancers": [
                {"ContainerName": "web", "ContainerPort": 8000, "TargetGroupArn": Match.any_value()}
            ],
            "HealthCheckGracePeriodSeconds": 60,
        },
    )


def test_web_service_rolls_back_failed_deployments(dev_insights: Synth) -> None:
    dev_insights.template.has_resource_properties(
        "AWS::ECS::Service",
        {
            "LaunchType": "FARGATE",
            "LoadBalancers": Match.array_with([Match.object_like({"ContainerName": "web"})]),
            "DesiredCount": Match.absent(),  # autoscaling owns it
            "DeploymentConfiguration": {
                "DeploymentCircuitBreaker": {"Enable": True, "Rollback": True},
                "MaximumPercent": 200,
                "MinimumHealthyPercent": 100,
            },
        },
    )


def test_web_container_listens_on_8000_with_its_environment(dev: Synth) -> None:
    web = container(dev, "web")
    assert web["PortMappings"] == [{"ContainerPort": 8000, "Protocol": "tcp"}]
    assert web["HealthCheck"]["Command"] == ["CMD", "web-healthcheck"]
    assert web["LogConfiguration"]["LogDriver"] == "awslogs"
    env = container_env(dev, "web")
    assert env["WEB_BIND"] == "0.0.0.0:8000"
    assert env["AWS_REGION"] == {"Ref": "AWS::Region"}
    assert env["LOG_LEVEL"] == "INFO"
    assert "AWS_ENDPOINT_URL" not in env
    # The worker's, but the one queue it consumes.
    assert set(env) - {"WEB_BIND"} == set(container_env(dev, "worker")) - {"WORKER_QUEUE"}


def test_web_scales_on_cpu(dev: Synth, prod: Synth) -> None:
    for synth in (dev, prod):
        counts = synth.stack.config.web_counts
        target_id, target = scalable_target_of(synth, "web")
        assert target["Properties"]["MinCapacity"] == counts.minimum
        assert target["Properties"]["MaxCapacity"] == counts.maximum
        assert target["Properties"]["ScalableDimension"] == "ecs:service:DesiredCount"
        synth.template.has_resource_properties(
            "AWS::ApplicationAutoScaling::ScalingPolicy",
            {
                "ScalingTargetId": {"Ref": target_id},
                "PolicyType": "TargetTrackingScaling",
                "TargetTrackingScalingPolicyConfiguration": Match.object_like(
                    {
                        "PredefinedMetricSpecification": {
                            "PredefinedMetricType": "ECSServiceAverageCPUUtilization"
                        },
                        "TargetValue": synth.stack.config.web_cpu_target_percent,
                    }
                ),
            },
        )


def test_prod_load_balancer_has_deletion_protection(dev: Synth, prod: Synth) -> None:
    for synth, enabled in ((dev, "false"), (prod, "true")):
        synth.template.has_resource_properties(
            "AWS::ElasticLoadBalancingV2::LoadBalancer",
            {
                "LoadBalancerAttributes": Match.array_with(
                    [{"Key": "deletion_protection.enabled", "Value": enabled}]
                )
            },
        )


def test_with_a_certificate_the_load_balancer_serves_https_and_redirects_http(
    dev_https: Synth,
) -> None:
    target_group = dev_https.template.find_resources("AWS::ElasticLoadBalancingV2::TargetGroup")
    dev_https.template.has_resource_properties(
        "AWS::ElasticLoadBalancingV2::Listener",
        {
            "Port": 443,
            "Protocol": "HTTPS",
            "Certificates": [{"CertificateArn": CERTIFICATE_ARN}],
            "SslPolicy": "ELBSecurityPolicy-TLS13-1-2-2021-06",
            "DefaultActions": [{"Type": "forward", "TargetGroupArn": ref_to(target_group)}],
        },
    )
    dev_https.template.has_resource_properties(
        "AWS::ElasticLoadBalancingV2::Listener",
        {
            "Port": 80,
            "Protocol": "HTTP",
            "DefaultActions": [
                {
                    "Type": "redirect",
                    "RedirectConfig": Match.object_like(
                        {"Protocol": "HTTPS", "Port": "443", "StatusCode": "HTTP_301"}
                    ),
                }
            ],
        },
    )
    dev_https.template.resource_count_is("AWS::ElasticLoadBalancingV2::Listener", 2)
    (alb_id,) = dev_https.resources("AWS::ElasticLoadBalancingV2::LoadBalancer")
    assert dev_https.json["Outputs"]["ServiceUrl"]["Value"] == {
        "Fn::Join": ["", ["https://", {"Fn::GetAtt": [alb_id, "DNSName"]}]]
    }


def test_without_a_certificate_there_is_one_plain_http_listener(dev: Synth) -> None:
    dev.template.resource_count_is("AWS::ElasticLoadBalancingV2::Listener", 1)
    listeners = dev.resources("AWS::ElasticLoadBalancingV2::Listener")
    assert [listener["Properties"]["Protocol"] for listener in listeners.values()] == ["HTTP"]


def acknowledged_on(construct: IConstruct) -> str:
    """The cdk-nag rules acknowledged on `construct` (its metadata, as text)."""
    return " ".join(
        str(entry.data)
        for entry in construct.node.metadata
        if entry.type == "aws:cdk:acknowledged-rules"
    )


def test_with_an_access_logs_bucket_the_load_balancer_logs_under_the_stack_name(
    dev_access_logs: Synth, dev: Synth
) -> None:
    dev_access_logs.template.has_resource_properties(
        "AWS::ElasticLoadBalancingV2::LoadBalancer",
        {
            "LoadBalancerAttributes": Match.array_with(
                [
                    {"Key": "access_logs.s3.enabled", "Value": "true"},
                    {"Key": "access_logs.s3.bucket", "Value": "org-central-alb-logs"},
                    {"Key": "access_logs.s3.prefix", "Value": "taskqueue-dev"},
                ]
            )
        },
    )
    # cdk-nag's ELB2 is satisfied, not acknowledged (synthesis fails on any finding).
    assert "AwsSolutions-ELB2" not in acknowledged_on(dev_access_logs.stack.web.load_balancer)
    assert "AwsSolutions-ELB2" in acknowledged_on(dev.stack.web.load_balancer)


def test_without_an_access_logs_bucket_there_are_no_access_logs(dev: Synth) -> None:
    (alb,) = dev.resources("AWS::ElasticLoadBalancingV2::LoadBalancer").values()
    keys = {attribute["Key"] for attribute in alb["Properties"]["LoadBalancerAttributes"]}
    assert "access_logs.s3.enabled" not in keys


def test_gunicorn_keeps_idle_connections_open_longer_than_the_load_balancer(
    dev: Synth, tmp_path: Path
) -> None:
    """The ALB must close an idle connection first: it sends a request on a connection the
    target has closed as a 502 (ALB user guide, "Connection idle timeout")."""
    _, load_balancer = only(dev.resources("AWS::ElasticLoadBalancingV2::LoadBalancer"))
    attributes = {
        a["Key"]: a["Value"] for a in load_balancer["Properties"]["LoadBalancerAttributes"]
    }
    idle_timeout = int(attributes["idle_timeout.timeout_seconds"])
    assert idle_timeout == dev.stack.config.runtime.load_balancer_idle_timeout == 60
    # gunicorn's config as the container loads it, from the container's environment.
    env = {k: resolved(v) for k, v in container_env(dev, "web").items()}
    keepalive = subprocess.run(
        [sys.executable, "-c", "import web_service.gunicorn_conf as c; print(c.keepalive)"],
        env={"PATH": os.environ["PATH"], "HOME": str(tmp_path), **env},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    assert int(keepalive) > idle_timeout


def test_devs_web_runs_on_fargate_spot_and_prods_on_fargate(dev: Synth, prod: Synth) -> None:
    """webCapacity: dev's one web task on Spot, after the cluster offers the providers."""
    _, web = service_for(dev, "web")
    assert "LaunchType" not in web["Properties"]
    assert web["Properties"]["CapacityProviderStrategy"] == [
        {"CapacityProvider": "FARGATE_SPOT", "Weight": 1}
    ]
    (association,) = dev.resources("AWS::ECS::ClusterCapacityProviderAssociations")
    assert association in web["DependsOn"]
    # The same rollback and counts as before: only the capacity differs.
    assert web["Properties"]["DeploymentConfiguration"]["DeploymentCircuitBreaker"] == {
        "Enable": True,
        "Rollback": True,
    }
    _, prod_web = service_for(prod, "web")
    assert prod_web["Properties"]["LaunchType"] == "FARGATE"
    assert "CapacityProviderStrategy" not in prod_web["Properties"]
