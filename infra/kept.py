"""Why the stack keeps a resource when it is deleted: a reason in the resource's template
metadata, which `make destroy` prints before it deletes anything (infra.teardown)."""

from __future__ import annotations

from aws_cdk import CfnResource
from constructs import IConstruct

from infra.teardown import KEPT_METADATA

TABLE = (
    "the clients' API keys (their hashes) and the task results; a new stack makes a new, "
    "empty table"
)
SERVICE_LOGS = "the service's logs for their retention period, for an audit or an incident"
PAYLOADS = (
    "task messages' and results' large data, which its lifecycle expires; empty once the last"
    " object expired"
)
FLOW_LOGS = "the VPC's rejected traffic for its retention period, for an audit or an incident"


def record_why_kept(construct: IConstruct, why: str) -> None:
    """Write why `construct`'s resource outlives the stack into its template metadata."""
    resource = construct.node.default_child
    if not isinstance(resource, CfnResource):
        raise TypeError(f"{construct.node.path} has no CloudFormation resource to explain")
    resource.add_metadata(KEPT_METADATA, why)
