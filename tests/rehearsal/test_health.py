"""ECS's health status arithmetic: start period, retries, recovery."""

from __future__ import annotations

import pytest

from rehearsal.health import HEALTHY, UNHEALTHY, UNKNOWN, HealthCheckSpec, HealthState

SPEC = HealthCheckSpec(command=("CMD", "check"), interval=10, timeout=5, retries=3, start_period=20)


def test_failures_in_the_start_period_do_not_count() -> None:
    state = HealthState(spec=SPEC, started=0)
    assert [state.record(t, False) for t in (10, 19)] == [UNKNOWN, UNKNOWN]
    assert [state.record(t, False) for t in (20, 30)] == [UNKNOWN, UNKNOWN]
    assert state.record(40, False) == UNHEALTHY


def test_a_success_makes_it_healthy_and_resets_the_failures() -> None:
    state = HealthState(spec=SPEC, started=0)
    assert state.record(10, True) == HEALTHY
    assert [state.record(t, False) for t in (30, 40)] == [HEALTHY, HEALTHY]
    assert state.record(50, True) == HEALTHY
    assert [state.record(t, False) for t in (60, 70, 80)] == [HEALTHY, HEALTHY, UNHEALTHY]


@pytest.mark.parametrize(
    ("command", "argv"),
    [
        (("CMD", "web-healthcheck"), ["web-healthcheck"]),
        (
            ("CMD-SHELL", "curl -f localhost || exit 1"),
            ["/bin/sh", "-c", "curl -f localhost || exit 1"],
        ),
    ],
)
def test_exec_and_shell_forms(command: tuple[str, ...], argv: list[str]) -> None:
    assert HealthCheckSpec(command=command).exec_argv() == argv


def test_defaults_are_ecs_defaults() -> None:
    spec = HealthCheckSpec.from_definition({"command": ["CMD", "x"]})
    assert (spec.interval, spec.timeout, spec.retries, spec.start_period) == (30, 5, 3, 0)
