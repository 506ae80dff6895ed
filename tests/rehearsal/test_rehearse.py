"""The rehearsal end to end: the real CDK CLI deploys to moto, both services run as containers.

One rehearsal for the module (deploy about 40 s with the images cached, both health checks
about 35 s more). Everything it started is stopped and removed at the end.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from taskqueue.factory import declared_queues
from taskqueue.settings import Settings
from taskqueue_cli.api import TaskApi

from rehearsal.deploy import REPO
from rehearsal.deployed import load_template
from rehearsal.health import HEALTHY
from rehearsal.session import Rehearsal
from tests.verify_report import named, outcomes

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

TOOLS = ("buildah", "podman", "runc", "debootstrap", "slirp4netns", "npx")
SECRET_NAME = "DATABASE_URL"
SECRET = "postgres://app:rehearsal-Pa55w0rd@db.internal/app"


@pytest.fixture(scope="module")
def rehearsal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rehearsal]:
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        pytest.fail(f"the rehearsal needs {missing}: make install", pytrace=False)
    if os.geteuid() != 0:
        pytest.fail("the rehearsal needs root (rootful buildah and podman)", pytrace=False)
    state = tmp_path_factory.mktemp("rehearsal")
    # check_secret is a diagnostic task: a test's stack offers them, a deploy by default not.
    with Rehearsal(
        stage="dev",
        state=state,
        secrets={SECRET_NAME: SECRET},
        context={"diagnosticTasks": "true"},
    ) as running:
        yield running
    # The fixture's exit removed everything: no container of this rehearsal is left.
    listing = running.runner.podman("ps", "--all", "--format={{.Names}}")
    assert running.runner.prefix not in listing.stdout


def enqueue(api: TaskApi, task: str, **params: Any) -> str:
    response = api.post_task(task, params)
    assert response.status_code == 202, response.text
    task_id: str = response.json()["id"]
    return task_id


def wait_for_state(api: TaskApi, task_id: str, wanted: set[str], timeout: float) -> str:
    deadline = time.monotonic() + timeout
    state = ""
    while time.monotonic() < deadline:
        state = str(api.get_task(task_id).json()["state"])
        if state in wanted:
            return state
        time.sleep(0.25)
    raise AssertionError(f"task {task_id} is {state}, not in {wanted} after {timeout}s")


def test_every_container_reports_healthy_through_its_task_definition_check(
    rehearsal: Rehearsal,
) -> None:
    status = rehearsal.wait_healthy(timeout=180)
    assert set(status.values()) == {HEALTHY}
    # The web, the default queue's worker and each other queue's (`worker-reports`).
    others = declared_queues(Settings.from_values())[1:]
    names = {c.name.rsplit("-", 1)[1] for t in rehearsal.runner.tasks for c in t.containers}
    assert names == {"web", "worker", *others}
    # The checks that ran are the task definition's, not the image's HEALTHCHECK.
    for task in rehearsal.runner.tasks:
        for container in task.containers:
            assert container.health is not None
            assert container.health.spec.command == tuple(
                container.definition["healthCheck"]["command"]
            )


def test_the_containers_run_what_the_task_definitions_say(rehearsal: Rehearsal) -> None:
    for task in rehearsal.runner.tasks:
        container = task.containers[0]
        info = rehearsal.runner.podman(
            "inspect", "--format={{.HostConfig.ReadonlyRootfs}}", container.name
        )
        assert info.stdout.strip() == "true"
        assert task.service.task_definition["runtimePlatform"]["cpuArchitecture"] == "X86_64"
        assert task.service.sources["taskRoleArn"].startswith("template ")
        # uid 10001 writes /tmp: the task volume holds the image's VOLUME directory.
        wrote = rehearsal.runner.podman("exec", container.name, "sh", "-c", "id -u && touch /tmp/x")
        assert wrote.returncode == 0 and wrote.stdout.split() == ["10001"], wrote.stderr


def test_a_task_queued_on_the_printed_url_succeeds(rehearsal: Rehearsal) -> None:
    rehearsal.wait_healthy(timeout=180)
    api = TaskApi(rehearsal.web_url, api_key=rehearsal.api_key)
    task_id = enqueue(api, "long_task", duration=1)
    assert wait_for_state(api, task_id, {"SUCCESS"}, timeout=60) == "SUCCESS"


def test_iam_is_enforced_on_the_deployed_roles(rehearsal: Rehearsal) -> None:
    web = rehearsal.tasks("web")[0]
    credentials = rehearsal.runner.role_credentials[web.service.task_definition["taskRoleArn"]]
    sqs = rehearsal.aws.client("sqs", credentials)
    queue = next(v for k, v in web.added.items() if k == "TASK_QUEUE_URL").split(" -> ")[0]
    with pytest.raises(ClientError) as denied:
        sqs.receive_message(QueueUrl=queue)  # the web may send, never consume
    assert denied.value.response["Error"]["Code"] in {"403", "AccessDenied"}


def test_stopping_the_worker_mid_task_finishes_or_redelivers_it(rehearsal: Rehearsal) -> None:
    rehearsal.wait_healthy(timeout=180)
    api = TaskApi(rehearsal.web_url, api_key=rehearsal.api_key)
    task_id = enqueue(api, "long_task", duration=6)
    wait_for_state(api, task_id, {"PROGRESS"}, timeout=60)
    worker = rehearsal.tasks("worker")[0]
    stop_timeout = worker.containers[0].stop_timeout
    started = time.monotonic()
    codes = rehearsal.runner.stop_task(worker)  # SIGTERM, stopTimeout, SIGKILL, as ECS
    # Celery's warm shutdown: the running task finishes, then the worker exits by itself.
    assert time.monotonic() - started < stop_timeout
    assert list(codes.values()) == [0], codes
    # The service scheduler's replacement, in case the task went back to the queue.
    rehearsal.runner.start_task(worker.service, index=1)
    assert wait_for_state(api, task_id, {"SUCCESS"}, timeout=90) == "SUCCESS"


def test_every_task_reaches_its_ecs_agent_stand_in_through_ECS_AGENT_URI(
    rehearsal: Rehearsal,
) -> None:
    """The container asks for its protection state as a worker would; the stand-in records it."""
    probe = (
        "import json, os, urllib.request; "
        "url = os.environ['ECS_AGENT_URI'] + '/task-protection/v1/state'; "
        "print(json.load(urllib.request.urlopen(url, timeout=5))['protection']['TaskArn'])"
    )
    for task in rehearsal.runner.tasks:
        assert task.agent is not None
        before = len(task.agent.calls)
        asked = rehearsal.runner.podman("exec", task.containers[0].name, "python", "-c", probe)
        assert asked.returncode == 0, asked.stderr
        assert asked.stdout.strip() == task.agent.task_arn
        # The worker's own protection calls (PUT) may arrive meanwhile; the probe's GET did.
        assert ("GET", None) in task.agent.calls[before:]
        assert all(method in {"GET", "PUT"} for method, _ in task.agent.calls)


def test_what_moto_did_not_create_is_reported(rehearsal: Rehearsal) -> None:
    report = "\n".join(rehearsal.report())
    for kind in ("AWS::CloudWatch::Alarm", "AWS::ApplicationAutoScaling::ScalingPolicy"):
        assert kind in report
    assert "the load balancer" in report and "networking" in report


def test_the_web_url_is_on_loopback(rehearsal: Rehearsal) -> None:
    assert rehearsal.web_url.startswith("http://127.0.0.1:")
    assert Path(rehearsal.state, "docker.jsonl").exists()


def test_a_task_reads_its_secret_from_secrets_manager_through_the_task_definition(
    rehearsal: Rehearsal,
) -> None:
    rehearsal.wait_healthy(timeout=180)
    worker = rehearsal.tasks("worker")[0]
    definition = worker.containers[0].definition
    (secret,) = definition["secrets"]
    assert secret["name"] == SECRET_NAME and secret["valueFrom"].endswith(":value::")
    assert SECRET_NAME not in {item["name"] for item in definition.get("environment", [])}
    digest = hashlib.sha256(SECRET.encode()).hexdigest()
    api = TaskApi(rehearsal.web_url, api_key=rehearsal.api_key)
    read = enqueue(api, "check_secret", name=SECRET_NAME, sha256=digest)
    assert wait_for_state(api, read, {"SUCCESS"}, timeout=60) == "SUCCESS"
    failed = enqueue(api, "check_secret", name=SECRET_NAME, sha256="0" * 64)
    assert wait_for_state(api, failed, {"FAILURE"}, timeout=60) == "FAILURE"
    time.sleep(1)  # the failure's log line
    logs = "".join(rehearsal.runner.logs(c) for t in rehearsal.runner.tasks for c in t.containers)
    assert f"check_secret[{failed}]" in logs
    assert SECRET not in logs and "Pa55w0rd" not in logs


def test_only_the_execution_role_may_read_the_secret(rehearsal: Rehearsal) -> None:
    worker = rehearsal.tasks("worker")[0]
    td = worker.service.task_definition
    arn = td["containerDefinitions"][0]["secrets"][0]["valueFrom"].rsplit(":", 3)[0]
    execution = rehearsal.runner.role_credentials[td["executionRoleArn"]]
    task_role = rehearsal.runner.role_credentials[td["taskRoleArn"]]
    read = rehearsal.aws.client("secretsmanager", execution).get_secret_value(SecretId=arn)
    assert SECRET in read["SecretString"]
    with pytest.raises(ClientError) as denied:
        rehearsal.aws.client("secretsmanager", task_role).get_secret_value(SecretId=arn)
    assert denied.value.response["Error"]["Code"] in {
        "403",
        "AccessDenied",
        "AccessDeniedException",
    }


def test_make_verify_passes_what_moto_can_check_and_names_the_rest_not_verifiable_offline(
    rehearsal: Rehearsal,
) -> None:
    """`make verify` finds the rehearsed stack by its stage (the endpoint gives a change set's
    stack its outputs) and runs every check; exactly these pass, exactly these cannot run on
    moto (no alarm and no schedule created by its CloudFormation, no target registered)."""
    rehearsal.wait_healthy(timeout=180)
    assert rehearsal.deployment is not None
    template = load_template(rehearsal.deployment.cdk_out, rehearsal.deployment.stack_name)
    schedules = {
        f"schedule {resource['Properties']['Name']}"
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::Scheduler::Schedule"
    }
    env = {**os.environ, **rehearsal.aws.env(), "COLUMNS": "200"}
    args = f"VERIFY_ARGS=--url {rehearsal.web_url}"

    result = subprocess.run(
        ["make", "--no-print-directory", "verify", "STAGE=dev", args],
        cwd=REPO,
        env={k: v for k, v in env.items() if not k.startswith("TASKQUEUE_")},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    found = outcomes(result.stdout)
    assert named(found, "PASS") == {
        "api key",
        "task to SUCCESS",
        "worker presence",
        "task DLQ",
        "api key revoked",
        *({"schedules DLQ"} if schedules else set()),
    }, result.stdout
    assert named(found, "not verifiable offline") == {
        "load balancer targets",
        "alarm notification",
        "payload bucket",  # moto's CloudFormation sets no lifecycle rules
        *schedules,
    }, result.stdout
    assert "FAIL" not in found.values()
    assert f"through {rehearsal.web_url}" in result.stdout
