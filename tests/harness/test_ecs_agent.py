"""The ECS agent stand-in answers like the agent's task-protection endpoint and records calls."""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from harness.ecs_agent import EcsAgentStandIn

STATE = "/task-protection/v1/state"


def call(
    url: str, method: str, body: dict[str, Any] | None = None, timeout: float = 5
) -> tuple[int, dict[str, Any]]:
    """One HTTP call as a worker would make it: (status, JSON answer)."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url + STATE, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.loads(error.read())


@pytest.fixture
def agent() -> Iterator[EcsAgentStandIn]:
    with EcsAgentStandIn() as running:
        yield running


def test_protect_then_read_then_release(agent: EcsAgentStandIn) -> None:
    before = datetime.now(UTC)

    status, protected = call(agent.url, "PUT", {"ProtectionEnabled": True, "ExpiresInMinutes": 5})
    assert status == 200
    assert protected["protection"]["ProtectionEnabled"] is True
    assert protected["protection"]["TaskArn"].startswith("arn:aws:ecs:")
    expires = datetime.fromisoformat(protected["protection"]["ExpirationDate"])
    assert before + timedelta(minutes=5) <= expires <= datetime.now(UTC) + timedelta(minutes=5)

    assert call(agent.url, "GET")[1]["protection"]["ProtectionEnabled"] is True

    status, released = call(agent.url, "PUT", {"ProtectionEnabled": False})
    assert status == 200
    assert released["protection"] == {
        "ExpirationDate": None,
        "ProtectionEnabled": False,
        "TaskArn": agent.task_arn,
    }
    assert agent.calls == [
        ("PUT", {"ProtectionEnabled": True, "ExpiresInMinutes": 5}),
        ("GET", None),
        ("PUT", {"ProtectionEnabled": False}),
    ]


def test_without_minutes_the_protection_lasts_the_agents_default_two_hours(
    agent: EcsAgentStandIn,
) -> None:
    _, protected = call(agent.url, "PUT", {"ProtectionEnabled": True})
    expires = datetime.fromisoformat(protected["protection"]["ExpirationDate"])
    assert timedelta(minutes=119) < expires - datetime.now(UTC) <= timedelta(minutes=120)


@pytest.mark.parametrize(
    "body",
    [{}, {"ProtectionEnabled": "yes"}, {"ProtectionEnabled": True, "ExpiresInMinutes": 2881}],
    ids=["no-flag", "not-a-boolean", "over-48-hours"],
)
def test_a_body_the_agent_refuses_is_a_400_with_an_error(
    agent: EcsAgentStandIn, body: dict[str, Any]
) -> None:
    status, answer = call(agent.url, "PUT", body)
    assert status == 400
    assert answer["error"]["Code"] == "InvalidParameterException"
    assert agent.calls == [("PUT", body)]


def test_told_to_fail_it_answers_500_and_still_records() -> None:
    with EcsAgentStandIn(fail=True) as agent:
        status, answer = call(agent.url, "PUT", {"ProtectionEnabled": True})
    assert status == 500
    assert answer["error"]["Code"] == "ServerException"
    assert agent.calls == [("PUT", {"ProtectionEnabled": True})]


def test_told_to_hang_a_client_with_a_shorter_timeout_gives_up() -> None:
    with EcsAgentStandIn(hang_seconds=3) as agent:
        started = time.monotonic()
        with pytest.raises((TimeoutError, socket.timeout, urllib.error.URLError)):
            call(agent.url, "PUT", {"ProtectionEnabled": True}, timeout=0.5)
        assert time.monotonic() - started < 2
    assert agent.calls == [("PUT", {"ProtectionEnabled": True})]


def test_another_path_is_not_found(agent: EcsAgentStandIn) -> None:
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(agent.url + "/v2/metadata", timeout=5)
    raised.value.close()
    assert raised.value.code == 404
    assert agent.calls == []
