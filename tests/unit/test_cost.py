"""tools.cost on small hand-written templates: each line counts what the template makes at
the prices of prices.json, an unknown resource type stops it, the bench's figures price a task."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tools.cost import __main__ as cli
from tools.cost import bench_figures, idle, per_task, prices, template
from tools.cost.template import Template, TemplateError

BOOK = prices.load()
HOURS = BOOK.hours_per_month


def task_definition(cpu: int, memory: int, name: str, arch: str = "X86_64") -> dict[str, Any]:
    return {
        "Type": "AWS::ECS::TaskDefinition",
        "Properties": {
            "Cpu": str(cpu),
            "Memory": str(memory),
            "RequiresCompatibilities": ["FARGATE"],
            "RuntimePlatform": {"CpuArchitecture": arch, "OperatingSystemFamily": "LINUX"},
            "ContainerDefinitions": [
                {"Name": name, "HealthCheck": {"Interval": 30}, "Environment": []}
            ],
        },
    }


def service(definition: str, public_ip: bool, **extra: Any) -> dict[str, Any]:
    return {
        "Type": "AWS::ECS::Service",
        "Properties": {
            "TaskDefinition": {"Ref": definition},
            "NetworkConfiguration": {
                "AwsvpcConfiguration": {"AssignPublicIp": "ENABLED" if public_ip else "DISABLED"}
            },
            **extra,
        },
    }


def scalable_target(service_id: str, minimum: int) -> dict[str, Any]:
    return {
        "Type": "AWS::ApplicationAutoScaling::ScalableTarget",
        "Properties": {
            "MinCapacity": minimum,
            "MaxCapacity": 10,
            "ScalableDimension": "ecs:service:DesiredCount",
            "ResourceId": {
                "Fn::Join": [
                    "",
                    ["service/", {"Ref": "Cluster"}, "/", {"Fn::GetAtt": [service_id, "Name"]}],
                ]
            },
        },
    }


def small_stack(**more: dict[str, Any]) -> Template:
    """A web service (1 task, a public address) behind a load balancer in 2 AZs, a worker
    service at 0, a NAT gateway with its address, a key, two alarms, a target-tracking policy."""
    resources: dict[str, Any] = {
        "Cluster": {
            "Type": "AWS::ECS::Cluster",
            "Properties": {"ClusterSettings": [{"Name": "containerInsights", "Value": "enabled"}]},
        },
        "Lb": {
            "Type": "AWS::ElasticLoadBalancingV2::LoadBalancer",
            "Properties": {"Type": "application", "Subnets": [{"Ref": "A"}, {"Ref": "B"}]},
        },
        "Tg": {
            "Type": "AWS::ElasticLoadBalancingV2::TargetGroup",
            "Properties": {"HealthCheckIntervalSeconds": 15},
        },
        "WebDef": task_definition(256, 512, "web"),
        "Web": service("WebDef", public_ip=True, LaunchType="FARGATE"),
        "WebTarget": scalable_target("Web", 1),
        "WorkerDef": task_definition(512, 1024, "worker"),
        "Worker": service("WorkerDef", public_ip=True, LaunchType="FARGATE"),
        "WorkerTarget": scalable_target("Worker", 0),
        "Eip": {"Type": "AWS::EC2::EIP", "Properties": {}},
        "Nat": {"Type": "AWS::EC2::NatGateway", "Properties": {}},
        "Key": {"Type": "AWS::KMS::Key", "Properties": {}},
        "Simple": {
            "Type": "AWS::CloudWatch::Alarm",
            "Properties": {"MetricName": "x", "Period": 60},
        },
        "Math": {
            "Type": "AWS::CloudWatch::Alarm",
            "Properties": {
                "Metrics": [
                    {"Id": "e", "Expression": "a+b"},
                    {"Id": "a", "MetricStat": {}},
                    {"Id": "b", "MetricStat": {}},
                ]
            },
        },
        "Cpu": {
            "Type": "AWS::ApplicationAutoScaling::ScalingPolicy",
            "Properties": {
                "PolicyType": "TargetTrackingScaling",
                "TargetTrackingScalingPolicyConfiguration": {
                    "PredefinedMetricSpecification": {
                        "PredefinedMetricType": "ECSServiceAverageCPUUtilization"
                    }
                },
            },
        },
        **more,
    }
    return Template("small", {"Resources": resources})


NO_BENCH = bench_figures.BenchFigures("none", None, None, None, {}, {}, ["none"])


def line(stack: Template, item: str) -> idle.Line:
    (found,) = [each for each in idle.estimate(stack, BOOK, NO_BENCH).lines if each.item == item]
    return found


def test_the_load_balancer_bills_its_hours_and_no_lcu_at_idle() -> None:
    assert line(small_stack(), "Application Load Balancer").usd == pytest.approx(
        HOURS * BOOK.usd("alb_hour")
    )


def test_reserved_lcus_of_the_template_are_billed_every_hour() -> None:
    stack = small_stack()
    balancer = stack.resources["Lb"]["Properties"]
    balancer["MinimumLoadBalancerCapacity"] = {"CapacityUnits": 100}
    assert line(stack, "Application Load Balancer").usd == pytest.approx(
        HOURS * (BOOK.usd("alb_hour") + 100 * BOOK.usd("alb_lcu_hour"))
    )


def test_public_addresses_count_the_load_balancers_azs_the_eip_and_running_public_tasks() -> None:
    found = line(small_stack(), "Public IPv4 addresses")
    # 2 of the load balancer, the NAT's Elastic IP, the web task (the worker runs none at 0).
    assert found.usd == pytest.approx(4 * HOURS * BOOK.usd("public_ipv4_hour"))
    assert "2 load balancer" in found.detail and "worker" not in found.detail


def test_a_service_costs_its_vcpu_and_memory_at_its_minimum_count() -> None:
    x86 = 0.25 * BOOK.usd("fargate_x86_vcpu_hour") + 0.5 * BOOK.usd("fargate_x86_gb_hour")
    assert line(small_stack(), "Fargate: web").usd == pytest.approx(HOURS * x86)
    assert line(small_stack(), "Fargate: worker").usd == 0


def test_arm64_tasks_cost_the_arm_price() -> None:
    stack = small_stack(WebDef=task_definition(256, 512, "web", arch="ARM64"))
    arm = 0.25 * BOOK.usd("fargate_arm_vcpu_hour") + 0.5 * BOOK.usd("fargate_arm_gb_hour")
    assert line(stack, "Fargate: web").usd == pytest.approx(HOURS * arm)


def test_spot_takes_its_weight_of_the_tasks_beyond_the_on_demand_base() -> None:
    strategy = [
        {"CapacityProvider": "FARGATE", "Base": 1, "Weight": 1},
        {"CapacityProvider": "FARGATE_SPOT", "Weight": 4},
    ]
    stack = small_stack(
        Worker=service("WorkerDef", public_ip=False, CapacityProviderStrategy=strategy),
        WorkerTarget=scalable_target("Worker", 3),
    )
    hourly = 0.5 * BOOK.usd("fargate_x86_vcpu_hour") + 1 * BOOK.usd("fargate_x86_gb_hour")
    spot = 2 * 4 / 5  # of the 2 tasks beyond the base, 4 in 5 on Spot
    expected = (3 - spot + spot * (1 - BOOK.usd("fargate_spot_discount"))) * hourly * HOURS
    assert line(stack, "Fargate: worker").usd == pytest.approx(expected)


def test_nat_gateways_and_interface_endpoints_bill_by_the_hour_and_the_az() -> None:
    endpoint = {
        "Type": "AWS::EC2::VPCEndpoint",
        "Properties": {"VpcEndpointType": "Interface", "SubnetIds": [{"Ref": "A"}, {"Ref": "B"}]},
    }
    gateway = {"Type": "AWS::EC2::VPCEndpoint", "Properties": {"VpcEndpointType": "Gateway"}}
    stack = small_stack(Sqs=endpoint, Logs=endpoint, S3=gateway)
    assert line(stack, "NAT gateways").usd == pytest.approx(HOURS * BOOK.usd("nat_gateway_hour"))
    assert line(stack, "Interface endpoints").usd == pytest.approx(
        4 * HOURS * BOOK.usd("interface_endpoint_az_hour")
    )


def test_alarms_bill_each_metric_and_target_tracking_adds_two_alarms() -> None:
    # 1 + 2 metrics in the template, 2 alarms of one metric each for the CPU target.
    assert line(small_stack(), "CloudWatch alarms").usd == pytest.approx(
        5 * BOOK.usd("alarm_metric_month")
    )


def test_a_high_resolution_alarm_is_refused() -> None:
    fast = {"Type": "AWS::CloudWatch::Alarm", "Properties": {"MetricName": "x", "Period": 10}}
    with pytest.raises(TemplateError, match="high-resolution"):
        idle.estimate(small_stack(Fast=fast), BOOK, NO_BENCH)


def test_container_insights_publishes_for_the_cluster_and_each_running_service() -> None:
    running = line(small_stack(), "Container Insights")
    metrics = sum(
        BOOK.assumed(f"container_insights_{level}_metrics")
        for level in ("cluster", "service", "family")
    )
    assert running.usd > metrics * BOOK.usd("custom_metric_month")
    assert f"{metrics:g} metrics" in running.detail
    idle_stack = small_stack(WebTarget=scalable_target("Web", 0))
    assert line(idle_stack, "Container Insights").usd == 0


def test_enhanced_container_insights_is_refused() -> None:
    cluster = {
        "Type": "AWS::ECS::Cluster",
        "Properties": {"ClusterSettings": [{"Name": "containerInsights", "Value": "enhanced"}]},
    }
    with pytest.raises(TemplateError, match="enhanced"):
        idle.estimate(small_stack(Cluster=cluster), BOOK, NO_BENCH)


def test_a_web_acl_bills_itself_and_each_rule() -> None:
    acl = {"Type": "AWS::WAFv2::WebACL", "Properties": {"Rules": [{"Name": "a"}, {"Name": "b"}]}}
    assert line(small_stack(Acl=acl), "AWS WAF").usd == pytest.approx(
        BOOK.usd("waf_web_acl_month") + 2 * BOOK.usd("waf_rule_month")
    )


@pytest.mark.parametrize(
    ("expression", "per_day"),
    [
        ("rate(1 hour)", 24),
        ("rate(5 minutes)", 288),
        ("cron(0/5 * * * ? *)", 288),
        ("cron(7 * * * ? *)", 24),
    ],
)
def test_schedules_fire_as_their_expression_says(expression: str, per_day: float) -> None:
    assert template.fires_per_month(expression, HOURS) == pytest.approx(per_day * HOURS / 24)


def test_a_schedule_expression_it_cannot_count_is_refused_by_name() -> None:
    with pytest.raises(TemplateError, match=r"cron\(0 12 \* \* \? \*\)"):
        template.fires_per_month("cron(0 12 * * ? *)", HOURS)


def test_a_paused_schedule_costs_nothing() -> None:
    def schedule(state: str) -> dict[str, Any]:
        props = {"ScheduleExpression": "rate(5 minutes)", "State": state}
        return {"Type": "AWS::Scheduler::Schedule", "Properties": props}

    lines = idle.estimate(small_stack(Paused=schedule("DISABLED")), BOOK, NO_BENCH).lines
    assert "Schedules" not in {each.item for each in lines}
    assert line(small_stack(On=schedule("ENABLED")), "Schedules").usd > 0


def test_idle_workers_cost_their_polls_and_presence_writes() -> None:
    figures = bench_figures.BenchFigures("b", None, 180.0, None, {}, {}, [])
    stack = small_stack(WorkerTarget=scalable_target("Worker", 1))
    (found,) = [
        each
        for each in idle.estimate(stack, BOOK, figures).lines
        if each.item.startswith("SQS + DynamoDB")
    ]
    polls = 180 * HOURS * BOOK.usd("sqs_million_requests") / 1e6
    writes = 3600 / 15 * HOURS * BOOK.usd("dynamodb_million_wru") / 1e6  # no index here
    assert found.usd == pytest.approx(polls + writes)


def test_every_line_of_the_small_stack_sums_to_the_total() -> None:
    estimate = idle.estimate(small_stack(), BOOK, NO_BENCH)
    assert estimate.total == pytest.approx(sum(each.usd for each in estimate.lines))
    assert estimate.total > 0


def write_template(tmp_path: Path, stack: Template) -> Path:
    path = tmp_path / "small.template.json"
    path.write_text(json.dumps(stack.body))
    return path


def test_a_resource_type_neither_priced_nor_free_stops_the_tool_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    database = {"Type": "AWS::RDS::DBInstance", "Properties": {}}
    path = write_template(tmp_path, small_stack(Db=database))
    assert cli.main([str(path), "--bench", str(tmp_path / "none.json")]) == 2
    assert "no price for AWS::RDS::DBInstance" in capsys.readouterr().err


def test_the_tool_prints_each_line_and_says_what_the_bench_lacks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_template(tmp_path, small_stack())
    assert cli.main([str(path), "--bench", str(tmp_path / "none.json")]) == 0
    out = capsys.readouterr().out
    assert "Application Load Balancer" in out and "Idle total" in out
    assert "Per million short tasks: not computed" in out
    assert f"{tmp_path / 'none.json'} (no bench run)" in out


def test_a_million_tasks_cost_each_measured_request_at_its_price() -> None:
    figures = bench_figures.BenchFigures(
        "b",
        None,
        None,
        3.85,
        {"dynamodb:UpdateItem": 2.0, "sqs:DeleteMessage": 1.0, "sqs:ReceiveMessage": 0.85},
        {},
        [],
    )
    table = {
        "Type": "AWS::DynamoDB::Table",
        "Properties": {"BillingMode": "PAY_PER_REQUEST", "GlobalSecondaryIndexes": [{}]},
    }
    million = per_task.per_million(figures, BOOK, small_stack(Table=table))
    assert million is not None
    wru = BOOK.usd("dynamodb_million_wru") * (1 + BOOK.assumed("index_writes_per_write"))
    assert million.parts["dynamodb:UpdateItem"] == pytest.approx(2 * wru)
    assert million.parts["sqs:ReceiveMessage"] == pytest.approx(
        0.85 * BOOK.usd("sqs_million_requests")
    )
    assert million.unpriced == []


def test_a_request_without_a_price_is_listed_not_guessed() -> None:
    figures = bench_figures.BenchFigures("b", None, None, 1.0, {"s3:GetObject": 1.0}, {}, [])
    million = per_task.per_million(figures, BOOK, small_stack())
    assert million is not None and million.unpriced == ["s3:GetObject"]
    assert "s3:GetObject" not in million.parts


def test_the_bench_figures_name_every_key_they_lack(tmp_path: Path) -> None:
    results = tmp_path / "results.json"
    results.write_text(json.dumps({"requests_per_short_task": 3.0, "details": {}}))
    figures = bench_figures.load(results)
    assert figures.requests_per_task == 3.0
    assert figures.missing == [
        "idle_requests_per_hour",
        "details.endpoint_requests_per_task",
        "details.web_requests_per_task",
    ]
    assert per_task.per_million(figures, BOOK, small_stack()) is None


def test_every_price_names_its_aws_page_and_where_it_was_seen() -> None:
    for name, price in BOOK.prices.items():
        assert price.source.startswith("https://aws.amazon.com/"), name
        assert price.seen_in and price.usd >= 0, name
    assert BOOK.region == "us-east-1"


def test_behind_a_web_acl_each_task_pays_the_inspection_of_its_post() -> None:
    figures = bench_figures.BenchFigures("b", None, None, 1.0, {"sqs:DeleteMessage": 1.0}, {}, [])
    acl = {"Type": "AWS::WAFv2::WebACL", "Properties": {"Rules": []}}
    plain = per_task.per_million(figures, BOOK, small_stack())
    guarded = per_task.per_million(figures, BOOK, small_stack(Acl=acl))
    assert plain is not None and guarded is not None
    assert guarded.total - plain.total == pytest.approx(BOOK.usd("waf_million_requests"))
