"""The task roles' policies, taken from the synthesized template, run the real services.

moto's server enforces IAM here (after `/moto-api/reset-auth`): the web and the worker run
with the credentials of IAM users that carry exactly the actions of their CDK task roles.
moto evaluates actions but not resource ARNs (it authorizes SQS and DynamoDB calls against
"*"), so the statements' resources are widened to "*" for this run, and it cannot evaluate
the `dynamodb:LeadingKeys` condition of the web's UpdateItem (a client's waiting counter
only), so that condition is dropped here; which queue, table and items each action may touch
is proven on the template by tests/infra/test_iam.py. And moto authorizes an SQS batch action
by its own name, where AWS authorizes it by its single action's ("Amazon SQS batch actions",
SQS Developer Guide: no permission can name a batch action), so each user here is given the
batch action of every single one its role grants, as AWS reads the role.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
import pytest
import requests
from aws_cdk import App
from botocore.exceptions import ClientError
from taskqueue.catalogue import schedules
from taskqueue.factory import declared_schedules
from taskqueue_cli.commands.schedules import fire_state

import app as cdk_app
from devstack.diagnostic_tasks import sized_text
from harness.processes import wait_until
from harness.stack import LocalStack
from tests.faults.conftest import enqueue, state, wait_for_states

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

CDK_JSON = Path(__file__).resolve().parents[2] / "cdk.json"


def task_role_policies(outdir: Path) -> dict[str, list[dict[str, Any]]]:
    """The statements of the web's and the worker's task roles and of EventBridge Scheduler's
    role, as `cdk synth` writes them."""
    app = App(context=json.loads(CDK_JSON.read_text())["context"], outdir=str(outdir))
    stack = cdk_app.build(app)
    template = json.loads((Path(app.synth().directory) / stack.template_file).read_text())
    policies = [
        r["Properties"] for r in template["Resources"].values() if r["Type"] == "AWS::IAM::Policy"
    ]
    statements: dict[str, list[dict[str, Any]]] = {}
    assert stack.schedules is not None
    roles = {
        "web": stack.web.task_role,
        "worker": stack.worker.task_role,
        "scheduler": stack.schedules.role,
    }
    for name, role in roles.items():
        role_ref = stack.resolve(role.role_name)
        statements[name] = [
            statement
            for policy in policies
            if role_ref in policy["Roles"]
            for statement in policy["PolicyDocument"]["Statement"]
        ]
    return statements


# The SQS actions whose batch versions they authorize on AWS (see above).
SQS_BATCHED = ("sqs:SendMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility")


def with_batch_actions(actions: str | list[str]) -> list[str]:
    """`actions` with the batch action of each SQS single action that AWS lets it authorize."""
    named = [actions] if isinstance(actions, str) else actions
    return [*named, *(f"{action}Batch" for action in named if action in SQS_BATCHED)]


def iam_user(stack: LocalStack, name: str, statements: list[dict[str, Any]]) -> dict[str, str]:
    """An IAM user with these statements (resources widened, conditions dropped, batch actions
    as AWS reads them, see above); its credentials."""
    iam = stack.client("iam")
    iam.create_user(UserName=name)
    document = {
        "Version": "2012-10-17",
        "Statement": [
            {
                **{k: v for k, v in statement.items() if k != "Condition"},
                **(
                    {"Action": with_batch_actions(statement["Action"])}
                    if "Action" in statement
                    else {}
                ),
                "Resource": "*",
            }
            for statement in statements
        ],
    }
    iam.put_user_policy(UserName=name, PolicyName="task-role", PolicyDocument=json.dumps(document))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return {
        "AWS_ACCESS_KEY_ID": key["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"],
    }


# How a denial shows in a log: botocore's "An error occurred (403) when calling ...", kombu's
# "Request HTTP Error  HTTP 403  Forbidden (...)", moto's "... is not authorized to perform".
# Not a bare 403: a logged duration ("RunTime": 12.403) is not a denial.
DENIAL = re.compile(r"\(403\)|\bHTTP 403\b|AccessDenied|not authorized to perform")


def denials(log: str) -> list[str]:
    """The log's lines that report an IAM denial."""
    return [line for line in log.splitlines() if DENIAL.search(line)]


@pytest.fixture
def enforced(stack: LocalStack, tmp_path: Path) -> Iterator[dict[str, dict[str, str]]]:
    """IAM users for the two roles; from here on the endpoint enforces IAM."""
    statements = task_role_policies(tmp_path / "cdk.out")
    credentials = {name: iam_user(stack, name, s) for name, s in statements.items()}
    # The test's own view of the queues, once the endpoint checks every caller.
    credentials["admin"] = iam_user(stack, "admin", [{"Effect": "Allow", "Action": "*"}])
    endpoint = stack.env["AWS_ENDPOINT_URL"]
    requests.post(f"{endpoint}/moto-api/reset-auth", data=b"0", timeout=10).raise_for_status()
    yield credentials


def test_the_web_role_can_queue_but_not_consume(
    stack: LocalStack, enforced: dict[str, dict[str, str]]
) -> None:
    web = stack.start_web(**enforced["web"])
    enqueue(stack, "noop")
    # An Idempotency-Key's repeat: the conditional PutItem that finds the record, and the
    # waiting slot given back (UpdateItem of the client's counter); nothing new to grant.
    keyed = {"Idempotency-Key": "least-privilege"}
    answers = [
        stack.api().request("POST", "/tasks", json={"task": "noop"}, headers=keyed)
        for _ in range(2)
    ]
    assert answers[0].status_code == 202, answers[0].text
    assert answers[1].status_code in {409, 202}, answers[1].text  # 202 once its window passed
    assert denials(web.log()) == []
    web_sqs = stack.client("sqs", enforced["web"])
    web_dynamodb = stack.client("dynamodb", enforced["web"])

    for call in (
        lambda: web_sqs.receive_message(QueueUrl=stack.queue_url),
        lambda: web_sqs.delete_message(QueueUrl=stack.queue_url, ReceiptHandle="x"),
        lambda: web_sqs.purge_queue(QueueUrl=stack.queue_url),
        lambda: web_dynamodb.scan(TableName=stack.settings.results_table),
    ):
        with pytest.raises(ClientError) as denied:
            call()
        # moto answers a denial on JSON-protocol calls with code 403, not AccessDenied.
        assert denied.value.response["Error"]["Code"] in {"403", "AccessDenied"}


def test_the_whole_flow_runs_on_the_task_roles_alone(
    stack: LocalStack, enforced: dict[str, dict[str, str]]
) -> None:
    # A task to cancel while it runs; delays re-delayed by the worker every second.
    long_enough = {"TASK_MAX_DURATION": "20", "DELAY_HOP_SECONDS": "1"}
    stack.start_web(**enforced["web"], **long_enough)
    worker = stack.start_worker(WORKER_CONCURRENCY="1", **enforced["worker"], **long_enough)

    # enqueue, consume, progress, result
    task_id = enqueue(stack, "long_task", duration=2)
    seen = set()
    wait_until(
        lambda: seen.add(state(stack, task_id)) or "SUCCESS" in seen, 30, "the task to succeed"
    )
    assert "PROGRESS" in seen
    # a rate (5/s): the worker's UpdateItems of the rate item and the wait's record, and the
    # copy sent back for its turn (SendMessage)
    limited = [enqueue(stack, "limited") for _ in range(10)]
    wait_for_states(stack, limited, {"SUCCESS"}, timeout=30)
    assert "sent back for its turn" in worker.log()
    # restore: a killed pool process hands its message back (ChangeMessageVisibility)
    restored = enqueue(stack, "long_task", duration=2)
    wait_until(lambda: state(stack, restored) == "PROGRESS", 20, "the task running")
    psutil.Process(worker.pid).children()[0].kill()
    wait_for_states(stack, [restored], {"SUCCESS"}, timeout=60)
    # retry until the dead-letter queue (GetQueueAttributes for the redrive policy)
    enqueue(stack, "fail")
    admin_sqs = stack.client("sqs", enforced["admin"])
    dlq_url = admin_sqs.get_queue_url(QueueName=stack.settings.task_dlq_name)["QueueUrl"]
    wait_until(
        lambda: (
            admin_sqs.get_queue_attributes(
                QueueUrl=dlq_url, AttributeNames=["ApproximateNumberOfMessages"]
            )["Attributes"]["ApproximateNumberOfMessages"]
            == "1"
        ),
        60,
        "the failing task in the DLQ",
    )
    # the status page's counts: the web's GetQueueAttributes on the queue and the DLQ
    panel = stack.api().get("/status/panel")
    assert panel.status_code == 200, panel.text
    assert '<dd id="count-dlq">1</dd>' in panel.text
    assert '<dd id="count-visible">0</dd>' in panel.text

    # a schedule's fire, sent with the Scheduler role's one action (sqs:SendMessage); its
    # queue_report reads the task queue's and the DLQ's counts (GetQueueAttributes on both)
    when = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)
    template = declared_schedules()["queue-report"].message_template(stack.settings.task_queue_name)
    stack.client("sqs", enforced["scheduler"]).send_message(
        QueueUrl=stack.queue_url, MessageBody=schedules.fire_message(template, when)
    )
    admin_dynamodb = stack.client("dynamodb", enforced["admin"])
    table = stack.settings.results_table
    fire_id = schedules.task_id("queue-report", when)
    wait_until(
        lambda: fire_state(admin_dynamodb, table, fire_id) == "SUCCESS", 30, "the fire to succeed"
    )

    # cancel while it runs: the web's GetItem and conditional PutItem; the worker's heartbeat
    # (ChangeMessageVisibility, UpdateItem) stops it
    running = enqueue(stack, "long_task", duration=10)
    wait_until(lambda: state(stack, running) == "PROGRESS", 20, "the task running")
    asked = stack.api().delete_task(running)
    assert asked.status_code == 202, asked.text
    wait_until(lambda: state(stack, running) == "REVOKED", 20, "the task stopped")

    # cancel: the web's conditional PutItem (this one ran: 409)
    cancelled = stack.api().delete_task(task_id)
    assert cancelled.status_code == 409, cancelled.text

    # the lists: the web's Query of the index; the worker's presence item (UpdateItem)
    listed = stack.api().list_tasks()
    assert listed.status_code == 200, listed.text
    assert {task_id, restored, running} <= {item["id"] for item in listed.json()["items"]}
    shown = stack.api().workers()
    assert shown.status_code == 200, shown.text
    assert [entry["concurrency"] for entry in shown.json()["workers"]] == [1]
    # the status panel reads the same on the web's role: nothing shows "unavailable"
    panel = stack.api().get("/status/panel")
    assert panel.status_code == 200, panel.text
    assert "unavailable" not in panel.text
    assert f'id="task-{running}" data-state="REVOKED"' in panel.text

    # large data, through the payload bucket: the web's PutObject of a message's body
    # (params/), the worker's GetObject of it and PutObject of a large result (results/), the
    # web's GetObject of a result returned inline. (A presigned URL is signed without a
    # request; moto's IAM check cannot authenticate one, KeyError HTTP_AUTHORIZATION, so its
    # download is proven without IAM: tests/e2e/test_large_payloads.py.)
    large_param = "x" * (2 * 1024 * 1024)
    digest = enqueue(stack, "param_digest", data=large_param)
    inline = enqueue(stack, "sized_result", size=600_000)
    wait_for_states(stack, [digest, inline], {"SUCCESS"}, timeout=60)
    assert stack.api().status(digest)["result"]["bytes"] == len(large_param)
    assert stack.api().status(inline)["result"] == sized_text(600_000)

    # delay, once the worker is idle: sent with DelaySeconds, hops (the worker's SendMessage
    # and DeleteMessage); a cancelled one's hop is dropped after the worker's GetItem. Six 1 s
    # hops: a busy machine may deliver one late, within the 1 s tolerance, and not hop it.
    delayed, cancelled_delayed = (
        stack.api().request("POST", "/tasks", json={"task": "noop", "delay_seconds": 6}).json()
        for _ in range(2)
    )
    assert stack.api().delete_task(cancelled_delayed["id"]).status_code == 200
    wait_until(lambda: state(stack, delayed["id"]) == "SUCCESS", 20, "the delayed task")
    assert f"task {delayed['id']} is due in" in worker.log()
    assert f"task {cancelled_delayed['id']} was cancelled while delayed" in worker.log()

    assert denials(worker.log()) == []


def test_a_denial_is_found_in_a_log_and_a_duration_ending_in_403_is_not() -> None:
    log = "\n".join(
        [
            '{"RunTime": 12.403, "QueueWait": 0.403, "task_id": "x"}',
            "the dead-letter sweep failed: An error occurred (403) when calling the"
            " ReceiveMessage operation: User: arn:aws:iam::123456789012:user/worker is not"
            " authorized to perform: sqs:ReceiveMessage",
            "Request HTTP Error  HTTP 403  Forbidden (b'')",
        ]
    )
    assert denials(log) == log.splitlines()[1:]
