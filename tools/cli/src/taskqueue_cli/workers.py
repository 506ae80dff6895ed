"""The worker service's task counts in ECS, and the autoscaling bounds around them."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from taskqueue_cli.errors import CliError


@dataclass(frozen=True)
class Counts:
    """ECS's counts of one service's tasks."""

    running: int
    pending: int
    desired: int

    @property
    def settled(self) -> bool:
        return self.running == self.desired and self.pending == 0

    def __str__(self) -> str:
        return f"running {self.running}, pending {self.pending}, desired {self.desired}"


@dataclass(frozen=True)
class Bounds:
    """Application Auto Scaling's MinCapacity and MaxCapacity of the service."""

    low: int
    high: int

    def __str__(self) -> str:
        return f"{self.low}..{self.high}"


def read_counts(ecs: Any, cluster: str, service: str) -> Counts:
    """DescribeServices; an error naming the service if ECS does not know it."""
    answer = ecs.describe_services(cluster=cluster, services=[service])
    if not answer["services"]:
        raise CliError(f"no ECS service {service} in cluster {cluster}")
    found = answer["services"][0]
    return Counts(
        running=int(found["runningCount"]),
        pending=int(found["pendingCount"]),
        desired=int(found["desiredCount"]),
    )


def read_bounds(autoscaling: Any, cluster: str, service: str) -> Bounds | None:
    """The service's registered scalable target, or None if autoscaling does not manage it."""
    targets = autoscaling.describe_scalable_targets(
        ServiceNamespace="ecs",
        ResourceIds=[f"service/{cluster}/{service}"],
        ScalableDimension="ecs:service:DesiredCount",
    )["ScalableTargets"]
    if not targets:
        return None
    return Bounds(low=int(targets[0]["MinCapacity"]), high=int(targets[0]["MaxCapacity"]))


def check_within(count: int, bounds: Bounds | None) -> None:
    """Refuse a count autoscaling would undo at once."""
    if bounds is not None and not bounds.low <= count <= bounds.high:
        raise CliError(
            f"{count} is outside the worker service's autoscaling bounds {bounds}: "
            "autoscaling would move it back. Change the bounds with "
            "`make deploy CDK_ARGS='-c workerMinCount=... -c workerMaxCount=...'`"
        )


def set_desired(ecs: Any, cluster: str, service: str, count: int) -> None:
    """ECS UpdateService --desired-count."""
    ecs.update_service(cluster=cluster, service=service, desiredCount=count)


def wait_settled(
    read: Callable[[], Counts],
    report: Callable[[Counts], None],
    timeout: float,
    interval: float,
    sleep: Callable[[float], None] = time.sleep,
) -> Counts:
    """Report each change of the counts until running = desired, or fail after `timeout`."""
    deadline = time.monotonic() + timeout
    last: Counts | None = None
    while True:
        counts = read()
        if counts != last:
            report(counts)
            last = counts
        if counts.settled:
            return counts
        if time.monotonic() >= deadline:
            raise CliError(f"still {counts} after {timeout:g} s; ECS keeps going")
        sleep(interval)
