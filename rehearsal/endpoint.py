"""The local AWS of a rehearsal: moto's server, empty, on a loopback port.

    python -m rehearsal.endpoint PORT        # serves until SIGTERM or SIGINT

Unlike devstack's endpoint it creates nothing: the CDK CLI's bootstrap and deploy make
every resource. Changes to moto 5.2.5 bring it closer to AWS. IAM: moto checks DynamoDB calls
against the resource "*", so a statement naming the table's ARN (what the stack grants) would
never match; here a DynamoDB call names its table's ARN, or its index's for a Query of an
index, as AWS does, and the deployed statements decide. (moto's SQS already names the queue's
ARN.) The same for the reads of the execution role: a Secrets Manager call on a secret ARN
names that ARN, an SSM GetParameters of one parameter names the parameter's ARN.
DynamoDB requests are served one at a time, so a conditional write is atomic
(devstack.atomic_dynamodb).
CloudFormation: a stack a change set made (the CDK CLI's way) has its template's outputs
(`keep_change_set_outputs`), a tagged KMS key is created (`tag_kms_keys_as_kms_does`), and
ListStackResources lists what was created (`list_created_resources`).
moto's warnings (the resource types its CloudFormation skips) go to stderr: the rehearsal
reads them from the server's log (rehearsal.not_rehearsed).
"""

from __future__ import annotations

import json
import logging
import sys
import warnings
from typing import Any

from moto.cloudformation.models import ChangeSet, Stack
from moto.cloudformation.parsing import Output, OutputMap
from moto.dynamodb.responses import DynamoHandler
from moto.kms.models import Key
from moto.secretsmanager.responses import SecretsManagerResponse
from moto.server import ThreadedMotoServer
from moto.ssm.responses import SimpleSystemManagerResponse

from devstack.atomic_dynamodb import serialize_dynamodb_requests
from devstack.local_aws import wait_for_stop_signal


def _table_arn(handler: DynamoHandler) -> str:
    """The ARN of the table a DynamoDB call names ("*" for calls on no table); a Query or Scan
    of an index names the index's ARN, which AWS authorizes it against."""
    body = handler.body if isinstance(handler.body, dict) else {}
    table = body.get("TableName")
    if not isinstance(table, str) or not table:
        return "*"
    arn = table
    if not table.startswith("arn:"):
        arn = f"arn:aws:dynamodb:{handler.region}:{handler.current_account}:table/{table}"
    index = body.get("IndexName")
    return f"{arn}/index/{index}" if isinstance(index, str) and index else arn


def _body(handler: SecretsManagerResponse | SimpleSystemManagerResponse) -> dict[str, object]:
    try:
        body = json.loads(handler.body or "{}")
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _secret_arn(handler: SecretsManagerResponse) -> str:
    """The secret ARN a Secrets Manager call names ("*" for a bare name or no secret)."""
    secret = _body(handler).get("SecretId")
    return secret if isinstance(secret, str) and secret.startswith("arn:") else "*"


def _parameter_arn(handler: SimpleSystemManagerResponse) -> str:
    """The parameter ARN of an SSM call on exactly one parameter ("*" otherwise)."""
    names = _body(handler).get("Names")
    if not isinstance(names, list) or len(names) != 1 or not isinstance(names[0], str):
        return "*"
    name = names[0]
    if name.startswith("arn:"):
        return name
    return f"arn:aws:ssm:{handler.region}:{handler.current_account}:parameter/{name.lstrip('/')}"


def enforce_table_resources() -> None:
    """Make moto authorize DynamoDB calls against the table's ARN, and the execution role's
    secret reads against the secret's or parameter's ARN."""
    DynamoHandler._determine_resource = _table_arn  # type: ignore[attr-defined]
    SecretsManagerResponse._determine_resource = _secret_arn  # type: ignore[attr-defined]
    SimpleSystemManagerResponse._determine_resource = _parameter_arn  # type: ignore[attr-defined]


class CreatedOutputs(OutputMap):
    """A stack's outputs, but only those whose every resource moto created: an output naming a
    resource moto skipped is left out (resolving it would try to create the resource again,
    and fail DescribeStacks)."""

    def __getitem__(self, key: str) -> Output | None:
        created = self._resource_map._parsed_resources
        names = resources_named(self._output_json_map.get(key, {}))
        if any(created.get(name) is None for name in names):
            return None
        output: Output | None = super().__getitem__(key)
        return output


def resources_named(value: Any) -> set[str]:
    """The logical ids a template value names with `Ref` or `Fn::GetAtt`."""
    if isinstance(value, list):
        return {name for item in value for name in resources_named(item)}
    if not isinstance(value, dict):
        return set()
    names = {name for item in value.values() for name in resources_named(item)}
    if isinstance(value.get("Ref"), str) and not value["Ref"].startswith("AWS::"):
        names.add(value["Ref"])
    attribute = value.get("Fn::GetAtt")
    if isinstance(attribute, list) and attribute and isinstance(attribute[0], str):
        names.add(attribute[0])
    return names


def tag_kms_keys_as_kms_does() -> None:
    """Hand a KMS key's CloudFormation Tags to KMS in its own form.

    moto 5.2.5 passes `Tags` as CloudFormation writes them (`Key`, `Value`) to KMS's tagger,
    which reads `TagKey`: creating a tagged key raises, so ExecuteChangeSet answered 500, the
    key and what names it (the alarm topic) were never made, and every ListStackResources of
    the stack, which retries the key, answered 500.
    """
    create = Key.create_from_cloudformation_json

    def create_tagged(
        resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> Key:
        properties = dict(cloudformation_json.get("Properties", {}))
        properties["Tags"] = [
            {"TagKey": tag["Key"], "TagValue": tag["Value"]} for tag in properties.get("Tags", [])
        ]
        resource = {**cloudformation_json, "Properties": properties}
        return create(resource_name, resource, account_id, region_name, **kwargs)

    Key.create_from_cloudformation_json = create_tagged  # type: ignore[method-assign]


def list_created_resources() -> None:
    """List (and describe) a stack's resources as they were created.

    moto 5.2.5 lists a stack's resources by parsing each of its template's again, and a
    resource it skipped fails that parse when it names an attribute moto does not have (an
    alarm on the target group's `TargetGroupFullName`): ListStackResources answered 500 for
    every stack with such an alarm. A skipped resource is not in the list, as on AWS a resource
    that was never made is not.
    """

    def created(stack: Stack) -> list[Any]:
        made = stack.resource_map._parsed_resources
        return [
            made[name]
            for name in stack.resource_map._resource_json_map
            if hasattr(made.get(name), "physical_resource_id")
        ]

    Stack.stack_resources = property(created)  # type: ignore[method-assign,assignment]


def keep_change_set_outputs() -> None:
    """Give a stack the outputs of the template its change set applied.

    moto 5.2.5 builds a stack's outputs when the stack is made and on UpdateStack; a change set
    (how the CDK CLI deploys) updates the resources only, so DescribeStacks listed no outputs
    and `taskqueue --stage` could not find the rehearsed stack's queue, table or services.
    """
    apply = ChangeSet.apply

    def apply_with_outputs(change_set: ChangeSet) -> None:
        apply(change_set)
        stack = change_set.stack
        stack.template_dict = change_set.template_dict
        stack.output_map = CreatedOutputs(stack.resource_map, stack.template_dict, stack.stack_id)

    ChangeSet.apply = apply_with_outputs  # type: ignore[method-assign,assignment]


def main(argv: list[str] | None = None) -> None:
    """Serve moto on 127.0.0.1:PORT until stopped."""
    args = sys.argv[1:] if argv is None else argv
    port = int(args[0])
    # Every warning once per message, on stderr: the "not rehearsed" list reads them.
    warnings.simplefilter("default")
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    enforce_table_resources()
    serialize_dynamodb_requests()  # a conditional write is atomic, as on DynamoDB
    keep_change_set_outputs()
    tag_kms_keys_as_kms_does()
    list_created_resources()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    print(f"local AWS ready at http://localhost:{port}", flush=True)
    wait_for_stop_signal()
    server.stop()


if __name__ == "__main__":
    main()
