"""A counting HTTP proxy on loopback: the worker talks to it, it forwards to moto's server.

Each request is classified by AWS service and action (JSON protocol: the ``X-Amz-Target``
header; query protocol: the ``Action`` parameter) and time-stamped, so an idle worker's
SQS requests can be counted at the endpoint. Given a latency model (bench.latency), it also
holds each response back by the model's delay for its action: the bench's network.
"""

from __future__ import annotations

import contextlib
import http.client
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from urllib.parse import parse_qs, urlsplit

from bench.latency import LatencyModel

# Long polls last up to 20 s; the upstream read must outlast them.
UPSTREAM_TIMEOUT_S = 60
# Headers that describe one hop, not the request (RFC 9110 section 7.6.1).
HOP_HEADERS = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade"}


@dataclass(frozen=True)
class Request:
    """One request seen by the proxy: when it arrived and what it asked for."""

    at: float
    service: str
    action: str
    progress: bool = False
    """A DynamoDB write of a task's PROGRESS state (the task's own work, not the worker's)."""
    presence: bool = False
    """A worker's presence write (every WORKER_PRESENCE_INTERVAL per worker, not per task)."""


def classify(headers: dict[str, str], path: str, body: bytes) -> tuple[str, str]:
    """(service, action) of an AWS request, e.g. ("sqs", "ReceiveMessage")."""
    target = headers.get("x-amz-target", "")
    if target:
        prefix, _, action = target.rpartition(".")
        service = "sqs" if prefix.startswith("AmazonSQS") else prefix.split("_")[0].lower()
        return service, action
    params = parse_qs(urlsplit(path).query)
    if headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        params.update(parse_qs(body.decode("utf-8", "replace")))
    actions = params.get("Action")
    return ("sqs", actions[0]) if actions else ("unknown", "unknown")


class CountingProxy:
    """Forwards every request to `upstream` (``host:port``) and records it; with `model`, each
    response leaves after the model's delay for its action."""

    def __init__(
        self,
        upstream_port: int,
        host: str = "127.0.0.1",
        model: LatencyModel | None = None,
        port: int = 0,
    ) -> None:
        self.upstream = (host, upstream_port)
        self.model = model
        self._lock = threading.Lock()
        self._requests: list[Request] = []
        self._server = ThreadingHTTPServer((host, port), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def requests(self, since: float = 0.0, service: str | None = None) -> list[Request]:
        """Requests that arrived at or after `since`, of one service or all."""
        with self._lock:
            return [
                r
                for r in self._requests
                if r.at >= since and (service is None or r.service == service)
            ]

    def _record(self, request: Request) -> None:
        with self._lock:
            self._requests.append(request)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # The headers and the body leave in two writes: with Nagle's algorithm the body
            # waits for the client's delayed ACK of the headers (40 ms on Linux).
            disable_nagle_algorithm = True

            endpoint: http.client.HTTPConnection | None = None
            """One connection to the endpoint per client connection, kept while it lives."""

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k.lower(): v for k, v in self.headers.items()}
                service, action = classify(headers, self.path, body)
                progress = service == "dynamodb" and b'"PROGRESS"' in body
                presence = service == "dynamodb" and b'"#workers"' in body
                proxy._record(Request(time.time(), service, action, progress, presence))
                if self.endpoint is None:
                    self.endpoint = http.client.HTTPConnection(
                        *proxy.upstream, timeout=UPSTREAM_TIMEOUT_S
                    )
                upstream = self.endpoint
                try:
                    forwarded = {
                        k: v
                        for k, v in self.headers.items()
                        if k.lower() not in HOP_HEADERS and k.lower() != "expect"
                    }
                    sent = time.monotonic()
                    upstream.request(self.command, self.path, body=body, headers=forwarded)
                    response = upstream.getresponse()
                    payload = response.read()
                    if proxy.model is not None:
                        upstream_s = time.monotonic() - sent
                        time.sleep(proxy.model.delay(service, action, upstream_s))
                    self.send_response(response.status, response.reason)
                    for key, value in response.getheaders():
                        if key.lower() not in HOP_HEADERS | {"content-length", "date", "server"}:
                            self.send_header(key, value)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    # The client left (a stopped worker): its long poll ends here.
                    self.close_connection = True
                except (OSError, http.client.HTTPException):
                    # The endpoint dropped the kept connection: the next request opens another.
                    upstream.close()
                    raise

            def handle(self) -> None:
                """Serve the connection's requests; a stopped worker resets its kept
                connection while the proxy waits for the next one: nothing to report."""
                with contextlib.suppress(ConnectionResetError):
                    super().handle()

            def finish(self) -> None:
                """The client's connection ends: so does the one to the endpoint."""
                if self.endpoint is not None:
                    self.endpoint.close()
                super().finish()

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _forward

            def log_message(self, format: str, *args: object) -> None:
                """Silent: one line per request would drown the run's output."""

        return Handler

    def __enter__(self) -> CountingProxy:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)
