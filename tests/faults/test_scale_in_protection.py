"""A busy worker protects its ECS task from scale-in, through a stand-in for the ECS agent."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from harness.ecs_agent import EcsAgentStandIn
from harness.processes import Process, wait_until
from harness.stack import LocalStack
from tests.faults.conftest import enqueue, wait_for_states

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

PROTECTION = {"TASK_PROTECTION_MINUTES": "1", "TASK_PROTECTION_RENEWAL": "2"}
ON = {"ProtectionEnabled": True, "ExpiresInMinutes": 1}
OFF = {"ProtectionEnabled": False}


@pytest.fixture
def agent(request: pytest.FixtureRequest) -> Iterator[EcsAgentStandIn]:
    options: dict[str, Any] = getattr(request, "param", {})
    stand_in = EcsAgentStandIn(**options).start()
    try:
        yield stand_in
    finally:
        stand_in.stop()


def start_protected_worker(stack: LocalStack, agent: EcsAgentStandIn) -> Process:
    stack.env.update({"TASK_MAX_DURATION": "10"})
    stack.start_web()
    return stack.start_worker(ECS_AGENT_URI=agent.url, WORKER_CONCURRENCY="1", **PROTECTION)


def test_protected_while_busy_renewed_before_expiry_released_when_idle(
    stack: LocalStack, agent: EcsAgentStandIn
) -> None:
    worker = start_protected_worker(stack, agent)
    time.sleep(2)
    assert agent.calls == []  # idle: nothing to protect

    task_id = enqueue(stack, "long_task", duration=8)
    wait_until(lambda: agent.protection_enabled, 10, "the protection on")
    wait_for_states(stack, [task_id], {"SUCCESS"}, timeout=30)
    wait_until(lambda: not agent.protection_enabled, 10, "the protection off")

    bodies = [body for method, body in agent.calls]
    assert {method for method, _ in agent.calls} == {"PUT"}
    assert bodies[-1] == OFF and bodies.count(OFF) == 1  # released once, when idle
    # Renewed every 2 s through an 8 s task, long before its 1 minute ran out.
    assert bodies[:-1] == [ON] * (len(bodies) - 1)
    assert len(bodies) - 1 >= 3
    assert "scale-in protection on" in worker.log()


@pytest.mark.parametrize(
    "agent", [{"fail": True}, {"hang_seconds": 30.0}], indirect=True, ids=["fails", "hangs"]
)
def test_an_agent_that_fails_or_hangs_neither_delays_nor_fails_the_task(
    stack: LocalStack, agent: EcsAgentStandIn
) -> None:
    worker = start_protected_worker(stack, agent)

    started = time.monotonic()
    task_id = enqueue(stack, "long_task", duration=3)
    wait_for_states(stack, [task_id], {"SUCCESS"}, timeout=30)
    took = time.monotonic() - started

    print(f"3 s task with a broken agent: SUCCESS after {took:.1f}s")
    assert took < 3 + 3
    assert agent.calls  # it tried
    assert "scale-in protection on failed" in worker.log()
