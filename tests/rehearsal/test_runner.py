"""The runner's Fargate semantics that need no container: architecture, ulimits, volumes,
the ECS agent's endpoint."""

from __future__ import annotations

import json
import stat
import subprocess
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from rehearsal.deployed import Service
from rehearsal.local_aws import LocalAws
from rehearsal.runner import (
    CannotRun,
    Runner,
    Task,
    check_architecture,
    format_agent_calls,
    ulimit_options,
)


def test_an_image_of_another_architecture_is_refused() -> None:
    arm = {"runtimePlatform": {"cpuArchitecture": "ARM64"}}
    with pytest.raises(CannotRun, match="exec format error"):
        check_architecture(arm, "amd64")
    with pytest.raises(CannotRun, match="exec format error"):
        check_architecture({}, "arm64")  # no runtimePlatform: Fargate's default, X86_64


def test_ulimits_default_to_fargates_nofile_within_the_hosts_limits() -> None:
    options = ulimit_options({})
    nofile = next(option for option in options if option.startswith("--ulimit=nofile="))
    soft, hard = map(int, nofile.split("=")[-1].split(":"))
    assert soft == hard <= 65535


class FakeRunner(Runner):
    """A runner whose podman only records its calls."""

    calls: list[list[str]]

    def podman(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        self.calls.append(list(args))
        return subprocess.CompletedProcess(list(args), 0, "", "")


def mounts(tmp_path: Path, image_volumes: dict[str, Any] | None) -> tuple[list[str], FakeRunner]:
    definition = {"name": "web", "mountPoints": [{"sourceVolume": "tmp", "containerPath": "/tmp"}]}
    td = {"volumes": [{"name": "tmp"}], "containerDefinitions": [definition]}
    service = Service(name="s", logical_id="S", desired_count=1, task_definition=td)
    runner = FakeRunner(aws=LocalAws(port=1), state=tmp_path, engine_env={})
    runner.calls = []
    task = Task(service=service, task_id="rehearse-t-web-0")
    options = runner.mounts(task, definition, {"Config": {"Volumes": image_volumes}})
    return options, runner


def test_a_volume_is_a_fresh_root_0755_directory_without_an_image_volume(tmp_path: Path) -> None:
    options, runner = mounts(tmp_path, None)
    host = tmp_path / "tasks" / "rehearse-t-web-0" / "tmp"
    assert options == [f"--mount=type=bind,src={host},dst=/tmp"]
    assert stat.S_IMODE(host.stat().st_mode) == 0o755
    assert host.stat().st_uid == 0
    assert runner.calls == []


def test_an_image_volume_at_the_path_is_copied_into_a_fresh_volume(tmp_path: Path) -> None:
    options, runner = mounts(tmp_path, {"/tmp": {}})
    assert options == ["--mount=type=volume,src=rehearse-t-web-0-tmp,dst=/tmp"]
    assert runner.calls == [["volume", "create", "rehearse-t-web-0-tmp"]]


class FakeClients(LocalAws):
    """A LocalAws whose clients answer from dicts and record whose keys they were given."""

    def client(self, service: str, credentials: dict[str, str] | None = None) -> Any:
        outer = self

        class Client:
            def get_secret_value(self, **request: str) -> dict[str, str]:
                outer.calls.append((service, credentials, request))
                return {"SecretString": '{"password": "p4ss", "user": "app"}'}

            def get_parameters(self, **request: Any) -> dict[str, Any]:
                outer.calls.append((service, credentials, request))
                return {"Parameters": [{"Value": "from-ssm"}], "InvalidParameters": []}

        return Client()


def test_container_secrets_are_read_with_the_execution_roles_keys(tmp_path: Path) -> None:
    aws = FakeClients(port=1)
    aws.calls = []  # type: ignore[attr-defined]
    runner = Runner(aws=aws, state=tmp_path, engine_env={})
    runner.role_credentials = {
        "exec": {"AWS_ACCESS_KEY_ID": "E"},
        "task": {"AWS_ACCESS_KEY_ID": "T"},
    }
    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf"
    definition = {
        "secrets": [
            {"name": "DB_PASSWORD", "valueFrom": f"{arn}:password:AWSCURRENT:"},
            {"name": "DB_JSON", "valueFrom": arn},
            {"name": "SMTP", "valueFrom": "arn:aws:ssm:us-east-1:123456789012:parameter/a/smtp"},
            {"name": "PLAIN", "valueFrom": "arn:aws:ssm:us-east-1:123456789012:parameter/plain"},
        ]
    }
    found = runner.resolve_secrets({"executionRoleArn": "exec", "taskRoleArn": "task"}, definition)
    assert found == {
        "DB_PASSWORD": "p4ss",
        "DB_JSON": '{"password": "p4ss", "user": "app"}',
        "SMTP": "from-ssm",
        "PLAIN": "from-ssm",
    }
    calls = aws.calls  # type: ignore[attr-defined]
    assert {keys["AWS_ACCESS_KEY_ID"] for _, keys, _ in calls} == {"E"}
    assert calls[0][2] == {"SecretId": arn, "VersionStage": "AWSCURRENT"}
    assert calls[2][2] == {"Names": ["/a/smtp"], "WithDecryption": True}
    assert calls[3][2] == {"Names": ["plain"], "WithDecryption": True}


def test_secrets_without_an_execution_role_cannot_start(tmp_path: Path) -> None:
    runner = Runner(aws=LocalAws(port=1), state=tmp_path, engine_env={})
    with pytest.raises(CannotRun, match="execution role"):
        runner.resolve_secrets({}, {"secrets": [{"name": "X", "valueFrom": "arn:aws:ssm:x"}]})


def test_each_task_gets_an_ecs_agent_stand_in_that_its_containers_reach_on_10_0_2_2(
    tmp_path: Path,
) -> None:
    definition: dict[str, Any] = {"name": "worker", "environment": []}
    td = {"containerDefinitions": [definition]}
    service = Service(name="s", logical_id="S", desired_count=1, task_definition=td)
    runner = FakeRunner(aws=LocalAws(port=1), state=tmp_path, engine_env={})
    runner.calls = []
    task = Task(service=service, task_id="rehearse-t-worker-0")
    runner.start_agent(task)
    assert task.agent is not None
    agent = task.agent
    try:
        env = runner.environment(task, definition)
        assert env["ECS_AGENT_URI"] == f"http://10.0.2.2:{agent.port}"
        assert "stand-in" in task.added["ECS_AGENT_URI"]
        # What a worker in the container sends arrives at the stand-in on the host's loopback.
        request = urllib.request.Request(
            agent.url + "/task-protection/v1/state",
            data=json.dumps({"ProtectionEnabled": True, "ExpiresInMinutes": 5}).encode(),
            method="PUT",
        )
        with urllib.request.urlopen(request, timeout=5) as answer:
            assert json.loads(answer.read())["protection"]["TaskArn"].endswith(task.task_id)
    finally:
        runner.remove(task)
    assert task.agent is None
    assert runner.agent_calls == {
        "rehearse-t-worker-0": [("PUT", {"ProtectionEnabled": True, "ExpiresInMinutes": 5})]
    }
    with pytest.raises(OSError):
        urllib.request.urlopen(agent.url + "/task-protection/v1/state", timeout=2)
    assert format_agent_calls(runner.agent_calls | {"rehearse-t-web-0": []})[1:] == [
        "  rehearse-t-web-0: none",
        '  rehearse-t-worker-0: PUT {"ExpiresInMinutes": 5, "ProtectionEnabled": true}',
    ]
