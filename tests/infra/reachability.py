"""Every place an AWS service acts on a resource of the stack, found in the synthesized
template and checked: the resource's policy and its key's let that service in, and the
tasks' subnets reach every service the tasks call.

The walk reads the template, not the constructs: a new alarm, rule target, schedule,
queue, secret or grant is checked without a new test, and a kind of integration it does
not know (an alarm action on a Lambda function, a rule target of a new type) is a problem
to teach it, never a pass. What lives outside the stack (an existing topic, a secret and
its key) cannot be checked from here: each is listed in `outside`, with what it must allow.

What each service sends with its request (the context its conditions see) is from AWS's
documentation: CloudWatch names the alarm (`aws:SourceArn`, knowledge center
"cloudwatch-receive-sns-for-alarm-trigger"), EventBridge the rule, Scheduler the schedule
(its confused-deputy example); a KMS request made for EventBridge carries neither key
(EventBridge user guide), and none is assumed for CloudWatch's either.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from tests.infra.cfn_policies import ACCOUNT, REGION, Request, Template, Unsupported, decide
from tests.infra.network_paths import admits, reaches

# Kinds of integration, as the test counts them.
ALARM_TO_TOPIC = "alarm → topic"
ALARM_TO_SCALING = "alarm → scaling policy"
RULE_TO_TARGET = "rule → target"
SCHEDULE_TO_QUEUE = "schedule → queue"
QUEUE_TO_DLQ = "queue → dead-letter queue"
KEY_USE = "service → KMS key"
TASK_TO_SECRET = "task → secret"
TASK_TO_API = "task → AWS API"
LOAD_BALANCER_TO_TASKS = "load balancer → tasks"
WEB_ACL_TO_LOAD_BALANCER = "web ACL → load balancer"
SERVICE_TO_CAPACITY = "service → capacity providers"

CLOUDWATCH = "cloudwatch.amazonaws.com"
EVENTS = "events.amazonaws.com"
SCHEDULER = "scheduler.amazonaws.com"
TLS = {"aws:SecureTransport": "true"}
PUBLISH_KEY_ACTIONS = ("kms:GenerateDataKey*", "kms:Decrypt")
"""What a service publishing to an encrypted topic asks of its key (SNS developer guide)."""
SQS_KEY_ACTIONS = ("kms:GenerateDataKey", "kms:Decrypt")
DEFAULT_TOPIC_POLICY = {
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"AWS": "*"},
            "Action": "sns:Publish",
            "Resource": "*",
            "Condition": {"StringEquals": {"AWS:SourceOwner": ACCOUNT}},
        }
    ]
}
"""SNS's default topic policy (the account's own publishers), in force while no
AWS::SNS::TopicPolicy replaces it."""
SOURCE_OWNER = {CLOUDWATCH}
"""Services whose publish the default policy admits (same-account CloudWatch alarms)."""

AGENT_CALLS = {"ecs"}
"""Actions of a task role that the ECS agent calls on the task's behalf (task protection):
Fargate's agent is not in the task's subnets."""
ECR_IMAGE_SERVICES = ("ecr.api", "ecr.dkr", "s3")
"""Pulling an image from ECR: its API, its registry, and S3 for the layers."""


@dataclass
class Integration:
    """One service acting on one resource, and what stands in its way."""

    kind: str
    name: str
    problems: list[str] = field(default_factory=list)
    outside: list[str] = field(default_factory=list)


def integrations(data: Mapping[str, Any]) -> list[Integration]:
    """Every integration of the template, each checked."""
    template = Template(data)
    found: list[Integration] = []
    for walk in (
        _alarm_actions,
        _rule_targets,
        _schedules,
        _redrives,
        _task_secrets,
        _task_network,
        _load_balancer_targets,
        _web_acls,
        _capacity_providers,
    ):
        found.extend(walk(template))
    found.extend(_unused_keys(template, found))
    return found


def _publish(
    template: Template, integration: Integration, service: str, source: str, topic: object
) -> Iterator[Integration]:
    """`service` publishing to `topic` for `source`: the topic's policy, then its key's."""
    topic_id = template.target(topic)
    if topic_id is None:
        arn = template.resolve(topic)
        integration.outside.append(
            f"{arn}: its policy must allow {service} sns:Publish, and its KMS key (if any) "
            f"{' and '.join(PUBLISH_KEY_ACTIONS)}"
        )
        return
    if template.type_of(topic_id) != "AWS::SNS::Topic":
        integration.problems.append(f"{topic_id} is a {template.type_of(topic_id)}, not a topic")
        return
    documents = template.policy_of("AWS::SNS::TopicPolicy", "Topics", topic_id)
    if len(documents) > 1:
        integration.problems.append(f"{topic_id} has {len(documents)} topic policies: one wins")
    context = {**TLS, "aws:SourceArn": source, "aws:SourceAccount": ACCOUNT}
    if service in SOURCE_OWNER:
        context["aws:SourceOwner"] = ACCOUNT
    request = Request(("Service", service), "sns:Publish", template.arn(topic_id), context)
    decision = decide(documents or [DEFAULT_TOPIC_POLICY], request, template)
    if decision.denied or not decision.allowed:
        integration.problems.append(f"{topic_id}'s policy does not let {service} sns:Publish")
    key = template.of_type("AWS::SNS::Topic")[topic_id].get("KmsMasterKeyId")
    if key is not None:
        yield _service_uses_key(template, service, key, f"{topic_id}'s messages")


def _service_uses_key(template: Template, service: str, key: object, purpose: str) -> Integration:
    """A service principal encrypting or decrypting with `key`: only the key policy can let
    it (a service has no identity policy), without the context keys KMS never sees."""
    key_id = template.target(key)
    integration = Integration(KEY_USE, f"{service} → {key_id or key} (for {purpose})")
    if key_id is None:
        name = template.resolve(key)
        if name.startswith("alias/aws/"):
            integration.problems.append(f"{name} is AWS managed: its policy admits no service")
        else:
            integration.outside.append(f"{name}: its key policy must allow {service}")
        return integration
    policy = template.of_type("AWS::KMS::Key")[key_id]["KeyPolicy"]
    for action in PUBLISH_KEY_ACTIONS:
        request = Request(("Service", service), action.rstrip("*"), template.arn(key_id))
        decision = decide([policy], request, template)
        if decision.denied or not decision.allowed:
            integration.problems.append(f"{key_id}'s policy does not let {service} {action}")
    return integration


def _alarm_actions(template: Template) -> Iterator[Integration]:
    for alarm_id, alarm in template.of_type("AWS::CloudWatch::Alarm").items():
        actions = [
            action
            for key in ("AlarmActions", "OKActions", "InsufficientDataActions")
            for action in alarm.get(key, [])
        ]
        seen: list[object] = []
        for action in actions:
            if action in seen:
                continue
            seen.append(action)
            target_id = template.target(action)
            target_type = template.type_of(target_id)
            if target_type == "AWS::ApplicationAutoScaling::ScalingPolicy":
                yield _alarm_scales(template, alarm_id, str(target_id))
            elif target_type == "AWS::SNS::Topic" or (
                target_id is None and template.resolve(action).startswith("arn:aws:sns:")
            ):
                integration = Integration(ALARM_TO_TOPIC, f"{alarm_id} → {target_id or action}")
                keys = list(
                    _publish(template, integration, CLOUDWATCH, template.arn(alarm_id), action)
                )
                yield integration
                yield from keys
            else:
                yield Integration(
                    ALARM_TO_TOPIC,
                    f"{alarm_id} → {action}",
                    problems=[f"an alarm action the walk does not know: {action}"],
                )


def _alarm_scales(template: Template, alarm_id: str, policy_id: str) -> Integration:
    """An alarm can run a step scaling policy only (target tracking makes its own alarms)."""
    integration = Integration(ALARM_TO_SCALING, f"{alarm_id} → {policy_id}")
    policy = template.of_type("AWS::ApplicationAutoScaling::ScalingPolicy")[policy_id]
    if policy.get("PolicyType") != "StepScaling":
        integration.problems.append(f"{policy_id} is {policy.get('PolicyType')}, not StepScaling")
    target = template.target(policy.get("ScalingTargetId"))
    if template.type_of(target) != "AWS::ApplicationAutoScaling::ScalableTarget":
        integration.problems.append(f"{policy_id} scales no scalable target of the stack")
    return integration


def _rule_targets(template: Template) -> Iterator[Integration]:
    for rule_id, rule in template.of_type("AWS::Events::Rule").items():
        for target in rule.get("Targets", []):
            arn = target["Arn"]
            target_id = template.target(arn)
            integration = Integration(RULE_TO_TARGET, f"{rule_id} → {target_id or arn}")
            if "RoleArn" in target:
                integration.problems += _role_may(
                    template, target["RoleArn"], EVENTS, template.arn(rule_id), arn
                )
                yield integration
            elif template.type_of(target_id) == "AWS::SNS::Topic" or (
                target_id is None and template.resolve(arn).startswith("arn:aws:sns:")
            ):
                keys = list(_publish(template, integration, EVENTS, template.arn(rule_id), arn))
                yield integration
                yield from keys
            else:
                integration.problems.append(
                    f"a rule target the walk does not know: {template.type_of(target_id)}"
                )
                yield integration


def _role_may(
    template: Template, role: object, service: str, source: str, target: object
) -> list[str]:
    """`service` assumes `role` for `source`, then sends to the queue `target` with it: the
    role's trust, its identity policies, the queue's policy and the queue's key."""
    role_id = template.target(role)
    if template.type_of(role_id) != "AWS::IAM::Role" or role_id is None:
        return [f"{role} is no role of the stack"]
    problems = []
    trust = template.of_type("AWS::IAM::Role")[role_id]["AssumeRolePolicyDocument"]
    assume = Request(
        ("Service", service),
        "sts:AssumeRole",
        template.arn(role_id),
        {"aws:SourceAccount": ACCOUNT, "aws:SourceArn": source},
    )
    decision = decide([trust], assume, template)
    if decision.denied or not decision.allowed:
        problems.append(f"{role_id}'s trust policy does not let {service} assume it")
    queue_id = template.target(target)
    if template.type_of(queue_id) != "AWS::SQS::Queue" or queue_id is None:
        return [*problems, f"{target} is no queue of the stack: the walk checks sends to queues"]
    role_arn = template.arn(role_id)
    send = Request(("AWS", role_arn), "sqs:SendMessage", template.arn(queue_id), TLS)
    identity = decide(template.policies_of_role(role_id), send, template)
    resource = decide(
        template.policy_of("AWS::SQS::QueuePolicy", "Queues", queue_id), send, template
    )
    if identity.denied or resource.denied or not (identity.allowed or resource.allowed):
        problems.append(f"{role_id} may not sqs:SendMessage to {queue_id}")
    key = template.of_type("AWS::SQS::Queue")[queue_id].get("KmsMasterKeyId")
    if key is not None:
        problems += _role_uses_key(template, role_id, key, SQS_KEY_ACTIONS)
    return problems


def _role_uses_key(
    template: Template, role_id: str, key: object, actions: tuple[str, ...]
) -> list[str]:
    """A role of the stack using `key`: its key policy names the role, or delegates to the
    account and the role's identity policies allow it."""
    key_id = template.target(key)
    if key_id is None:
        return []  # an AWS managed key (alias/aws/sqs) admits the account's principals
    problems = []
    policy = template.of_type("AWS::KMS::Key")[key_id]["KeyPolicy"]
    for action in actions:
        request = Request(("AWS", template.arn(role_id)), action, template.arn(key_id))
        by_key = decide([policy], request, template)
        by_role = decide(template.policies_of_role(role_id), request, template)
        if by_key.denied or not (by_key.allowed or (by_key.delegated and by_role.allowed)):
            problems.append(f"{role_id} may not {action} with {key_id}")
    return problems


def _schedules(template: Template) -> Iterator[Integration]:
    for schedule_id, schedule in template.of_type("AWS::Scheduler::Schedule").items():
        target = schedule["Target"]
        group = template.resolve(schedule.get("GroupName", "default"))
        source = f"arn:aws:scheduler:{REGION}:{ACCOUNT}:schedule/{group}/{schedule_id}"
        destinations = [target["Arn"]]
        if "DeadLetterConfig" in target:
            destinations.append(target["DeadLetterConfig"]["Arn"])
        else:
            yield Integration(
                SCHEDULE_TO_QUEUE,
                f"{schedule_id} → dead-letter queue",
                problems=["no DeadLetterConfig: a fire SQS refuses is lost unseen"],
            )
        for destination in destinations:
            yield Integration(
                SCHEDULE_TO_QUEUE,
                f"{schedule_id} → {template.target(destination) or destination}",
                problems=_role_may(template, target["RoleArn"], SCHEDULER, source, destination),
            )


def _redrives(template: Template) -> Iterator[Integration]:
    """SQS moves a message to the DLQ itself: same account and type, a redrive-allow policy
    that admits the source, and a retention no shorter than the source's (a standard
    queue's message keeps its first enqueue time, and expires by it in the DLQ too)."""
    queues = template.of_type("AWS::SQS::Queue")
    for queue_id, queue in queues.items():
        redrive = queue.get("RedrivePolicy")
        if redrive is None:
            continue
        dlq_id = template.target(redrive.get("deadLetterTargetArn"))
        integration = Integration(QUEUE_TO_DLQ, f"{queue_id} → {dlq_id}")
        yield integration
        if dlq_id not in queues or dlq_id is None:
            integration.problems.append("the dead-letter queue is not a queue of the stack")
            continue
        dlq = queues[dlq_id]
        if bool(dlq.get("FifoQueue")) != bool(queue.get("FifoQueue")):
            integration.problems.append("a FIFO queue and a standard one: SQS refuses")
        allow = dlq.get("RedriveAllowPolicy", {"redrivePermission": "allowAll"})
        permission = allow.get("redrivePermission")
        if permission == "denyAll" or (
            permission == "byQueue"
            and template.arn(queue_id) not in template.values(allow.get("sourceQueueArns", []))
        ):
            integration.problems.append(f"{dlq_id}'s redrive-allow policy refuses {queue_id}")
        default = 345_600  # SQS's default retention, 4 days
        if int(dlq.get("MessageRetentionPeriod", default)) < int(
            queue.get("MessageRetentionPeriod", default)
        ):
            integration.problems.append(f"{dlq_id} keeps messages shorter than {queue_id}")


def _services(template: Template) -> Iterator[tuple[str, Mapping[str, Any], Mapping[str, Any]]]:
    """(logical id, properties, task definition properties) of each ECS service."""
    task_definitions = template.of_type("AWS::ECS::TaskDefinition")
    for service_id, service in template.of_type("AWS::ECS::Service").items():
        task_definition = template.target(service["TaskDefinition"])
        yield service_id, service, task_definitions[str(task_definition)]


def _secret_read(value_from: str) -> tuple[str, str, str]:
    """(store, action, resource ARN) of an ECS `valueFrom`: the agent's one call."""
    fields = value_from.split(":")
    if fields[2] == "secretsmanager":
        return "secretsmanager", "secretsmanager:GetSecretValue", ":".join(fields[:7])
    if fields[2] == "ssm":
        return "ssm", "ssm:GetParameters", value_from
    raise Unsupported(f"a secret source the walk does not know: {value_from}")


def _task_secrets(template: Template) -> Iterator[Integration]:
    """The ECS agent reads each secret with the execution role as the task starts."""
    for service_id, _, task_definition in _services(template):
        role_id = template.target(task_definition.get("ExecutionRoleArn"))
        for container in task_definition["ContainerDefinitions"]:
            for secret in container.get("Secrets", []):
                value_from = template.resolve(secret["ValueFrom"])
                _, action, resource = _secret_read(value_from)
                integration = Integration(TASK_TO_SECRET, f"{service_id} → {secret['Name']}")
                integration.outside.append(
                    f"{resource}: its resource policy (if any) and its key's must let the "
                    f"{service_id} execution role {action}"
                )
                yield integration
                if role_id is None:
                    integration.problems.append("the task definition has no execution role")
                    continue
                request = Request(("AWS", template.arn(role_id)), action, resource)
                decision = decide(template.policies_of_role(role_id), request, template)
                if decision.denied or not decision.allowed:
                    integration.problems.append(f"{role_id} may not {action} on {resource}")


def _needed_services(template: Template, task_definition: Mapping[str, Any]) -> set[str]:
    """The AWS services a task calls from its own network: ECR (and S3) for a private image,
    Logs for awslogs, the secret stores, and every service its task role may call."""
    needed: set[str] = set()
    for container in task_definition["ContainerDefinitions"]:
        if ".dkr.ecr." in template.resolve(container["Image"]):
            needed.update(ECR_IMAGE_SERVICES)
        if container.get("LogConfiguration", {}).get("LogDriver") == "awslogs":
            needed.add("logs")
        for secret in container.get("Secrets", []):
            needed.add(_secret_read(template.resolve(secret["ValueFrom"]))[0])
    task_role = template.target(task_definition.get("TaskRoleArn"))
    if task_role is not None:
        for document in template.policies_of_role(task_role):
            for statement in document["Statement"]:
                for action in template.values(statement.get("Action", [])):
                    needed.add(action.split(":")[0].lower())
    return needed - AGENT_CALLS


def _task_network(template: Template) -> Iterator[Integration]:
    for service_id, service, task_definition in _services(template):
        network = service["NetworkConfiguration"]["AwsvpcConfiguration"]
        public_ip = network.get("AssignPublicIp") == "ENABLED"
        groups = [str(template.target(g)) for g in network.get("SecurityGroups", [])]
        subnets = [str(template.target(s)) for s in network["Subnets"]]
        for name in sorted(_needed_services(template, task_definition)):
            integration = Integration(TASK_TO_API, f"{service_id} → {name}")
            yield integration
            for subnet_id in subnets:
                if not reaches(template, name, subnet_id, groups, public_ip=public_ip):
                    integration.problems.append(
                        f"{subnet_id} has no route to the internet and no {name} endpoint"
                    )


def _load_balancer_targets(template: Template) -> Iterator[Integration]:
    """The load balancer sends requests and health checks to the tasks' container port."""
    listeners = template.of_type("AWS::ElasticLoadBalancingV2::Listener").values()
    balancers = template.of_type("AWS::ElasticLoadBalancingV2::LoadBalancer")
    for service_id, service, _ in _services(template):
        network = service["NetworkConfiguration"]["AwsvpcConfiguration"]
        task_groups = [str(template.target(g)) for g in network.get("SecurityGroups", [])]
        for attachment in service.get("LoadBalancers", []):
            group_id = template.target(attachment["TargetGroupArn"])
            port = int(attachment["ContainerPort"])
            integration = Integration(LOAD_BALANCER_TO_TASKS, f"{group_id} → {service_id}:{port}")
            yield integration
            forwarding = {
                str(template.target(listener["LoadBalancerArn"]))
                for listener in listeners
                for action in listener["DefaultActions"]
                if template.target(action.get("TargetGroupArn")) == group_id
            }
            if not forwarding:
                integration.problems.append(f"no listener forwards to {group_id}")
            for balancer_id in forwarding:
                lb_groups = [
                    str(template.target(g)) for g in balancers[balancer_id]["SecurityGroups"]
                ]
                out = any(admits(template, lb_groups, "Egress", port, group=g) for g in task_groups)
                into = any(
                    admits(template, task_groups, "Ingress", port, group=g) for g in lb_groups
                )
                if not (out and into):
                    integration.problems.append(
                        f"{balancer_id}'s security groups and {service_id}'s do not pass "
                        f"port {port}"
                    )


def _web_acls(template: Template) -> Iterator[Integration]:
    acls = template.of_type("AWS::WAFv2::WebACL")
    for association_id, association in template.of_type("AWS::WAFv2::WebACLAssociation").items():
        integration = Integration(WEB_ACL_TO_LOAD_BALANCER, association_id)
        yield integration
        acl_id = template.target(association["WebACLArn"])
        resource = template.target(association["ResourceArn"])
        if acl_id not in acls or acl_id is None:
            integration.problems.append("the web ACL is not one of the stack")
        elif acls[acl_id].get("Scope") != "REGIONAL":
            integration.problems.append("a load balancer takes a REGIONAL web ACL only")
        if template.type_of(resource) != "AWS::ElasticLoadBalancingV2::LoadBalancer":
            integration.problems.append("the association names no load balancer of the stack")


def _capacity_providers(template: Template) -> Iterator[Integration]:
    """A service's strategy names providers its cluster offers, and is created after them."""
    associations = template.of_type("AWS::ECS::ClusterCapacityProviderAssociations")
    for service_id, service, _ in _services(template):
        strategy = service.get("CapacityProviderStrategy")
        if not strategy:
            continue
        integration = Integration(SERVICE_TO_CAPACITY, service_id)
        yield integration
        cluster = template.target(service["Cluster"])
        offering = [
            association_id
            for association_id, association in associations.items()
            if template.target(association["Cluster"]) == cluster
        ]
        if not offering:
            integration.problems.append(f"cluster {cluster} has no capacity provider association")
            continue
        (association_id,) = offering
        offered = set(template.values(associations[association_id]["CapacityProviders"]))
        named = {item["CapacityProvider"] for item in strategy}
        if not named <= offered:
            integration.problems.append(f"{sorted(named - offered)} not offered by {cluster}")
        depends_on = template.resources[service_id].get("DependsOn", [])
        if association_id not in (depends_on if isinstance(depends_on, list) else [depends_on]):
            integration.problems.append(
                f"{service_id} does not depend on {association_id}: CloudFormation may create "
                "it first (aws/containers-roadmap#631)"
            )


def _unused_keys(template: Template, found: list[Integration]) -> Iterator[Integration]:
    """A key of the stack that no integration the walk knows uses: a service it does not
    know uses it, so the walk must learn that service."""
    used = {i.name.split(" → ")[1].split(" ")[0] for i in found if i.kind == KEY_USE}
    for key_id in template.of_type("AWS::KMS::Key"):
        if key_id not in used:
            yield Integration(
                KEY_USE, key_id, problems=[f"{key_id} is used by no integration the walk knows"]
            )
