"""A deployed stack as CloudFormation holds it: its outputs, its template, and its resources.

The template (GetTemplate) says what the stack declares: its alarms, its schedules, which
queue is whose dead-letter queue. Its resources (ListStackResources) say what exists, by
physical id. A resource the template declares but the stack does not list was not created:
on AWS that cannot be, in a stack that deployed; a local endpoint's CloudFormation skips
the types it does not support (moto: alarms, Scheduler).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from taskqueue_cli.errors import CliError


@dataclass(frozen=True)
class DeployedStack:
    """One CloudFormation stack: outputs by key, template resources and physical ids by
    logical id."""

    name: str
    outputs: dict[str, str]
    declared: dict[str, dict[str, Any]]
    physical_ids: dict[str, str]

    @classmethod
    def read(cls, cloudformation: Any, name: str) -> DeployedStack:
        """DescribeStacks, GetTemplate and ListStackResources of stack `name`."""
        stack = cloudformation.describe_stacks(StackName=name)["Stacks"][0]
        template = cloudformation.get_template(StackName=name)["TemplateBody"]
        if not isinstance(template, dict):  # YAML: this app's templates are JSON
            raise CliError(f"stack {name}'s template is not JSON")
        pages = cloudformation.get_paginator("list_stack_resources").paginate(StackName=name)
        return cls(
            name=name,
            outputs={o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])},
            declared=dict(template.get("Resources", {})),
            physical_ids={
                resource["LogicalResourceId"]: resource["PhysicalResourceId"]
                for page in pages
                for resource in page["StackResourceSummaries"]
                # moto lists a resource it skipped as an empty summary
                if resource.get("LogicalResourceId") and resource.get("PhysicalResourceId")
            },
        )

    def output(self, key: str) -> str:
        """The stack's output `key`, or an error naming it."""
        if key not in self.outputs:
            raise CliError(f"stack {self.name} has no output {key}: deploy it again")
        return self.outputs[key]

    def of_type(self, resource_type: str) -> Iterator[tuple[str, dict[str, Any]]]:
        """Logical id and properties of each resource of `resource_type` the template declares."""
        for logical_id, resource in sorted(self.declared.items()):
            if resource.get("Type") == resource_type:
                yield logical_id, resource.get("Properties", {})

    def created(self, logical_id: str) -> bool:
        """Whether the stack has the resource (see the module's note)."""
        return logical_id in self.physical_ids

    def physical_id(self, value: Any) -> str | None:
        """The physical id a template value names: a literal, `Ref` or `Fn::GetAtt` of a
        resource (the physical id of the resource itself: a queue's URL for its ARN)."""
        if isinstance(value, str):
            return value
        logical_id = referenced(value)
        return None if logical_id is None else self.physical_ids.get(logical_id)


def referenced(value: Any) -> str | None:
    """The logical id a `{"Ref": id}` or `{"Fn::GetAtt": [id, attribute]}` names."""
    if not isinstance(value, dict) or len(value) != 1:
        return None
    if isinstance(value.get("Ref"), str):
        return str(value["Ref"])
    attribute = value.get("Fn::GetAtt")
    if isinstance(attribute, list) and attribute and isinstance(attribute[0], str):
        return attribute[0]
    return None
