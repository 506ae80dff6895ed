"""An HTTP relay on loopback for tests that lose an answer or hold a request.

Each request goes on to one upstream port. A test's `hold(exchange)` runs before a request
goes on (it may block: a slow SendMessage); its `deliver(exchange)`, once the upstream
answered, may return False: the client never gets that answer. The relay then either keeps
the connection open and silent until the client gives up (`Lost.HANG`: a timeout) or
closes it at once (`Lost.DROP`: the connection reset under the client).
"""

from __future__ import annotations

import contextlib
import enum
import http.client
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# How long a hung connection waits for its client to give up.
HANG_SECONDS = 60
# Headers that belong to one hop, not to the request (RFC 9110, section 7.6.1).
HOP_HEADERS = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade"}


class Lost(enum.Enum):
    """What the client of an answer not delivered sees."""

    HANG = "hang"
    DROP = "drop"


@dataclass
class Exchange:
    """One request through the relay and, once it came, its upstream answer."""

    method: str
    path: str
    headers: dict[str, str]
    """Lower-cased names."""
    body: bytes
    status: int | None = None
    answer: bytes = b""
    answer_headers: list[tuple[str, str]] = field(default_factory=list)
    delivered: bool = True


class Relay:
    """Relays every request to 127.0.0.1:`upstream_port` and records the exchanges (served
    by `relaying`)."""

    def __init__(
        self,
        upstream_port: int,
        *,
        hold: Callable[[Exchange], None] | None = None,
        deliver: Callable[[Exchange], bool] | None = None,
        lost: Lost = Lost.HANG,
    ) -> None:
        self.upstream_port, self.hold, self.deliver, self.lost = upstream_port, hold, deliver, lost
        self.exchanges: list[Exchange] = []
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def posts(self, path: str) -> list[Exchange]:
        """The POSTs to `path` so far."""
        with self._lock:
            return [e for e in self.exchanges if e.method == "POST" and e.path == path]

    def _relay(self, exchange: Exchange) -> None:
        with self._lock:
            self.exchanges.append(exchange)
        if self.hold is not None:
            self.hold(exchange)
        upstream = http.client.HTTPConnection("127.0.0.1", self.upstream_port, timeout=60)
        try:
            headers = {k: v for k, v in exchange.headers.items() if k not in HOP_HEADERS}
            upstream.request(exchange.method, exchange.path, exchange.body, headers)
            response = upstream.getresponse()
            exchange.status, exchange.answer = response.status, response.read()
            exchange.answer_headers = [
                (k, v)
                for k, v in response.getheaders()
                if k.lower() not in HOP_HEADERS | {"content-length", "date", "server"}
            ]
        finally:
            upstream.close()
        if self.deliver is not None:
            exchange.delivered = self.deliver(exchange)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        relay = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                exchange = Exchange(
                    self.command,
                    self.path,
                    {k.lower(): v for k, v in self.headers.items()},
                    self.rfile.read(length) if length else b"",
                )
                relay._relay(exchange)
                if not exchange.delivered:
                    self.close_connection = True
                    if relay.lost is Lost.HANG:
                        self.connection.settimeout(HANG_SECONDS)
                        with contextlib.suppress(OSError):
                            self.rfile.read(1)  # returns once the client hangs up
                    return
                self.send_response(exchange.status or 502)
                for key, value in exchange.answer_headers:
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(exchange.answer)))
                self.end_headers()
                self.wfile.write(exchange.answer)

            # What the web and AWS's JSON APIs are sent.
            do_GET = do_POST = do_DELETE = _handle

            def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
                """No line per request."""

        return Handler


@contextmanager
def relaying(
    upstream_port: int,
    *,
    hold: Callable[[Exchange], None] | None = None,
    deliver: Callable[[Exchange], bool] | None = None,
    lost: Lost = Lost.HANG,
) -> Iterator[Relay]:
    """A `Relay` to `upstream_port` serving on its own thread, stopped on the way out."""
    relay = Relay(upstream_port, hold=hold, deliver=deliver, lost=lost)
    serving = threading.Thread(target=relay.server.serve_forever, daemon=True)
    serving.start()
    try:
        yield relay
    finally:
        relay.server.shutdown()
        relay.server.server_close()
        serving.join(5)
