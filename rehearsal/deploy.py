"""The rehearsal's `cdk bootstrap` and `cdk deploy`: the pinned CLI against the local endpoint.

The CLI is the one package.json pins, run as infra.mk runs it (npx, no notices, no
telemetry), with `AWS_ENDPOINT_URL` naming the local endpoint and `CDK_DOCKER` naming the
wrapper that builds the image assets with buildah (rehearsal.cdk_docker). The synthesized
cloud assembly stays in the rehearsal's own directory (``<state>/cdk.out``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from rehearsal.local_aws import ACCOUNT, LocalAws

REPO = Path(__file__).resolve().parents[1]
WRAPPER = """#!/bin/sh
# CDK_DOCKER of a rehearsal: the CLI's docker commands, played by buildah (rehearsal/cdk_docker.py)
PYTHONPATH={repo} exec {python} -m rehearsal.cdk_docker "$@"
"""


class DeployFailed(RuntimeError):
    """A CDK CLI command failed; the message ends with its output."""


@dataclass(frozen=True)
class Deployment:
    """What a rehearsal deployed, and how long each step took."""

    stage: str
    stack_name: str
    cdk_out: Path
    seconds: dict[str, float]


def stack_name(stage: str) -> str:
    """The stage's stack name, as cdk.json sets it."""
    context = json.loads((REPO / "cdk.json").read_text(encoding="utf-8"))["context"]
    name: str = context["taskqueue"][stage]["stackName"]
    return name


def write_wrapper(state: Path) -> Path:
    """The `CDK_DOCKER` executable for this rehearsal."""
    path = state / "docker"
    path.write_text(WRAPPER.format(repo=REPO, python=sys.executable), encoding="utf-8")
    path.chmod(0o755)
    return path


def cli_env(aws: LocalAws, state: Path, engine_env: dict[str, str]) -> dict[str, str]:
    """The CLI's environment: the local endpoint, the wrapper, the engine's settings."""
    return {
        **os.environ,
        **engine_env,
        **aws.env(),
        "CDK_DOCKER": str(write_wrapper(state)),
        "REHEARSAL_STATE": str(state),
        "CDK_DISABLE_CLI_TELEMETRY": "1",
        "CDK_HOME": str(state / "cdk-home"),
    }


def cdk(args: list[str], env: dict[str, str], log: Path, timeout: float) -> float:
    """Run `cdk <args>` in the repository; its duration. Output appended to `log`."""
    command = ["npx", "--no-install", "cdk", *args]
    started = time.monotonic()
    with log.open("a", encoding="utf-8") as out:
        out.write(f"$ {' '.join(command)}\n")
        out.flush()
        result = subprocess.run(
            command,
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=timeout,
            check=False,
        )
    if result.returncode != 0:
        tail = "\n".join(log.read_text(encoding="utf-8").splitlines()[-40:])
        raise DeployFailed(f"cdk {args[0]} failed (exit {result.returncode}):\n{tail}")
    return time.monotonic() - started


def deploy(
    aws: LocalAws,
    stage: str,
    state: Path,
    engine_env: dict[str, str],
    timeout: float = 900,
    context: dict[str, str] | None = None,
) -> Deployment:
    """`cdk bootstrap` then `cdk deploy` of `stage` to the local endpoint (with `context`
    as more ``-c key=value``)."""
    state.mkdir(parents=True, exist_ok=True)
    env = cli_env(aws, state, engine_env)
    cdk_out = state / "cdk.out"
    common = [
        "--no-notices",
        "--app",
        f"{sys.executable} app.py",
        "--output",
        str(cdk_out),
        "-c",
        f"stage={stage}",
    ]
    for key, value in (context or {}).items():
        common += ["-c", f"{key}={value}"]
    name = stack_name(stage)
    log = state / "cdk.log"
    seconds = {
        "bootstrap": cdk(
            ["bootstrap", *common, f"aws://{ACCOUNT}/{aws.region}"], env, log, timeout
        ),
        "deploy": cdk(["deploy", *common, "--require-approval", "never", name], env, log, timeout),
    }
    return Deployment(stage=stage, stack_name=name, cdk_out=cdk_out, seconds=seconds)
