"""A container health check run the way the ECS agent runs the task definition's `healthCheck`.

The image's HEALTHCHECK is ignored (containers start with ``--no-healthcheck``): only the task
definition's command counts, run inside the container every `interval` seconds, killed after
`timeout`. Status starts UNKNOWN; a success makes it HEALTHY; a failure during `startPeriod`
does not count; `retries` failures in a row after it make it UNHEALTHY. Defaults are ECS's:
interval 30, timeout 5, retries 3, startPeriod 0.
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

UNKNOWN, HEALTHY, UNHEALTHY = "UNKNOWN", "HEALTHY", "UNHEALTHY"


@dataclass(frozen=True)
class HealthCheckSpec:
    """The task definition's `healthCheck` of one container."""

    command: tuple[str, ...]
    interval: float = 30
    timeout: float = 5
    retries: int = 3
    start_period: float = 0

    @classmethod
    def from_definition(cls, definition: dict[str, Any]) -> HealthCheckSpec:
        """From the ECS API's `healthCheck` object."""
        return cls(
            command=tuple(definition["command"]),
            interval=float(definition.get("interval", 30)),
            timeout=float(definition.get("timeout", 5)),
            retries=int(definition.get("retries", 3)),
            start_period=float(definition.get("startPeriod", 0)),
        )

    def exec_argv(self) -> list[str]:
        """What runs inside the container: `CMD` exec form or `CMD-SHELL` through /bin/sh."""
        kind, *rest = self.command
        if kind == "CMD":
            return list(rest)
        if kind == "CMD-SHELL":
            return ["/bin/sh", "-c", " ".join(rest)]
        raise ValueError(f"healthCheck command must start with CMD or CMD-SHELL: {self.command}")


@dataclass
class HealthState:
    """ECS's status arithmetic, apart from any process so it can be tested alone."""

    spec: HealthCheckSpec
    started: float
    status: str = UNKNOWN
    failures: int = 0
    history: list[tuple[float, bool, str]] = field(default_factory=list)

    def record(self, now: float, passed: bool, output: str = "") -> str:
        """Count one check's result; the status after it."""
        self.history.append((now, passed, output))
        if passed:
            self.failures = 0
            self.status = HEALTHY
        elif now - self.started >= self.spec.start_period:
            self.failures += 1
            if self.failures >= self.spec.retries:
                self.status = UNHEALTHY
        return self.status


Probe = Callable[[Sequence[str], float], tuple[bool, str]]


def podman_exec_probe(container: str, env: dict[str, str]) -> Probe:
    """Run a command in `container`; whether it exited 0 within the timeout, and its output."""

    def probe(argv: Sequence[str], timeout: float) -> tuple[bool, str]:
        try:
            result = subprocess.run(
                ["podman", "exec", container, *argv],
                env=env,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return False, f"timed out after {timeout:g}s"
        return result.returncode == 0, (result.stdout + result.stderr).strip()[-500:]

    return probe


class HealthMonitor(threading.Thread):
    """Runs the check on its schedule until `stop()`; `state.status` is the current status."""

    def __init__(self, spec: HealthCheckSpec, probe: Probe, name: str) -> None:
        super().__init__(name=f"health-{name}", daemon=True)
        self.spec = spec
        self.probe = probe
        self.state = HealthState(spec=spec, started=time.monotonic())
        self._stopped = threading.Event()

    def run(self) -> None:
        while not self._stopped.wait(self.spec.interval):
            passed, output = self.probe(self.spec.exec_argv(), self.spec.timeout)
            if self._stopped.is_set():
                return
            self.state.record(time.monotonic(), passed, output)

    def stop(self) -> None:
        """No further checks."""
        self._stopped.set()
