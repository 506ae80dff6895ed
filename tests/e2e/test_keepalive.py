"""gunicorn keeps an idle keep-alive connection open longer than the load balancer does.

The ALB reuses an idle connection for up to its idle timeout (60 s); gunicorn used to close
it after 5 s, and a request the ALB sent on it just then was a 502. Here a client does
what the ALB does: one connection, a request, more than 5 s idle, a second request.
"""

from __future__ import annotations

import http.client
import time

import pytest

from harness.stack import LocalStack

pytestmark = pytest.mark.timeout(120)

IDLE_SECONDS = 6  # longer than gunicorn's old keep-alive (5 s)


def test_one_connection_serves_requests_after_more_than_5_s_idle(stack: LocalStack) -> None:
    stack.start_aws()
    stack.start_web()
    assert stack.settings.load_balancer_idle_timeout > IDLE_SECONDS
    connection = http.client.HTTPConnection("127.0.0.1", stack.web_port, timeout=10)
    try:
        connection.request("GET", "/healthz")
        first = connection.getresponse()
        first.read()
        assert first.status == 200
        assert first.getheader("Connection", "").lower() != "close"
        sock = connection.sock
        assert sock is not None
        local_port = sock.getsockname()[1]

        time.sleep(IDLE_SECONDS)

        # On a connection gunicorn had closed, this raises RemoteDisconnected.
        connection.request("GET", "/healthz")
        second = connection.getresponse()
        second.read()
        assert second.status == 200
        assert connection.sock is sock  # not reopened
        assert sock.getsockname()[1] == local_port
    finally:
        connection.close()
