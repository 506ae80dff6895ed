"""The bench's latency model (bench.latency) and the proxy that applies it (bench.proxy), with
a tiny fake endpoint in place of moto: its distribution, the lookup per action, and a long
poll's answer held back after its wait, not before."""

from __future__ import annotations

import http.client
import random
import statistics
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bench.latency import DEFAULT, MODEL_FILE, LatencyModel, RoundTrip
from bench.proxy import CountingProxy


def constant(seconds: float) -> RoundTrip:
    """A round trip that is always `seconds` (median = p99: no spread)."""
    return RoundTrip(median_ms=seconds * 1000, p99_ms=seconds * 1000, source="test")


def test_round_trips_follow_the_log_normal_of_their_median_and_p99() -> None:
    row = RoundTrip(median_ms=16.0, p99_ms=60.0, source="test")
    rng = random.Random(1)
    draws = sorted(row.draw(rng) for _ in range(40_000))

    assert statistics.median(draws) == pytest.approx(0.016, rel=0.03)
    assert draws[int(0.99 * len(draws))] == pytest.approx(0.060, rel=0.08)
    assert min(draws) > 0


def test_an_action_has_its_own_row_else_its_services_else_the_default() -> None:
    rows = {
        (DEFAULT, ""): constant(0.3),
        ("dynamodb", ""): constant(0.2),
        ("dynamodb", "GetItem"): constant(0.1),
    }
    model = LatencyModel(rows, seed=0)

    assert model.round_trip("dynamodb", "GetItem") == pytest.approx(0.1)
    assert model.round_trip("dynamodb", "UpdateItem") == pytest.approx(0.2)
    assert model.round_trip("s3", "unknown") == pytest.approx(0.3)


def test_the_endpoints_time_counts_toward_the_round_trip_but_a_long_polls_does_not() -> None:
    model = LatencyModel({(DEFAULT, ""): constant(0.1)}, seed=0)

    assert model.delay("dynamodb", "UpdateItem", upstream_s=0.03) == pytest.approx(0.07)
    assert model.delay("dynamodb", "UpdateItem", upstream_s=0.5) == 0.0
    # Its time on the endpoint may be a wait for a message: the whole round trip follows it.
    assert model.delay("sqs", "ReceiveMessage", upstream_s=5.0) == pytest.approx(0.1)


def test_a_model_without_a_default_row_or_with_p99_below_the_median_is_refused() -> None:
    with pytest.raises(ValueError, match="default"):
        LatencyModel({("sqs", ""): constant(0.1)}, seed=0)
    with pytest.raises(ValueError, match="median_ms <= p99_ms"):
        LatencyModel({(DEFAULT, ""): RoundTrip(20.0, 10.0, "test")}, seed=0)


def test_the_bench_model_names_a_source_for_sqs_and_dynamodb() -> None:
    model = LatencyModel.load(MODEL_FILE)

    for service in ("sqs", "dynamodb", DEFAULT):
        assert model.rows[service, ""].source, service
    read, write = model.row("dynamodb", "GetItem"), model.row("dynamodb", "UpdateItem")
    assert read.median_ms < write.median_ms
    described = model.describe()["round_trips_ms"]
    assert {"sqs", "dynamodb", "dynamodb:GetItem", DEFAULT} <= set(described)


class FakeEndpoint:
    """An HTTP endpoint that answers a ReceiveMessage when `arrive` is set (a long poll) and
    any other request after `work_s` (its own time)."""

    def __init__(self, work_s: float) -> None:
        self.arrive = threading.Event()
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # as moto's server: no stall of its own

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.headers.get("X-Amz-Target", "").endswith("ReceiveMessage"):
                    endpoint.arrive.wait(20)
                else:
                    time.sleep(work_s)
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, format: str, *args: object) -> None:
                """Silent."""

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def endpoint() -> Iterator[FakeEndpoint]:
    fake = FakeEndpoint(work_s=0.3)
    yield fake
    fake.close()


def call(proxy: CountingProxy, target: str) -> float:
    """POST one request of `target` (an X-Amz-Target) through the proxy: when it answered."""
    host, port = proxy.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        connection.request("POST", "/", body=b"{}", headers={"X-Amz-Target": target})
        response = connection.getresponse()
        response.read()
        assert response.status == 200
        return time.monotonic()
    finally:
        connection.close()


@pytest.mark.timeout(30)
def test_a_long_poll_answers_when_its_message_arrives_plus_the_round_trip(
    endpoint: FakeEndpoint,
) -> None:
    model = LatencyModel({(DEFAULT, ""): constant(0.4)}, seed=0)
    answered: list[float] = []
    with CountingProxy(endpoint.port, model=model) as proxy:
        poll = threading.Thread(
            target=lambda: answered.append(call(proxy, "AmazonSQS.ReceiveMessage"))
        )
        poll.start()
        time.sleep(1.0)  # the poll waits on the endpoint: nothing answers before the arrival
        assert not answered
        arrived = time.monotonic()
        endpoint.arrive.set()
        poll.join(10)

    assert answered, "the long poll never answered"
    assert 0.4 <= answered[0] - arrived < 0.4 + 0.5
    assert [(r.service, r.action) for r in proxy.requests()] == [("sqs", "ReceiveMessage")]


@pytest.mark.timeout(30)
def test_a_request_takes_its_round_trip_with_the_endpoints_own_time_inside_it(
    endpoint: FakeEndpoint,
) -> None:
    model = LatencyModel({(DEFAULT, ""): constant(0.6)}, seed=0)
    with CountingProxy(endpoint.port, model=model) as proxy:
        sent = time.monotonic()
        answered = call(proxy, "DynamoDB_20120810.UpdateItem")

    # 0.6 s in all: the endpoint's 0.3 s are inside the round trip, not added to it (0.9 s).
    assert 0.6 <= answered - sent < 0.6 + 0.25
    assert [(r.service, r.action) for r in proxy.requests()] == [("dynamodb", "UpdateItem")]


@pytest.mark.timeout(30)
def test_without_a_model_the_proxy_adds_no_delay(endpoint: FakeEndpoint) -> None:
    with CountingProxy(endpoint.port) as proxy:
        sent = time.monotonic()
        answered = call(proxy, "DynamoDB_20120810.UpdateItem")

    assert 0.3 <= answered - sent < 0.3 + 0.25


@pytest.mark.timeout(30)
def test_the_proxy_itself_adds_no_stall_to_a_kept_alive_connection() -> None:
    fast = FakeEndpoint(work_s=0.0)
    times: list[float] = []
    try:
        with CountingProxy(fast.port) as proxy:
            host, port = proxy.url.removeprefix("http://").split(":")
            connection = http.client.HTTPConnection(host, int(port), timeout=30)
            try:
                for _ in range(20):
                    sent = time.monotonic()
                    connection.request("POST", "/", body=b"{}", headers={"X-Amz-Target": "x.Y"})
                    connection.getresponse().read()
                    times.append(time.monotonic() - sent)
            finally:
                connection.close()
    finally:
        fast.close()

    # The answer's headers and body are two writes: with Nagle's algorithm the body would wait
    # for the client's delayed ACK (40 ms), and every modelled round trip would be that longer.
    assert statistics.median(times) < 0.02, times
