"""The local endpoint goes away and comes back: the web answers 503, then recovers; the
worker reconnects by itself."""

from __future__ import annotations

import time

import pytest

from harness.stack import LocalStack
from tests.faults.conftest import enqueue, wait_for_states

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]


def test_web_and_worker_ride_out_a_broker_outage(stack: LocalStack) -> None:
    web = stack.start_web()
    worker = stack.start_worker(WORKER_CONCURRENCY="1")
    before = enqueue(stack, "long_task", duration=1)
    wait_for_states(stack, [before], {"SUCCESS"}, timeout=30)

    stack.processes[0].stop()  # the endpoint (SQS and DynamoDB) is gone
    answers = []
    for _ in range(5):
        started = time.monotonic()
        response = stack.api(timeout=30).post_task("noop")
        answers.append((response.status_code, time.monotonic() - started))
        time.sleep(1)
    print(f"503 answers during the outage took at most {max(t for _, t in answers):.2f}s")
    assert all(status == 503 for status, _ in answers), answers
    assert max(seconds for _, seconds in answers) < 5, answers

    stack.start_aws()  # back, on the same port, with the same queue and table
    after = enqueue(stack, "long_task", duration=1)
    wait_for_states(stack, [after], {"SUCCESS"}, timeout=90)

    assert worker.popen.poll() is None and web.popen.poll() is None  # no restart
    assert worker.log().count("celery@") <= 2  # one banner and one ready line: no crash loop
