"""podman for the image tests: the project's engine settings and containers started by name.

Every container gets a name of this test run's own; ``remove_all`` removes exactly those.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TOOLS = ("buildah", "podman", "runc", "debootstrap")
# podman 4.3 sets its own RLIMIT_NPROC to 32768 when it starts (seen with strace); without
# CAP_SYS_RESOURCE, runc cannot give a container more than that, nor more than the host's.
PODMAN_NPROC = 32768


def missing_tools() -> list[str]:
    """The container tools that are not on PATH."""
    return [tool for tool in TOOLS if shutil.which(tool) is None]


def make(*args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    """`make <args>` in the repository, output captured."""
    return subprocess.run(
        ["make", "--no-print-directory", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def engine_env() -> dict[str, str]:
    """This environment plus the engine settings images.mk gives buildah and podman."""
    result = make("-s", ".images-env", timeout=30)
    assert result.returncode == 0, result.stderr
    settings = dict(line.split("=", 1) for line in result.stdout.split())
    return {**os.environ, **settings}


def ulimits() -> list[str]:
    """Limits within the host's hard limits: podman's defaults are above them here."""
    nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    nproc = min(resource.getrlimit(resource.RLIMIT_NPROC)[1], PODMAN_NPROC)
    return [f"--ulimit=nofile={nofile}:{nofile}", f"--ulimit=nproc={nproc}:{nproc}"]


@dataclass
class Podman:
    """podman with the project's settings, remembering the containers it started."""

    env: dict[str, str]
    prefix: str
    started: list[str] = field(default_factory=list)

    def __call__(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """`podman <args>`, output captured, never raising on a non-zero exit."""
        return subprocess.run(
            ["podman", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def run(
        self, name: str, image: str, env: dict[str, str], *command: str, detach: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """`podman run` on the host's network with `env` as its only configuration.

        As on ECS (infra: `readonlyRootFilesystem` and a scratch volume on /tmp): the image's
        filesystem is read-only and only /tmp is writable.
        """
        container = f"{self.prefix}-{name}"
        self.started.append(container)
        options = [f"--env={key}={value}" for key, value in env.items()]
        if detach:
            options.append("--detach")
        return self(
            "run",
            f"--name={container}",
            "--network=host",
            "--read-only",
            "--read-only-tmpfs=false",
            "--tmpfs=/tmp",
            *ulimits(),
            *options,
            image,
            *command,
            timeout=120,
        )

    def name(self, name: str) -> str:
        """The full container name of `name`."""
        return f"{self.prefix}-{name}"

    def healthcheck(self, name: str) -> tuple[int, str]:
        """Run the container's HEALTHCHECK once: its exit code and what the check printed."""
        result = self("healthcheck", "run", self.name(name), timeout=30)
        log = self("inspect", "--format={{json .State.Health.Log}}", self.name(name))
        entries = json.loads(log.stdout or "null") or [{"Output": ""}]
        return result.returncode, str(entries[-1]["Output"]).strip()

    def host_pids(self, name: str) -> list[int]:
        """Host PIDs of every process in the container."""
        result = self("top", self.name(name), "hpid")
        assert result.returncode == 0, result.stderr
        return [int(pid) for pid in result.stdout.split()[1:]]

    def remove_all(self) -> None:
        """Remove every container this object started, running or not."""
        for container in reversed(self.started):
            self("rm", "--force", "--time=0", container)
        self.started.clear()
