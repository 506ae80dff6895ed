"""The images themselves, built from the assets `cdk synth` stages and run as containers.

`make images` builds the web and worker images from a fresh cloud assembly with buildah (on a
local debootstrap base image, no registry); then a moto server on loopback stands in for SQS
and DynamoDB, the worker image bootstraps the queue, DLQ and table (the compose file's
`bootstrap` service), and the web and worker images run as containers on the host network.

Needs root and Debian's buildah, podman, runc and debootstrap (`make install` installs them);
without them these tests fail. Cost: ~2 min with a cold cache, ~30 s warm (containers/README.md).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from taskqueue.settings import Settings
from taskqueue.stores import api_keys

from harness.processes import start, wait_until
from harness.stack import CLIENT, LocalStack
from tests.images.dockerfile import dockerfile_cmd
from tests.images.engine import Podman, engine_env, make, missing_tools

pytestmark = pytest.mark.timeout(600)

SERVICES = ("web", "worker")
BASE_IMAGE = "localhost/python-base:3.11"
CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
# The worker's heartbeat inside its container (the settings' default directory).
HEARTBEAT_FILE = "/tmp/taskqueue-worker-heartbeat"
APP_UID = "10001"


def image(service: str) -> str:
    return f"localhost/taskqueue-{service}:local"


@dataclass(frozen=True)
class Assets:
    """The cloud assembly the images were built from: service (the Dockerfile's target) ->
    (asset hash, staged Dockerfile)."""

    cdk_out: Path
    by_service: dict[str, tuple[str, Path]]


@pytest.fixture(scope="module")
def podman() -> Podman:
    """podman with the project's engine settings; fails when the tools are missing."""
    missing = missing_tools()
    if missing:
        pytest.fail(
            f"{', '.join(missing)} not installed: the image tests build and run real "
            "containers. Install them with `make .images-deps` (part of `make install`; "
            "apt-get install buildah podman runc debootstrap, as root).",
            pytrace=False,
        )
    if os.geteuid() != 0:
        pytest.fail("the image tests need root (rootful buildah and podman)", pytrace=False)
    return Podman(env=engine_env(), prefix=f"taskqueue-test-{os.getpid()}")


@pytest.fixture(scope="module")
def assets(podman: Podman, tmp_path_factory: pytest.TempPathFactory) -> Assets:
    """`make images` from a fresh `cdk synth` (base image and unchanged images cached)."""
    cdk_out = tmp_path_factory.mktemp("images") / "cdk.out"
    result = make("images", f"CDK_OUT={cdk_out}", timeout=560)
    assert result.returncode == 0, f"make images failed:\n{(result.stdout + result.stderr)[-6000:]}"
    by_service = {}
    for manifest in cdk_out.glob("*.assets.json"):
        for asset_hash, entry in json.loads(manifest.read_text())["dockerImages"].items():
            service = entry["source"]["dockerBuildTarget"]
            context = cdk_out / entry["source"]["directory"]
            dockerfile = entry["source"].get("dockerFile", "Dockerfile")
            by_service[service] = (asset_hash, context / dockerfile)
    assert sorted(by_service) == sorted(SERVICES)
    return Assets(cdk_out=cdk_out, by_service=by_service)


def container_env(stack: LocalStack) -> dict[str, str]:
    """The settings of `stack.env` (and the fake credentials), nothing else from the host."""
    names = {name.upper() for name in Settings.model_fields}
    names |= {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}
    env = {key: value for key, value in stack.env.items() if key in names}
    env["WORKER_HEARTBEAT_FILE"] = HEARTBEAT_FILE
    # The images install shared/ alone, without the diagnostic tasks (devstack/): asked for
    # them, a container would refuse to start (taskqueue.factory.load_diagnostic_tasks).
    env["DIAGNOSTIC_TASKS"] = "false"
    return env


def wait_for(ready: Callable[[], bool], timeout: float, what: str, logs: Callable[[], str]) -> None:
    """wait_until, failing with the container's log."""
    try:
        wait_until(ready, timeout, what)
    except AssertionError as error:
        raise AssertionError(f"{error}\n{logs()[-4000:]}") from None


@dataclass
class ContainerStack:
    """moto on loopback, the bootstrap's output, and the web and worker containers."""

    local: LocalStack
    podman: Podman
    bootstrap_output: str

    def logs(self, service: str) -> str:
        result = self.podman("logs", self.podman.name(service))
        return result.stdout + result.stderr


@pytest.fixture(scope="module")
def stack(
    podman: Podman, assets: Assets, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ContainerStack]:
    """The compose file's four services: aws (moto, on the host), bootstrap, worker, web."""
    local = LocalStack(work_dir=tmp_path_factory.mktemp("containers"))
    endpoint = local.env["AWS_ENDPOINT_URL"]
    try:
        moto = start(
            "aws",
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(local.aws_port)],
            local.env,
            local.work_dir,
        )
        local.processes.append(moto)
        wait_until(lambda: requests.get(f"{endpoint}/moto-api/", timeout=1).ok, 30, "moto", moto)
        # The bootstrap container makes the queue at the URL the endpoint gives its account
        # (the compose file names it too): asked, not assumed to be moto's.
        account = local.client("sts").get_caller_identity()["Account"]
        local.env["TASK_QUEUE_URL"] = f"{endpoint}/{account}/{local.settings.task_queue_name}"
        env = container_env(local)
        bootstrap = podman.run(
            "bootstrap", image("worker"), env, "python", "-m", "taskqueue.bootstrap", detach=False
        )
        assert bootstrap.returncode == 0, bootstrap.stderr
        api_keys.register(
            local.client("dynamodb"), local.settings.results_table, CLIENT, local.api_key
        )
        for service in ("worker", "web"):
            started = podman.run(service, image(service), env)
            assert started.returncode == 0, started.stderr
        containers = ContainerStack(local, podman, bootstrap.stdout)
        wait_for(
            lambda: podman.healthcheck("worker")[0] == 0,
            60,
            "the worker container's heartbeat",
            lambda: containers.logs("worker"),
        )
        wait_for(
            lambda: requests.get(f"{local.web_url}/healthz", timeout=1).ok,
            60,
            "the web container's /healthz",
            lambda: containers.logs("web"),
        )
        yield containers
    finally:
        podman.remove_all()
        local.stop()


def inspect(podman: Podman, reference: str, kind: str = "image") -> dict[str, Any]:
    result = podman(kind, "inspect", reference)
    assert result.returncode == 0, result.stderr
    parsed: dict[str, Any] = json.loads(result.stdout)[0]
    return parsed


# --- the images ---------------------------------------------------------------------------


@pytest.mark.parametrize("service", SERVICES)
def test_image_is_built_from_its_staged_cdk_asset_on_the_local_base(
    podman: Podman, assets: Assets, service: str
) -> None:
    asset_hash, dockerfile = assets.by_service[service]
    base = inspect(podman, BASE_IMAGE)
    built = inspect(podman, image(service))

    pinned = inspect(podman, f"localhost/taskqueue-{service}:{asset_hash}-{base['Id'][:12]}")
    assert pinned["Id"] == built["Id"], "the :local tag is not the image of this asset"
    assert built["RootFS"]["Layers"][0] == base["RootFS"]["Layers"][0]

    config = built["Config"]
    assert config["Cmd"] == dockerfile_cmd(dockerfile, service)
    assert config["User"] == f"{APP_UID}:{APP_UID}"
    # Docker's image format: the OCI format has no HEALTHCHECK.
    assert built["ManifestType"] == "application/vnd.docker.distribution.manifest.v2+json"
    assert built["Healthcheck"]["Test"] == ["CMD", f"{service}-healthcheck"]


@pytest.mark.parametrize("service", SERVICES)
def test_the_build_time_ca_bundle_is_not_in_the_image(
    podman: Podman, assets: Assets, service: str
) -> None:
    """The host's CA bundle is mounted only while RUN steps run: the image keeps the base's."""
    diff = podman("image", "diff", image(service), BASE_IMAGE)
    assert diff.returncode == 0, diff.stderr
    changed = [line.split(maxsplit=1)[1] for line in diff.stdout.splitlines()]
    assert changed, "no difference from the base image?"
    assert not [path for path in changed if path.startswith("/etc/ssl")]
    assert CA_BUNDLE not in changed


# --- the containers -----------------------------------------------------------------------


def test_the_bootstrap_container_creates_the_queue_dlq_and_table(stack: ContainerStack) -> None:
    urls = json.loads(stack.bootstrap_output.strip().splitlines()[-1])
    assert urls["queue_url"] == stack.local.queue_url
    sqs, dynamodb = stack.local.client("sqs"), stack.local.client("dynamodb")
    attributes = sqs.get_queue_attributes(QueueUrl=urls["queue_url"], AttributeNames=["All"])
    assert "RedrivePolicy" in attributes["Attributes"]
    assert sqs.get_queue_attributes(QueueUrl=urls["dlq_url"], AttributeNames=["QueueArn"])
    table = dynamodb.describe_table(TableName=stack.local.settings.results_table)
    assert table["Table"]["TableStatus"] == "ACTIVE"


def test_a_task_queued_on_the_web_container_succeeds_on_the_worker_container(
    stack: ContainerStack,
) -> None:
    api = stack.local.api()
    response = api.post_task("long_task", {"duration": 2})
    assert response.status_code == 202, response.text
    status_url = response.json()["status_url"]

    states: list[str] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        body = api.get(status_url, timeout=5).json()
        states.append(body["state"])
        if body["state"] in {"SUCCESS", "FAILURE"}:
            break
        time.sleep(0.2)
    assert body["state"] == "SUCCESS", f"states seen: {states}\n{stack.logs('worker')[-3000:]}"
    assert body["result"] == {"duration": 2}
    assert "Completed work on 2" in stack.logs("worker")
    assert stack.local.queue_depth() == 0


@pytest.mark.parametrize("service", SERVICES)
def test_every_process_in_the_container_runs_as_the_app_user(
    stack: ContainerStack, service: str
) -> None:
    top = stack.podman("top", stack.podman.name(service), "huser", "user", "args")
    assert top.returncode == 0, top.stderr
    rows = [line.split(maxsplit=2) for line in top.stdout.splitlines()[1:]]
    assert rows, top.stdout
    assert {(uid, user) for uid, user, _ in rows} == {(APP_UID, "app")}, top.stdout


@pytest.mark.parametrize("service", SERVICES)
def test_the_running_service_can_write_only_to_tmp(stack: ContainerStack, service: str) -> None:
    def write(path: str) -> subprocess.CompletedProcess[str]:
        return stack.podman("exec", stack.podman.name(service), "touch", path)

    assert write("/tmp/scratch").returncode == 0
    for path in ("/home/app/x", "/opt/venv/x"):  # both owned by the app user
        denied = write(path)
        assert denied.returncode != 0 and "Read-only file system" in denied.stderr, path


def test_web_healthcheck_is_healthy_and_unhealthy_while_gunicorn_is_stopped(
    stack: ContainerStack,
) -> None:
    assert stack.podman.healthcheck("web")[0] == 0
    assert (
        inspect(stack.podman, stack.podman.name("web"), "container")["State"]["Health"]["Status"]
        == "healthy"
    )

    pids = stack.podman.host_pids("web")
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        code, output = stack.podman.healthcheck("web")
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGCONT)

    assert code == 1 and output.startswith("unhealthy:"), output
    wait_until(lambda: stack.podman.healthcheck("web")[0] == 0, 20, "healthy again")


def test_worker_healthcheck_is_healthy_and_unhealthy_while_the_worker_is_stopped(
    stack: ContainerStack,
) -> None:
    code, output = stack.podman.healthcheck("worker")
    assert code == 0 and output.startswith("healthy: last heartbeat"), output

    worker = inspect(stack.podman, stack.podman.name("worker"), "container")["State"]["Pid"]
    limit = 3 * float(stack.local.env["WORKER_HEARTBEAT_INTERVAL"])
    os.kill(worker, signal.SIGSTOP)
    try:
        time.sleep(limit + 1)
        code, output = stack.podman.healthcheck("worker")
    finally:
        os.kill(worker, signal.SIGCONT)

    assert code == 1 and output.startswith("unhealthy: last heartbeat"), output
    wait_until(lambda: stack.podman.healthcheck("worker")[0] == 0, 20, "healthy again")
