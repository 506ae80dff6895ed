"""Synthesized stacks shared by the infra tests: each variant is synthesized once per session.

The `App` gets the context of cdk.json (as the CDK CLI would pass it) plus the overrides of
the variant, and is composed by `app.build` exactly as `cdk synth` does, cdk-nag included.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, CfnElement
from aws_cdk.assertions import Match, Template
from pydantic.alias_generators import to_camel
from taskqueue.catalogue.registry import DEFAULT_QUEUE, offered
from taskqueue.settings import Settings

import app as cdk_app
from infra.config import RUNTIME_FIELDS
from infra.stack import TaskQueueStack

REPO_ROOT = Path(__file__).resolve().parents[2]
CDK_JSON = REPO_ROOT / "cdk.json"


def cdk_json_context() -> dict[str, Any]:
    """The "context" block of cdk.json."""
    context = json.loads(CDK_JSON.read_text())["context"]
    assert isinstance(context, dict)
    return context


@dataclass(frozen=True)
class Synth:
    """One synthesized variant of the app."""

    app: App
    stack: TaskQueueStack
    template: Template
    template_path: Path

    @property
    def json(self) -> dict[str, Any]:
        data = self.template.to_json()
        assert isinstance(data, dict)
        return data

    def resources(self, resource_type: str) -> dict[str, dict[str, Any]]:
        found = self.template.find_resources(resource_type)
        assert isinstance(found, dict)
        return found


def synthesize(outdir: Path, overrides: Mapping[str, Any]) -> Synth:
    """Synthesize the app with cdk.json's context and `overrides` (as `-c key=value`)."""
    context = {**cdk_json_context(), **overrides}
    app = App(context=context, outdir=str(outdir))
    stack = cdk_app.build(app)
    app.synth()  # runs cdk-nag: raises on any unacknowledged finding
    template_path = outdir / stack.template_file
    template = Template.from_json(json.loads(template_path.read_text()))
    return Synth(app=app, stack=stack, template=template, template_path=template_path)


CERTIFICATE_ARN = "arn:aws:acm:eu-west-1:123456789012:certificate/0a1b2c3d-4e5f-6789"
DATABASE_URL_SECRET = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:taskqueue/db-AbCdEf"
PARTNER_SECRET = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:partner-x1Y2z3"
SMTP_PARAMETER = "arn:aws:ssm:eu-west-1:123456789012:parameter/taskqueue/smtp-password"
SMTP_KEY = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"

# A value other than the runtime's default, for each kind of setting (a text needs its own).
OTHER_TEXT = {"log_level": "DEBUG"}


def another_value(name: str) -> Any:
    """A valid value of the runtime setting `name` other than its default."""
    if name in OTHER_TEXT:
        return OTHER_TEXT[name]
    default = Settings.model_fields[name].default
    if isinstance(default, bool):
        return not default
    if isinstance(default, int | float):
        return default + 1
    raise AssertionError(f"give the runtime setting {name} a test value in OTHER_TEXT")


# Every runtime setting a stage may set, each to another value (WEB_WORKERS to 8), as `-c` gives
# them: text.
RUNTIME_VALUES = {name: another_value(name) for name in RUNTIME_FIELDS} | {"web_workers": 8}

DEV_INSIGHTS = {"containerInsights": "true", "webCapacity": "FARGATE"}
"""dev with Container Insights and the web on regular Fargate, as dev was before it turned
them off to idle under $40: the workers' target tracking and its wake-up (prod's mode)."""

VARIANTS: dict[str, dict[str, Any]] = {
    "dev": {},
    "dev_insights": DEV_INSIGHTS,
    "prod": {"stage": "prod"},
    "prod_endpoints": {
        "stage": "prod",
        "egress": "endpoints",
        "alarmTopicArn": "arn:aws:sns:eu-west-1:123456789012:taskqueue-alarms",
    },
    # As the CLI passes `-c workerMaxCount=15`: a string (beside dev_insights, whose scaling
    # has no step per task count).
    "dev_worker_max15": {**DEV_INSIGHTS, "workerMaxCount": "15"},
    "dev_arm64": {"cpuArchitecture": "ARM64"},
    "prod_spot_email": {
        "stage": "prod",
        "workerCapacity": "FARGATE_SPOT",
        "alarmEmail": "ops@example.com",
    },
    "dev_https": {"certificateArn": CERTIFICATE_ARN},
    "dev_access_logs": {"accessLogsBucket": "org-central-alb-logs"},
    # The edge options and secrets, as the CLI passes them: JSON text.
    "dev_edge": {
        "certificateArn": CERTIFICATE_ARN,
        "allowedCidrs": '["203.0.113.0/24", "2001:db8::/32"]',
        "rateLimitPerIp": "1000",
        "secrets": json.dumps(
            {
                "DATABASE_URL": DATABASE_URL_SECRET,
                "PARTNER_TOKEN": {"from": f"{PARTNER_SECRET}:token::", "services": ["worker"]},
                "SMTP_PASSWORD": {
                    "from": SMTP_PARAMETER,
                    "services": ["web"],
                    "kmsKey": SMTP_KEY,
                },
            }
        ),
    },
    "dev_concurrency4": {**DEV_INSIGHTS, "workerConcurrency": "4"},
    # Isolated subnets whose tasks read a Secrets Manager secret and an SSM parameter (under
    # a customer-managed key) when they start, with the stack's own alarm topic.
    "prod_endpoints_secrets": {
        "stage": "prod",
        "egress": "endpoints",
        "secrets": json.dumps(
            {
                "DATABASE_URL": DATABASE_URL_SECRET,
                "SMTP_PASSWORD": {"from": SMTP_PARAMETER, "kmsKey": SMTP_KEY},
            }
        ),
    },
    "dev_settings": {to_camel(name): str(value) for name, value in RUNTIME_VALUES.items()},
    # dev as be8f71f shipped it: the queue-report schedule firing.
    "dev_schedules": {"pausedSchedules": "[]"},
}


SECOND_QUEUE = "reports"
"""The second queue of the example configuration (cdk.json's `taskqueue.queueSettings`)."""


@pytest.fixture(scope="session")
def synth_variant(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[[str], Synth]]:
    """Synthesize a named variant on first use, then reuse it for the whole session."""
    cache: dict[str, Synth] = {}

    def get(name: str) -> Synth:
        if name not in cache:
            cache[name] = synthesize(tmp_path_factory.mktemp(f"cdk-{name}"), VARIANTS[name])
        return cache[name]

    yield get


@pytest.fixture(scope="session")
def dev(synth_variant: Callable[[str], Synth]) -> Synth:
    return synth_variant("dev")


@pytest.fixture(scope="session")
def dev_insights(synth_variant: Callable[[str], Synth]) -> Synth:
    return synth_variant("dev_insights")


@pytest.fixture(scope="session")
def prod(synth_variant: Callable[[str], Synth]) -> Synth:
    return synth_variant("prod")


@pytest.fixture(scope="session")
def prod_endpoints(synth_variant: Callable[[str], Synth]) -> Synth:
    return synth_variant("prod_endpoints")


@pytest.fixture(scope="session")
def dev_worker_max15(synth_variant: Callable[[str], Synth]) -> Synth:
    return synth_variant("dev_worker_max15")


@pytest.fixture(scope="session")
def dev_arm64(synth_variant: Callable[[str], Synth]) -> Synth:
    return synth_variant("dev_arm64")


@pytest.fixture(scope="session")
def prod_spot_email(synth_variant: Callable[[str], Synth]) -> Synth:
    return synth_variant("prod_spot_email")


@pytest.fixture(scope="session")
def dev_https(synth_variant: Callable[[str], Synth]) -> Synth:
    return synth_variant("dev_https")


@pytest.fixture(scope="session")
def dev_access_logs(synth_variant: Callable[[str], Synth]) -> Synth:
    return synth_variant("dev_access_logs")


@pytest.fixture(scope="session")
def dev_edge(synth_variant: Callable[[str], Synth]) -> Synth:
    return synth_variant("dev_edge")


@pytest.fixture(scope="session")
def prod_endpoints_secrets(synth_variant: Callable[[str], Synth]) -> Synth:
    return synth_variant("prod_endpoints_secrets")


@pytest.fixture(scope="session")
def dev_concurrency4(synth_variant: Callable[[str], Synth]) -> Synth:
    return synth_variant("dev_concurrency4")


@pytest.fixture(scope="session")
def dev_settings(synth_variant: Callable[[str], Synth]) -> Synth:
    return synth_variant("dev_settings")


@pytest.fixture(scope="session")
def dev_schedules(synth_variant: Callable[[str], Synth]) -> Synth:
    return synth_variant("dev_schedules")


def logical_id(synth: Synth, construct: Any) -> str:
    """The logical id of an L2 construct's CloudFormation resource."""
    element = construct.node.default_child
    assert isinstance(element, CfnElement)
    return synth.stack.get_logical_id(element)


def queue_pair_ids(synth: Synth, queue: str) -> set[str]:
    """The logical ids of the declared queue `queue`'s SQS queue and DLQ."""
    task_queue = synth.stack.queues[queue].task_queue
    return {logical_id(synth, task_queue.queue), logical_id(synth, task_queue.dead_letter_queue)}


def task_queue_pair(synth: Synth, properties: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The default queue's SQS queue and DLQ (as `find_resources` with `properties` finds
    them), without the other queues' or the schedules' dead-letter queue (infra.schedules)."""
    pattern = None if properties is None else {"Properties": properties}
    found: dict[str, Any] = synth.template.find_resources("AWS::SQS::Queue", pattern)
    default = queue_pair_ids(synth, DEFAULT_QUEUE)
    return {key: value for key, value in found.items() if key in default}


def only(found: Mapping[str, Any]) -> tuple[str, Any]:
    """The single (logical id, resource) of a `find_resources` result."""
    assert len(found) == 1, f"expected exactly one resource, found {list(found)}"
    return next(iter(found.items()))


def ref_to(found: Mapping[str, Any]) -> dict[str, str]:
    """A `{"Ref": id}` to the single resource of a `find_resources` result."""
    logical_id, _ = only(found)
    return {"Ref": logical_id}


def get_att(found: Mapping[str, Any], attribute: str) -> dict[str, list[str]]:
    """A `{"Fn::GetAtt": [id, attribute]}` to the single resource found."""
    logical_id, _ = only(found)
    return {"Fn::GetAtt": [logical_id, attribute]}


def container(synth: Synth, name: str) -> dict[str, Any]:
    """The container definition named `name` (its task definition must be unique)."""
    found = synth.template.find_resources(
        "AWS::ECS::TaskDefinition",
        {
            "Properties": {
                "ContainerDefinitions": Match.array_with([Match.object_like({"Name": name})])
            }
        },
    )
    _, task_definition = only(found)
    (definition,) = [
        c for c in task_definition["Properties"]["ContainerDefinitions"] if c["Name"] == name
    ]
    assert isinstance(definition, dict)
    return definition


def container_env(synth: Synth, name: str) -> dict[str, Any]:
    """Environment of one container, as a name -> value mapping."""
    return {item["Name"]: item["Value"] for item in container(synth, name)["Environment"]}


def resolved(value: Any) -> Any:
    """A CloudFormation value with each `Ref` written `<id>` and each `Fn::GetAtt` `<id.Attr>`:
    the text CloudFormation would make of an `Fn::Join`."""
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return str(separator).join(str(resolved(part)) for part in parts)
    if isinstance(value, dict) and "Ref" in value:
        return f"<{value['Ref']}>"
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return "<{}.{}>".format(*value["Fn::GetAtt"])
    return value


def container_settings(synth: Synth, name: str) -> Settings:
    """The runtime settings the container `name` reads from its environment (the values CDK
    resolves at deploy time, such as queue URLs, left to their defaults)."""
    env = container_env(synth, name)
    return Settings.from_environment({k: v for k, v in env.items() if isinstance(v, str)})


def offered_tasks(synth: Synth) -> set[str]:
    """The tasks the deployed worker offers, by its own environment."""
    return set(offered(container_settings(synth, "worker")))


def service_for(synth: Synth, container_name: str) -> tuple[str, dict[str, Any]]:
    """(logical id, resource) of the ECS service whose task runs `container_name`."""
    task_definitions = synth.resources("AWS::ECS::TaskDefinition")
    found = []
    for logical_id, service in synth.resources("AWS::ECS::Service").items():
        task_definition = task_definitions[service["Properties"]["TaskDefinition"]["Ref"]]
        names = {c["Name"] for c in task_definition["Properties"]["ContainerDefinitions"]}
        if container_name in names:
            found.append((logical_id, service))
    assert len(found) == 1, f"expected one service running {container_name}, got {found}"
    return found[0]


def scalable_target_of(synth: Synth, container_name: str) -> tuple[str, dict[str, Any]]:
    """(logical id, resource) of the scalable target of that service's desired count."""
    service_id, _ = service_for(synth, container_name)
    found = [
        (logical_id, target)
        for logical_id, target in synth.resources(
            "AWS::ApplicationAutoScaling::ScalableTarget"
        ).items()
        if {"Fn::GetAtt": [service_id, "Name"]} in target["Properties"]["ResourceId"]["Fn::Join"][1]
    ]
    assert len(found) == 1, found
    return found[0]
