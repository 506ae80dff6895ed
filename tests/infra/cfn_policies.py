"""A synthesized template as AWS reads it at deploy time, and its IAM policies evaluated.

References resolve to stable symbolic values, the way CloudFormation resolves them: a
`Fn::GetAtt [X, Arn]` becomes an ARN of X's service named after its logical id, a `Ref`
what CloudFormation documents for the type (a topic's ARN, a queue's URL, a role's name).
A statement naming `{"Fn::GetAtt": ["TaskQueue", "Arn"]}` then matches a request on that
queue, and `arn:aws:cloudwatch:<region>:<account>:alarm:*` matches an alarm of the stack,
as IAM would match them. The evaluator knows the policy language this stack writes
(Allow/Deny, Principal, Action, Resource and the String/Arn/Bool condition operators) and
refuses the rest (`Unsupported`), so nothing it does not understand passes silently.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

ACCOUNT = "123456789012"
REGION = "us-east-1"
PSEUDO_PARAMETERS = {
    "AWS::AccountId": ACCOUNT,
    "AWS::Region": REGION,
    "AWS::Partition": "aws",
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::StackName": "stack",
}

# The resource types whose ARN has another shape than arn:aws:<service>:<region>:<account>:<id>,
# and those whose Ref is their ARN (CloudFormation's return values of each type).
ARN_SHAPES = {
    "AWS::IAM::Role": "arn:aws:iam::{account}:role/{id}",
    "AWS::KMS::Key": "arn:aws:kms:{region}:{account}:key/{id}",
    "AWS::CloudWatch::Alarm": "arn:aws:cloudwatch:{region}:{account}:alarm:{id}",
    "AWS::Events::Rule": "arn:aws:events:{region}:{account}:rule/{id}",
    "AWS::Logs::LogGroup": "arn:aws:logs:{region}:{account}:log-group:{id}:*",
    "AWS::DynamoDB::Table": "arn:aws:dynamodb:{region}:{account}:table/{id}",
    "AWS::ApplicationAutoScaling::ScalingPolicy": (
        "arn:aws:autoscaling:{region}:{account}:scalingPolicy:{id}"
    ),
    "AWS::ElasticLoadBalancingV2::LoadBalancer": (
        "arn:aws:elasticloadbalancing:{region}:{account}:loadbalancer/app/{id}"
    ),
    "AWS::ElasticLoadBalancingV2::TargetGroup": (
        "arn:aws:elasticloadbalancing:{region}:{account}:targetgroup/{id}"
    ),
    "AWS::WAFv2::WebACL": "arn:aws:wafv2:{region}:{account}:regional/webacl/{id}",
}
REF_IS_ARN = {
    "AWS::SNS::Topic",
    "AWS::ECS::Service",
    "AWS::ApplicationAutoScaling::ScalingPolicy",
    "AWS::ElasticLoadBalancingV2::LoadBalancer",
    "AWS::ElasticLoadBalancingV2::TargetGroup",
}


class Unsupported(Exception):
    """A reference or a policy element this reader does not know how to resolve."""


@dataclass(frozen=True)
class Template:
    """The resources of one synthesized template, with references resolved."""

    data: Mapping[str, Any]

    @property
    def resources(self) -> Mapping[str, Mapping[str, Any]]:
        resources: Mapping[str, Mapping[str, Any]] = self.data["Resources"]
        return resources

    def of_type(self, resource_type: str) -> dict[str, Mapping[str, Any]]:
        """Logical id -> properties of every resource of `resource_type`."""
        return {
            logical_id: resource.get("Properties", {})
            for logical_id, resource in self.resources.items()
            if resource["Type"] == resource_type
        }

    def type_of(self, logical_id: str | None) -> str | None:
        resource = self.resources.get(logical_id or "")
        return None if resource is None else str(resource["Type"])

    def arn(self, logical_id: str) -> str:
        """The resource's ARN, as `Fn::GetAtt [id, Arn]` resolves."""
        resource_type = self.resources[logical_id]["Type"]
        service = resource_type.split("::")[1].lower()
        shape = ARN_SHAPES.get(resource_type, f"arn:aws:{service}:{{region}}:{{account}}:{{id}}")
        return shape.format(region=REGION, account=ACCOUNT, id=logical_id)

    def target(self, value: object) -> str | None:
        """The logical id a `Ref` or `Fn::GetAtt` names (None for anything else)."""
        if isinstance(value, Mapping):
            if isinstance(ref := value.get("Ref"), str) and ref in self.resources:
                return ref
            if isinstance(get_att := value.get("Fn::GetAtt"), list):
                return str(get_att[0])
        return None

    def resolve(self, value: object) -> str:
        """One scalar value with every reference in it resolved."""
        if isinstance(value, bool):
            return str(value).lower()
        if isinstance(value, str | int | float):
            return str(value)
        if isinstance(value, Mapping) and len(value) == 1:
            ((function, argument),) = value.items()
            if function == "Ref":
                return self._ref(argument)
            if function == "Fn::GetAtt":
                logical_id, attribute = argument
                return self.arn(logical_id) if attribute == "Arn" else f"{logical_id}.{attribute}"
            if function == "Fn::Join":
                separator, parts = argument
                return str(separator).join(self.resolve(part) for part in parts)
            if function == "Fn::Sub" and isinstance(argument, str):
                return re.sub(r"\$\{([^}]+)\}", lambda m: self._sub(m.group(1)), argument)
        raise Unsupported(f"cannot resolve {value!r}")

    def values(self, value: object) -> list[str]:
        """A value that may be one scalar or a list of them, resolved."""
        items = value if isinstance(value, list) else [value]
        return [self.resolve(item) for item in items]

    def _ref(self, name: str) -> str:
        if name in PSEUDO_PARAMETERS:
            return PSEUDO_PARAMETERS[name]
        resource_type = self.type_of(name)
        if resource_type is None:
            raise Unsupported(f"Ref to {name!r}, which is not in the template")
        if resource_type in REF_IS_ARN:
            return self.arn(name)
        if resource_type == "AWS::SQS::Queue":
            return f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{name}"
        return name

    def _sub(self, name: str) -> str:
        if "." in name:
            logical_id, attribute = name.split(".", 1)
            return self.resolve({"Fn::GetAtt": [logical_id, attribute]})
        return self._ref(name)

    def policies_of_role(self, role_id: str) -> list[Mapping[str, Any]]:
        """The identity policy documents of a role: inline, and the IAM::Policy resources
        attached to it. A managed policy cannot be read from the template."""
        role = self.of_type("AWS::IAM::Role")[role_id]
        if role.get("ManagedPolicyArns"):
            raise Unsupported(f"role {role_id} has managed policies the template does not show")
        documents = [policy["PolicyDocument"] for policy in role.get("Policies", [])]
        for policy in self.of_type("AWS::IAM::Policy").values():
            if {"Ref": role_id} in policy.get("Roles", []):
                documents.append(policy["PolicyDocument"])
        return documents

    def policy_of(self, policy_type: str, list_key: str, logical_id: str) -> list[Any]:
        """The documents of the resource policies (`AWS::SNS::TopicPolicy`, `Topics`, …)
        attached to one resource."""
        ref = {"Ref": logical_id}
        return [
            policy["PolicyDocument"]
            for policy in self.of_type(policy_type).values()
            if ref in policy.get(list_key, [])
        ]


@dataclass(frozen=True)
class Request:
    """One call as IAM evaluates it: who, what, on which resource, with which context."""

    principal: tuple[str, str]
    """("Service", "cloudwatch.amazonaws.com") or ("AWS", a role's ARN)."""
    action: str
    resource: str
    context: Mapping[str, str] = field(default_factory=dict)


def statements(document: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    found = document["Statement"]
    return found if isinstance(found, list) else [found]


def _principal_matches(statement: Mapping[str, Any], request: Request, template: Template) -> bool:
    """Whether the statement names the request's principal itself (or everyone). An account
    (root) principal delegates to that account's identity policies: it is not a match."""
    if "NotPrincipal" in statement:
        raise Unsupported("NotPrincipal")
    if "Principal" not in statement:
        return True  # an identity policy: the principal is whoever holds it
    principal = statement["Principal"]
    if principal == "*":
        return True
    kind, name = request.principal
    for key, value in principal.items():
        names = template.values(value)
        if key == "AWS" and "*" in names:
            return True
        if key == kind and name in names:
            return True
    return False


def delegates_to_account(statement: Mapping[str, Any], template: Template) -> bool:
    """Whether the statement's principal is this account (root), as a key policy's first
    statement is: the account's identity policies then decide."""
    principal = statement.get("Principal")
    if not isinstance(principal, Mapping) or "AWS" not in principal:
        return False
    names = template.values(principal["AWS"])
    return any(name in (ACCOUNT, f"arn:aws:iam::{ACCOUNT}:root") for name in names)


def _matches_any(patterns: Iterable[str], value: str, *, case_sensitive: bool) -> bool:
    if case_sensitive:
        return any(fnmatchcase(value, pattern) for pattern in patterns)
    return any(fnmatchcase(value.lower(), pattern.lower()) for pattern in patterns)


def _action_matches(statement: Mapping[str, Any], request: Request, template: Template) -> bool:
    if "NotAction" in statement:
        patterns = template.values(statement["NotAction"])
        return not _matches_any(patterns, request.action, case_sensitive=False)
    patterns = template.values(statement["Action"])
    return _matches_any(patterns, request.action, case_sensitive=False)


def _resource_matches(statement: Mapping[str, Any], request: Request, template: Template) -> bool:
    if "NotResource" in statement:
        patterns = template.values(statement["NotResource"])
        return not _matches_any(patterns, request.resource, case_sensitive=True)
    if "Resource" not in statement:
        return True  # a trust policy: the role itself
    patterns = template.values(statement["Resource"])
    return _matches_any(patterns, request.resource, case_sensitive=True)


NEGATED = {"StringNotEquals", "StringNotLike", "ArnNotEquals", "ArnNotLike"}
OPERATORS = {
    "StringEquals": lambda value, wanted: value == wanted,
    "StringNotEquals": lambda value, wanted: value == wanted,
    "StringLike": fnmatchcase,
    "StringNotLike": fnmatchcase,
    "ArnEquals": lambda value, wanted: value == wanted,
    "ArnNotEquals": lambda value, wanted: value == wanted,
    "ArnLike": fnmatchcase,
    "ArnNotLike": fnmatchcase,
    "Bool": lambda value, wanted: value.lower() == wanted.lower(),
}


def _condition_holds(statement: Mapping[str, Any], request: Request, template: Template) -> bool:
    """Every condition of the statement holds for the request's context (IAM's rules: a
    missing key fails a positive operator, passes a negated one and any ...IfExists)."""
    context = {key.lower(): value for key, value in request.context.items()}
    for operator, tests in statement.get("Condition", {}).items():
        base = operator.removesuffix("IfExists")
        if base not in OPERATORS or ":" in operator:
            raise Unsupported(f"condition operator {operator}")
        for key, wanted in tests.items():
            value = context.get(key.lower())
            if value is None:
                if base in NEGATED or operator.endswith("IfExists"):
                    continue
                return False
            hit = any(OPERATORS[base](value, w) for w in template.values(wanted))
            if hit == (base in NEGATED):
                return False
    return True


def applies(statement: Mapping[str, Any], request: Request, template: Template) -> bool:
    """Whether the statement speaks about this request (whatever its effect)."""
    return (
        _principal_matches(statement, request, template)
        and _action_matches(statement, request, template)
        and _resource_matches(statement, request, template)
        and _condition_holds(statement, request, template)
    )


@dataclass(frozen=True)
class Decision:
    """What the documents say about one request."""

    allowed: bool
    denied: bool
    delegated: bool = False
    """An Allow to the account (root) that covers the request: the identity policies decide."""


def decide(
    documents: Sequence[Mapping[str, Any]], request: Request, template: Template
) -> Decision:
    """Evaluate `documents` (one policy's, or several) for `request`."""
    allowed = denied = delegated = False
    for document in documents:
        for statement in statements(document):
            if statement["Effect"] == "Allow" and delegates_to_account(statement, template):
                account_request = Request(
                    ("AWS", f"arn:aws:iam::{ACCOUNT}:root"),
                    request.action,
                    request.resource,
                    request.context,
                )
                if (
                    request.principal[0] == "AWS"
                    and _action_matches(statement, account_request, template)
                    and _resource_matches(statement, account_request, template)
                    and _condition_holds(statement, account_request, template)
                ):
                    delegated = True
                continue
            if not applies(statement, request, template):
                continue
            if statement["Effect"] == "Deny":
                denied = True
            else:
                allowed = True
    return Decision(allowed=allowed, denied=denied, delegated=delegated)
