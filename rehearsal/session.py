"""One rehearsal from start to end: endpoint, deploy, deployed services as containers, stop.

    with Rehearsal(stage="dev", state=Path(".rehearsal/dev")) as rehearsal:
        print(rehearsal.web_url)

Every process, container and volume it starts is stopped and removed on exit (also after a
failure half-way). Used by `python -m rehearsal` (make rehearse) and tests/rehearsal.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import requests
from taskqueue.stores import api_keys

from rehearsal import not_rehearsed
from rehearsal.deploy import REPO, Deployment, deploy
from rehearsal.deployed import Service, deployed_services, load_template
from rehearsal.health import HEALTHY, UNHEALTHY
from rehearsal.local_aws import LocalAws
from rehearsal.runner import Runner, Task, free_port

BASE_IMAGE = "localhost/python-base:3.11"


def engine_env() -> dict[str, str]:
    """This environment with the engine settings of images.mk (unless already set)."""
    if "CONTAINERS_CONF" in os.environ:
        return dict(os.environ)
    result = subprocess.run(
        ["make", "--no-print-directory", "-s", ".images-env"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    return {**os.environ, **dict(line.split("=", 1) for line in result.stdout.split())}


class Rehearsal:
    """The local endpoint, the deployed stack, and its services running as containers."""

    def __init__(
        self,
        *,
        stage: str,
        state: Path,
        python_image: str = BASE_IMAGE,
        secrets: Mapping[str, str] | None = None,
        context: Mapping[str, str] | None = None,
    ) -> None:
        self.stage = stage
        self.secrets = dict(secrets or {})
        """Variable -> value: each a JSON secret in the local Secrets Manager, deployed with
        ``-c secrets=...`` (its ``value`` key), which ECS's way reaches both services."""
        self.context = dict(context or {})
        """More ``-c key=value`` for the deploy (a test's ``diagnosticTasks=true``)."""
        self.state = state
        self.env = {**engine_env(), "REHEARSAL_PYTHON_IMAGE": python_image}
        self.python_image = python_image
        self.aws = LocalAws(port=free_port())
        self.endpoint: subprocess.Popen[bytes] | None = None
        self.deployment: Deployment | None = None
        self.services: list[Service] = []
        self.runner = Runner(aws=self.aws, state=state, engine_env=self.env)
        self.seconds: dict[str, float] = {}
        self.api_key = ""  # client `rehearsal`'s, registered in the deployed table

    @property
    def endpoint_log(self) -> Path:
        return self.state / "endpoint.log"

    def __enter__(self) -> Rehearsal:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        """Endpoint, base image, bootstrap + deploy, IAM on, every service's tasks."""
        self.state.mkdir(parents=True, exist_ok=True)
        self.start_endpoint()
        subprocess.run(
            ["bash", "containers/base-image.sh", self.python_image],
            cwd=REPO,
            env=self.env,
            check=True,
        )
        context = dict(self.context)
        if self.secrets:
            context["secrets"] = json.dumps(self.create_secrets())
        self.deployment = deploy(self.aws, self.stage, self.state, self.env, context=context)
        self.seconds.update(self.deployment.seconds)
        template = load_template(self.deployment.cdk_out, self.deployment.stack_name)
        self.services = deployed_services(
            self.aws.client("ecs"), self.aws.client("iam"), template, self.deployment.stack_name
        )
        # ECS assumes the task roles (their trust policy names ecs-tasks.amazonaws.com, so
        # nobody else may): before IAM is enforced, the rehearsal plays that part.
        for service in self.services:
            for key in ("taskRoleArn", "executionRoleArn"):
                role = service.task_definition.get(key)
                if role and role not in self.runner.role_credentials:
                    self.runner.role_credentials[role] = self.aws.assume(role, service.short_name)
        self.api_key = self.register_client()
        self.aws.enforce_iam()
        started = time.monotonic()
        for service in self.services:
            self.runner.start_service(service)
        self.seconds["runner start"] = time.monotonic() - started

    def create_secrets(self) -> dict[str, str]:
        """Each of `secrets` as a JSON secret in the local Secrets Manager: name -> the
        ``valueFrom`` of its ``value`` key (the complete ARN, suffix included)."""
        client = self.aws.client("secretsmanager")
        sources = {}
        for name, value in self.secrets.items():
            created = client.create_secret(
                Name=f"rehearsal/{name.lower()}", SecretString=json.dumps({"value": value})
            )
            sources[name] = f"{created['ARN']}:value::"
        return sources

    def register_client(self) -> str:
        """A key for client `rehearsal` in the results table the web task was deployed with
        (its `RESULTS_TABLE`, resolved by CloudFormation)."""
        (web,) = [service for service in self.services if service.short_name == "web"]
        environment = {
            item["name"]: item["value"]
            for container in web.task_definition["containerDefinitions"]
            for item in container.get("environment", [])
        }
        return api_keys.create(
            self.aws.client("dynamodb"), environment["RESULTS_TABLE"], "rehearsal"
        )

    def start_endpoint(self) -> None:
        """moto's server on a free port (rehearsal.endpoint), ready when it answers."""
        with self.endpoint_log.open("ab") as log:
            self.endpoint = subprocess.Popen(
                [sys.executable, "-m", "rehearsal.endpoint", str(self.aws.port)],
                cwd=REPO,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with contextlib.suppress(requests.ConnectionError):
                requests.get(f"{self.aws.url}/moto-api/", timeout=2)
                return
            if self.endpoint.poll() is not None:
                break
            time.sleep(0.2)
        raise RuntimeError(f"the local endpoint did not start: {self.endpoint_log.read_text()}")

    def stop(self) -> None:
        """Stop and remove every task, then the endpoint (by PID, its session included)."""
        self.runner.stop_all()
        if self.endpoint is not None and self.endpoint.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.endpoint.pid, signal.SIGTERM)
            try:
                self.endpoint.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.endpoint.pid, signal.SIGKILL)
                self.endpoint.wait(5)

    def tasks(self, short_name: str) -> list[Task]:
        """The running tasks of the service whose container is `short_name` (web, worker)."""
        return [t for t in self.runner.tasks if t.service.short_name == short_name]

    @property
    def web_url(self) -> str:
        """The first web task's published port on loopback."""
        web = self.tasks("web")[0]
        return f"http://127.0.0.1:{next(iter(web.ports.values()))}"

    def wait_healthy(self, timeout: float) -> dict[str, str]:
        """Wait until every container's task-definition health check says HEALTHY."""
        deadline = time.monotonic() + timeout
        status: dict[str, str] = {}
        while time.monotonic() < deadline:
            status = {k: v for t in self.runner.tasks for k, v in t.health().items()}
            if UNHEALTHY in status.values():
                break
            if status and all(value == HEALTHY for value in status.values()):
                return status
            time.sleep(1)
        logs = "\n".join(
            f"--- {c.name}\n{self.runner.logs(c)[-3000:]}"
            for t in self.runner.tasks
            for c in t.containers
        )
        raise AssertionError(f"containers not healthy after {timeout}s: {status}\n{logs}")

    def report(self) -> list[str]:
        """Where each field came from, what the runner added, and what is not rehearsed."""
        assert self.deployment is not None
        lines = ["Task definition fields taken from the template (moto drops them):"]
        rows: list[tuple[str, str, str]] = []
        for service in self.services:
            rows += [
                (service.short_name, name, source)
                for name, source in sorted(service.sources.items())
                if source.startswith("template")
            ]
        lines += not_rehearsed.format_sources(rows)
        lines.append("Added or changed by the runner (everything else is the deployed definition):")
        added = {
            (t.service.short_name, k, v) for t in self.runner.tasks for k, v in t.added.items()
        }
        lines += not_rehearsed.format_sources(sorted(added))
        template = load_template(self.deployment.cdk_out, self.deployment.stack_name)
        lines += not_rehearsed.report(template, self.endpoint_log.read_text(errors="replace"))
        return lines

    def summary(self) -> dict[str, Any]:
        """Times and where things are, for the CLI's banner."""
        return {"seconds": dict(self.seconds), "endpoint": self.aws.url, "state": str(self.state)}
