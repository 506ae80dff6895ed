"""The runner's Fargate semantics that need no container: architecture, ulimits, volumes."""

from __future__ import annotations

import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest

from rehearsal.deployed import Service
from rehearsal.local_aws import LocalAws
from rehearsal.runner import CannotRun, Runner, Task, check_architecture, ulimit_options


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
