"""The worker's scale-in protection, stepped by hand against the ECS agent stand-in."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from taskqueue.settings import Settings
from worker_service.protection import RETRY_SECONDS, ScaleInProtection

from harness.ecs_agent import EcsAgentStandIn

ON = {"ProtectionEnabled": True, "ExpiresInMinutes": 5}
OFF = {"ProtectionEnabled": False}


@pytest.fixture
def agent() -> Iterator[EcsAgentStandIn]:
    stand_in = EcsAgentStandIn().start()
    try:
        yield stand_in
    finally:
        stand_in.stop()


def protection(agent: EcsAgentStandIn, busy: list[bool]) -> ScaleInProtection:
    settings = Settings.from_values(task_protection_minutes=5, task_protection_renewal=60)
    return ScaleInProtection(agent.url, settings, is_busy=lambda: busy[0])


def test_on_when_busy_renewed_when_due_off_when_idle(agent: EcsAgentStandIn) -> None:
    busy = [False]
    guard = protection(agent, busy)

    guard.step(0)
    assert agent.calls == []
    busy[0] = True
    guard.step(1)
    guard.step(30)  # not due yet
    guard.step(61)  # renewal
    busy[0] = False
    guard.step(62)
    guard.step(63)

    assert [body for _, body in agent.calls] == [ON, ON, OFF]


def test_a_failing_agent_is_tried_again_later_not_at_every_step(agent: EcsAgentStandIn) -> None:
    agent.fail = True
    guard = protection(agent, [True])

    guard.step(0)
    guard.step(1)
    assert len(agent.calls) == 1 and not guard.protected
    agent.fail = False
    guard.step(RETRY_SECONDS)

    assert len(agent.calls) == 2 and guard.protected
