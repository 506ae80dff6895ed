"""Fuzz the HTTP API from its own OpenAPI document: never a 5xx, and a rejection queues nothing.

schemathesis reads `/openapi.json` from the running gunicorn and sends real HTTP: its
coverage cases (boundary values, missing or wrong fields, wrong content types, undocumented
methods), then random positive and negative cases per operation. The web runs against moto
with no worker, so every message it queues stays in the queue and is counted: the queue's
depth is read before and after each request. Every case carries the stack's client key,
except in the run that proves a request without a key is a 401 whatever else it sends.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import APIOperation, BaseSchema, Case, GenerationMode
from schemathesis.core.result import Err
from taskqueue.factory import declared_queues

from harness.stack import LocalStack

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

Operation = APIOperation[Any, Any, Any, Any]

# Random cases per operation, valid and invalid mixed, on top of the coverage cases, which
# already walk every boundary, missing field and wrong type of the document. 40: with the
# lists, workers and status page in the API, 80 took 138 s of the 180 s limit and the two
# fuzz tests 3 of `make test`'s 36 minutes in CI.
FUZZ_EXAMPLES = 40
# Bodies the schema cannot describe: JSON nested past the parser's recursion limit (~1 KB).
DEEPLY_NESTED = {
    "unclosed-arrays": b"[" * 100_000,
    "nested-arrays": b"[" * 5_000 + b"]" * 5_000,
    "nested-params": b'{"task": "noop", "params": ' + b'{"a": ' * 5_000 + b"1" + b"}" * 5_001,
}


@dataclass
class Tally:
    """What the fuzzer sent and what each request did to the queue."""

    statuses: Counter[int] = field(default_factory=Counter)
    accepted: int = 0
    server_errors: list[str] = field(default_factory=list)
    queued_by_rejections: list[str] = field(default_factory=list)
    queued_wrongly_by_acceptances: list[str] = field(default_factory=list)

    @property
    def requests(self) -> int:
        return sum(self.statuses.values())

    def record(self, case: Case[Any], status: int, queued: int) -> None:
        """One request's status and the messages it added to the queue."""
        self.statuses[status] += 1
        if status >= 500:
            self.server_errors.append(f"{status}: {case.as_curl_command()}"[:500])
        if status == 202:
            self.accepted += 1
            if queued != 1:
                self.queued_wrongly_by_acceptances.append(f"{queued}: {case.as_curl_command()}")
        elif queued != 0:
            self.queued_by_rejections.append(f"{status}, {queued}: {case.as_curl_command()}")

    def summary(self) -> str:
        statuses = ", ".join(f"{code}: {n}" for code, n in sorted(self.statuses.items()))
        return (
            f"{self.requests} requests fuzzed ({statuses}); {len(self.server_errors)} 5xx; "
            f"{self.accepted} accepted; {len(self.queued_by_rejections)} rejections queued"
        )


def operations(schema: BaseSchema) -> Iterator[Operation]:
    """Every operation of the document (an operation it cannot describe fails the test)."""
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            raise result.err()
        yield result.ok()


def coverage_cases(schema: BaseSchema, operation: Operation) -> Iterator[Case[Any]]:
    """schemathesis' deterministic cases: boundaries, each field missing or mistyped, methods."""
    return schema.iter_coverage_cases(
        operation,
        generation_modes=list(GenerationMode),
        generation_config=schema.config.generation_for(operation=operation, phase="coverage"),
    )


def fuzz(operation: Operation, send: Callable[[Case[Any]], None]) -> None:
    """`send` random valid and invalid cases, as schemathesis' own fuzzing phase draws them."""

    @given(case=st.one_of([operation.as_strategy(generation_mode=mode) for mode in GenerationMode]))
    @settings(
        max_examples=FUZZ_EXAMPLES,
        deadline=None,
        database=None,
        phases=[Phase.generate],  # nothing raises: every outcome is tallied, not shrunk
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.filter_too_much,
            HealthCheck.data_too_large,
            HealthCheck.large_base_example,
        ],
    )
    def run(case: Case[Any]) -> None:
        send(case)

    run()


def messages_queued(stack: LocalStack) -> int:
    """Messages in every declared queue: an accepted `report` goes to the reports queue."""
    return sum(stack.queue_depth(queue) for queue in declared_queues(stack.settings))


def test_fuzzing_the_openapi_document_finds_no_5xx_and_rejections_queue_nothing(
    stack: LocalStack,
) -> None:
    stack.start_web()  # no worker: what the web queues stays in the queue, countable
    schema = schemathesis.openapi.from_url(f"{stack.web_url}/openapi.json")
    tally = Tally()
    started = time.monotonic()

    key = {"Authorization": f"Bearer {stack.api_key}"}

    with requests.Session() as session:

        def send(case: Case[Any]) -> None:
            depth_before = messages_queued(stack)
            response = case.call(base_url=stack.web_url, session=session, headers=key, timeout=10)
            tally.record(case, response.status_code, messages_queued(stack) - depth_before)

        for operation in operations(schema):
            for case in coverage_cases(schema, operation):
                send(case)
            fuzz(operation, send)

    print(f"\n{tally.summary()} in {time.monotonic() - started:.0f}s")
    assert tally.server_errors == []
    assert tally.queued_by_rejections == []
    assert tally.queued_wrongly_by_acceptances == []
    assert messages_queued(stack) == tally.accepted
    # The fuzzer really ran: many requests, both accepted and rejected ones.
    assert tally.requests >= 500 and tally.accepted > 0
    assert sum(n for code, n in tally.statuses.items() if 400 <= code < 500) > 0


def test_fuzzing_without_a_key_gets_only_401s_and_queues_nothing(stack: LocalStack) -> None:
    stack.start_web()
    schema = schemathesis.openapi.from_url(f"{stack.web_url}/openapi.json")
    tally = Tally()
    protected = [op for op in operations(schema) if op.definition.raw.get("security")]

    with requests.Session() as session:

        def send(case: Case[Any]) -> None:
            headers = case.headers or {}
            # Whatever the fuzzer put in Authorization, it is not a registered key.
            assert stack.api_key not in str(headers)
            depth_before = messages_queued(stack)
            response = case.call(base_url=stack.web_url, session=session, timeout=10)
            tally.record(case, response.status_code, messages_queued(stack) - depth_before)

        for operation in protected:
            for case in coverage_cases(schema, operation):
                send(case)
            fuzz(operation, send)

    print(f"\n{tally.summary()}")
    assert {operation.label for operation in protected} == {
        "POST /tasks",
        "GET /tasks",
        "GET /tasks/{task_id}",
        "DELETE /tasks/{task_id}",
        "GET /sqs/celery/{duration}",
        "GET /workers",
    }
    assert set(tally.statuses) == {401}, tally.summary()
    assert tally.requests >= 300
    assert messages_queued(stack) == 0


def test_json_nested_deeper_than_the_parser_allows_is_a_4xx_and_queues_nothing(
    stack: LocalStack,
) -> None:
    stack.start_web()

    responses = {
        name: requests.post(
            f"{stack.web_url}/tasks",
            data=body,
            headers={
                "Content-Type": "application/json",
                "Authorization": f"Bearer {stack.api_key}",
            },
            timeout=10,
        )
        for name, body in DEEPLY_NESTED.items()
    }

    rejected = {name: response.status_code for name, response in responses.items()}
    assert all(400 <= status < 500 for status in rejected.values()), rejected
    for response in responses.values():
        assert response.headers["Content-Type"] == "application/problem+json"
        assert "Traceback" not in response.text
    assert messages_queued(stack) == 0
