"""The CDK_DOCKER wrapper: the CLI's `docker` commands mapped to buildah, nothing dropped."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from rehearsal import cdk_docker

# What cdk-assets passes for an asset with build args, a target and a platform (docker.ts).
CLI_BUILD = [
    "--build-arg", "PYTHON_IMAGE=example/python:3.11",
    "--build-arg", "EXTRA=1",
    "--tag", "cdkasset-abc",
    "--target", "web",
    "--file", "Dockerfile",
    "--platform", "linux/arm64",
    ".",
]  # fmt: skip


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("REHEARSAL_STATE", str(tmp_path))
    return tmp_path


def test_build_passes_every_cli_argument_to_buildah() -> None:
    args = cdk_docker.build_parser().parse_args(CLI_BUILD)
    command = cdk_docker.buildah_command(args, "localhost/python-base:3.11")
    assert command[:2] == ["buildah", "bud"]
    assert "--build-arg=PYTHON_IMAGE=example/python:3.11" in command
    assert "--build-arg=PYTHON_IMAGE=localhost/python-base:3.11" not in command
    assert "--build-arg=EXTRA=1" in command
    assert "--tag=localhost/rehearse-cdkasset-abc" in command
    assert "--target=web" in command
    assert "--file=Dockerfile" in command
    assert "--platform=linux/arm64" in command
    assert command[-1] == "."


def test_build_without_python_image_uses_the_local_base() -> None:
    args = cdk_docker.build_parser().parse_args(["--tag", "cdkasset-abc", "."])
    command = cdk_docker.buildah_command(args, "localhost/python-base:3.11")
    assert "--build-arg=PYTHON_IMAGE=localhost/python-base:3.11" in command
    assert not any(option.startswith("--platform") for option in command)


@pytest.mark.parametrize(
    "option", [["--secret", "id=x,src=y"], ["--ssh", "default"], ["--cache-to", "type=local"]]
)
def test_build_refuses_what_it_cannot_honour(option: list[str]) -> None:
    args = cdk_docker.build_parser().parse_args([*option, "--tag", "cdkasset-abc", "."])
    with pytest.raises(cdk_docker.Unsupported):
        cdk_docker.buildah_command(args, "localhost/python-base:3.11")


def test_login_tag_push_are_recorded_and_images_finds_the_uri(
    state: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    built = {"localhost/rehearse-cdkasset-abc"}
    monkeypatch.setattr(cdk_docker, "image_exists", lambda image: image in built)
    uri = "123456789012.dkr.ecr.us-east-1.amazonaws.com/repo:abc"
    monkeypatch.setattr("sys.stdin", io.StringIO("token"))

    assert cdk_docker.main(["login", "--username", "AWS", "--password-stdin", "ecr"]) == 0
    assert cdk_docker.main(["inspect", "cdkasset-abc"]) == 0
    assert cdk_docker.main(["inspect", "cdkasset-other"]) == cdk_docker.NOT_FOUND
    assert cdk_docker.main(["push", uri]) == cdk_docker.NOT_FOUND  # not tagged yet
    assert cdk_docker.main(["tag", "cdkasset-abc", uri]) == 0
    assert cdk_docker.main(["push", uri]) == 0
    assert cdk_docker.main(["images", "--format", "x", "--filter", "reference=*/*:abc"]) == 0

    assert capsys.readouterr().out.split() == [uri]
    log = (state / "docker.jsonl").read_text()
    assert [json.loads(line)["command"] for line in log.splitlines()] == ["login", "tag", "push"]
    assert "token" not in log


def test_an_unknown_docker_command_fails(state: Path) -> None:
    with pytest.raises(cdk_docker.Unsupported):
        cdk_docker.main(["run", "image"])
