"""The monthly cost of a template at idle: its services at their minimum counts, and each
resource that bills by the hour or the month, one line per kind."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from taskqueue.settings import Settings

from tools.cost import template as tpl
from tools.cost.bench_figures import BenchFigures
from tools.cost.per_task import index_count, request_usd
from tools.cost.prices import PriceBook
from tools.cost.template import Service, Template

MB = 1e-3
"""GB in a MB."""
DAYS_PER_MONTH_STORED = 30.0


@dataclass(frozen=True)
class Line:
    """One item of the bill: what it is, how it is counted, dollars a month."""

    item: str
    detail: str
    usd: float


@dataclass(frozen=True)
class Estimate:
    """A template's idle lines, and the types each line prices."""

    template: Template
    book: PriceBook
    bench: BenchFigures
    lines: list[Line]

    @property
    def total(self) -> float:
        """All lines."""
        return sum(line.usd for line in self.lines)


def _money(usd: float) -> str:
    return f"${usd:,.4f}".rstrip("0").rstrip(".") if usd < 0.1 else f"${usd:,.2f}"


def task_hour_usd(service: Service, book: PriceBook) -> float:
    """Dollars an hour for one on-demand task of `service`."""
    arch = "arm" if service.arm64 else "x86"
    return service.vcpu * book.usd(f"fargate_{arch}_vcpu_hour") + service.memory_gb * book.usd(
        f"fargate_{arch}_gb_hour"
    )


def _tasks(t: Template, book: PriceBook, hours: float) -> list[Line]:
    lines = []
    spot_factor = 1 - book.usd("fargate_spot_discount")
    for service in tpl.services(t):
        hourly = task_hour_usd(service, book)
        size = (
            f"{service.vcpu:g} vCPU/{service.memory_gb:g} GB {'ARM64' if service.arm64 else 'x86'}"
        )
        count = f"{service.minimum} at its minimum"
        if service.spot_tasks:
            count += f" ({service.spot_tasks:g} on Spot)"
        usd = (service.on_demand_tasks + service.spot_tasks * spot_factor) * hourly * hours
        further = hourly * hours * (1 - service.spot_share * book.usd("fargate_spot_discount"))
        if service.public_ip:
            further += hours * book.usd("public_ipv4_hour")
        detail = f"{count} x {size}; +{_money(further)} a further task"
        lines.append(Line(f"Fargate: {service.name}", detail, usd))
    return lines


def _load_balancers(t: Template, book: PriceBook, hours: float) -> list[Line]:
    lines = []
    for balancer in tpl.load_balancers(t):
        lcu = max(balancer.reserved_lcu, book.assumed("alb_idle_lcu"))
        usd = hours * (book.usd("alb_hour") + lcu * book.usd("alb_lcu_hour"))
        detail = f"{hours:g} h x {_money(book.usd('alb_hour'))}"
        detail += f" + {lcu:g} LCU reserved" if lcu else " (no LCU used at idle)"
        lines.append(Line("Application Load Balancer", detail, usd))
    return lines


def _public_addresses(t: Template, book: PriceBook, hours: float) -> list[Line]:
    parts = {
        "load balancer": sum(lb.azs for lb in tpl.load_balancers(t) if lb.internet_facing),
        "Elastic IP (NAT)": len(t.of_type("AWS::EC2::EIP")),
        **{f"{s.name} task": s.minimum for s in tpl.services(t) if s.public_ip and s.minimum},
    }
    count = sum(parts.values())
    if not count:
        return []
    detail = ", ".join(f"{n} {what}" for what, n in parts.items() if n)
    return [Line("Public IPv4 addresses", detail, count * hours * book.usd("public_ipv4_hour"))]


def _nat(t: Template, book: PriceBook, hours: float) -> list[Line]:
    count = len(t.of_type("AWS::EC2::NatGateway"))
    if not count:
        return []
    detail = f"{count} x {hours:g} h (+ {_money(book.usd('nat_gateway_gb'))}/GB processed)"
    return [Line("NAT gateways", detail, count * hours * book.usd("nat_gateway_hour"))]


def _endpoints(t: Template, book: PriceBook, hours: float) -> list[Line]:
    endpoint_azs = tpl.interface_endpoint_azs(t)
    if not endpoint_azs:
        return []
    detail = f"{endpoint_azs} endpoint-AZs (gateway endpoints free)"
    return [
        Line(
            "Interface endpoints",
            detail,
            endpoint_azs * hours * book.usd("interface_endpoint_az_hour"),
        )
    ]


def _kms(t: Template, book: PriceBook, hours: float) -> list[Line]:
    keys = len(t.of_type("AWS::KMS::Key"))
    if not keys:
        return []
    return [Line("KMS keys", f"{keys} key(s), first year", keys * book.usd("kms_key_month"))]


def _insights(t: Template, book: PriceBook, hours: float) -> list[Line]:
    if not tpl.insights_enabled(t):
        return []
    running = [s for s in tpl.services(t) if s.minimum]
    if not running:
        return [Line("Container Insights", "no task runs: nothing published", 0.0)]
    metrics = book.assumed("container_insights_cluster_metrics") + len(running) * (
        book.assumed("container_insights_service_metrics")
        + book.assumed("container_insights_family_metrics")
    )
    tasks = sum(s.minimum for s in running)
    log_gb = tasks * hours * 60 * book.assumed("container_insights_log_bytes_per_task_minute") / 1e9
    usd = metrics * book.usd("custom_metric_month") + log_gb * book.usd("logs_ingest_gb")
    detail = f"{metrics:g} metrics ({len(running)} service(s) running) + {log_gb:.2f} GB of events"
    return [Line("Container Insights", detail, usd)]


def _alarms(t: Template, book: PriceBook, hours: float) -> list[Line]:
    alarms = [tpl.alarm_metrics(a) for a in t.of_type("AWS::CloudWatch::Alarm").values()]
    scaling = list(tpl.target_tracking_alarms(t))
    metrics = sum(alarms) + sum(scaling)
    if not metrics:
        return []
    detail = f"{len(alarms)} alarms + {len(scaling)} of target tracking: {metrics} metrics"
    return [Line("CloudWatch alarms", detail, metrics * book.usd("alarm_metric_month"))]


def _dashboards(t: Template, book: PriceBook, hours: float) -> list[Line]:
    count = len(t.of_type("AWS::CloudWatch::Dashboard"))
    if not count:
        return []
    return [Line("CloudWatch dashboards", f"{count}", count * book.usd("dashboard_month"))]


def _retention_months(t: Template) -> float:
    days = [
        float(g.get("RetentionInDays", 3653)) for g in t.of_type("AWS::Logs::LogGroup").values()
    ]
    return max(days, default=0.0) / DAYS_PER_MONTH_STORED


def _logs(t: Template, book: PriceBook, hours: float) -> list[Line]:
    """The web's access lines for the health checks, and the flow log's REJECT records."""
    web = [s for s in tpl.services(t) if s.name == "web"]
    checks = sum(lb.health_checks_per_hour * lb.azs for lb in tpl.load_balancers(t))
    per_task = checks + tpl.container_checks_per_hour(t, "web")
    access_gb = (
        sum(s.minimum for s in web) * per_task * hours * book.assumed("access_log_line_bytes") / 1e9
    )
    addresses = sum(lb.azs for lb in tpl.load_balancers(t) if lb.internet_facing)
    addresses += len(t.of_type("AWS::EC2::EIP")) + sum(
        s.minimum for s in tpl.services(t) if s.public_ip
    )
    flow_gb = 0.0
    if t.of_type("AWS::EC2::FlowLog"):
        flow_gb = addresses * book.assumed("rejected_flow_log_mb_per_public_address_month") * MB
    gb = access_gb + flow_gb
    stored_gb = gb * _retention_months(t)
    usd = gb * book.usd("logs_ingest_gb") + stored_gb * book.usd("logs_store_gb_month")
    detail = (
        f"{access_gb:.2f} GB health-check lines + {flow_gb:.2f} GB flow log a month, "
        f"{stored_gb:.2f} GB kept"
    )
    return [Line("CloudWatch Logs", detail, usd)]


def _waf(t: Template, book: PriceBook, hours: float) -> list[Line]:
    lines = []
    for acl in t.of_type("AWS::WAFv2::WebACL").values():
        rules = len(acl.get("Rules", []))
        usd = book.usd("waf_web_acl_month") + rules * book.usd("waf_rule_month")
        per_million = _money(book.usd("waf_million_requests"))
        detail = f"1 web ACL + {rules} rule(s) (+ {per_million}/million requests)"
        lines.append(Line("AWS WAF", detail, usd))
    return lines


def _secrets(t: Template, book: PriceBook, hours: float) -> list[Line]:
    count = len(t.of_type("AWS::SecretsManager::Secret"))
    if not count:
        return []
    return [Line("Secrets Manager", f"{count} secret(s)", count * book.usd("secret_month"))]


def _worker_requests(t: Template, book: PriceBook, bench: BenchFigures, hours: float) -> Line:
    """A running worker's long polls (the bench's idle figure) and presence writes."""
    workers = sum(s.minimum for s in tpl.services(t) if s.name.startswith("worker"))
    polls = (bench.idle_requests_per_hour or 0.0) * workers * hours
    interval = float(
        tpl.container_env(t, "worker").get("WORKER_PRESENCE_INTERVAL")
        or Settings.model_fields["worker_presence_interval"].default
    )
    writes = 3600 / interval * workers * hours
    indexes = index_count(t)
    usd = polls * (request_usd("sqs:ReceiveMessage", book, indexes) or 0.0)
    usd += writes * (request_usd("dynamodb:UpdateItem", book, indexes) or 0.0)
    if bench.idle_requests_per_hour is None:
        poll_text = "polls not priced (no idle figure in the bench's results)"
    else:
        poll_text = f"{polls:,.0f} receives"
    detail = f"{workers} worker task(s): {poll_text}, {writes:,.0f} presence writes"
    return Line("SQS + DynamoDB requests at idle", detail, usd)


def _storage(t: Template, book: PriceBook) -> list[Line]:
    lines = []
    for table in t.of_type("AWS::DynamoDB::Table").values():
        if table.get("BillingMode") != "PAY_PER_REQUEST":
            raise tpl.TemplateError("a provisioned-capacity table is not priced")
        gb = book.assumed("results_table_gb")
        usd = gb * book.usd("dynamodb_gb_month")
        pitr = table.get("PointInTimeRecoverySpecification", {}).get("PointInTimeRecoveryEnabled")
        if pitr:
            usd += gb * book.usd("dynamodb_pitr_gb_month")
        detail = f"{gb:g} GB on demand" + (" + point-in-time recovery" if pitr else "")
        lines.append(Line("DynamoDB storage", detail, usd))
    return lines


def _schedules(t: Template, book: PriceBook, hours: float) -> list[Line]:
    fires = sum(tpl.fires_per_month(e, hours) for e in tpl.enabled_schedules(t))
    if not fires:
        return []
    invocations = fires * book.usd("scheduler_million_invocations") / 1e6
    metrics = len(tpl.enabled_schedules(t)) * book.assumed("emf_metrics_per_scheduled_task")
    usd = invocations + metrics * book.usd("custom_metric_month")
    detail = f"{fires:,.0f} fires, their tasks' {metrics:g} metrics (requests: per task below)"
    return [Line("Schedules", detail, usd)]


HOURLY: tuple[Callable[[Template, PriceBook, float], list[Line]], ...] = (
    _load_balancers,
    _public_addresses,
    _tasks,
    _nat,
    _endpoints,
    _insights,
    _alarms,
    _dashboards,
    _kms,
    _logs,
    _waf,
    _secrets,
    _schedules,
)

PRICED = {
    "AWS::ElasticLoadBalancingV2::LoadBalancer": "load balancer hours, its public addresses",
    "AWS::ECS::Service": "task vCPU and memory at the minimum count, public addresses",
    "AWS::EC2::EIP": "public addresses",
    "AWS::EC2::NatGateway": "NAT gateway hours",
    "AWS::EC2::VPCEndpoint": "interface endpoint hours per AZ (gateway ones free)",
    "AWS::ECS::Cluster": "Container Insights' metrics and events",
    "AWS::CloudWatch::Alarm": "alarm metrics",
    "AWS::ApplicationAutoScaling::ScalingPolicy": "the alarms of target tracking",
    "AWS::CloudWatch::Dashboard": "dashboards",
    "AWS::KMS::Key": "key months",
    "AWS::Logs::LogGroup": "ingestion and storage",
    "AWS::EC2::FlowLog": "its REJECT records' ingestion",
    "AWS::WAFv2::WebACL": "web ACL and rules",
    "AWS::SecretsManager::Secret": "secret months",
    "AWS::SQS::Queue": "requests (idle polls, per task)",
    "AWS::DynamoDB::Table": "storage, point-in-time recovery, requests",
    "AWS::Scheduler::Schedule": "invocations and their tasks' metrics",
}
"""Each resource type a line prices, and how: with prices.json's `free`, every type a
template may hold (`unpriced` lists the others)."""


def unpriced(t: Template, book: PriceBook) -> list[str]:
    """The template's resource types neither priced here nor listed free in prices.json."""
    return sorted(t.types - PRICED.keys() - book.free.keys())


def estimate(t: Template, book: PriceBook, bench: BenchFigures) -> Estimate:
    """The template's monthly cost at idle, one line per kind of resource."""
    hours = book.hours_per_month
    lines = [line for price in HOURLY for line in price(t, book, hours)]
    lines.append(_worker_requests(t, book, bench, hours))
    lines += _storage(t, book)
    return Estimate(t, book, bench, lines)
