"""A stand-in for the ECS agent's task-protection endpoint, which records every call.

On ECS the agent injects `ECS_AGENT_URI` into each container; a task protects itself from
scale-in and deployments with `PUT $ECS_AGENT_URI/task-protection/v1/state` and
`{"ProtectionEnabled": true, "ExpiresInMinutes": n}` (1 to 2880 minutes; 120 if left out),
and reads its state with `GET` on the same path. The agent answers
`{"protection": {"ExpirationDate": …, "ProtectionEnabled": …, "TaskArn": …}, "requestID": …}`,
or `{"error": {"Arn", "Code", "Message"}, "requestID": …}` with a 4xx/5xx status (the
agent's `TaskProtectionResponse`). This serves the same path and shapes on 127.0.0.1:

    agent = EcsAgentStandIn().start()   # agent.url is what ECS_AGENT_URI would be
    ...
    agent.calls                         # [("PUT", {"ProtectionEnabled": True, ...}), ...]
    agent.stop()

`fail=True` answers every call with a 500 and an error body; `hang_seconds=s` waits that long
before answering (a client with a shorter timeout sees a hung agent). Calls are recorded
before either, so a test sees what the client tried.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PATH = "/task-protection/v1/state"
# The agent's default when ExpiresInMinutes is left out, and its bounds.
DEFAULT_MINUTES = 120
MINUTES_RANGE = range(1, 2880 + 1)


class EcsAgentStandIn:
    """The ECS agent's task-protection endpoint on 127.0.0.1, recording (method, json) calls."""

    def __init__(
        self,
        port: int = 0,
        *,
        fail: bool = False,
        hang_seconds: float = 0.0,
        task_arn: str = "arn:aws:ecs:us-east-1:123456789012:task/taskqueue/0123456789abcdef0",
        host: str = "127.0.0.1",
    ) -> None:
        self.fail = fail
        self.hang_seconds = hang_seconds
        self.task_arn = task_arn
        self.calls: list[tuple[str, dict[str, Any] | None]] = []
        self.protection_enabled = False
        self.expiration: datetime | None = None
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer((host, port), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        """The port it listens on (a free one when started with port=0)."""
        port: int = self._server.server_address[1]
        return port

    @property
    def url(self) -> str:
        """What ECS_AGENT_URI would be for a process on this host."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> EcsAgentStandIn:
        """Serve in a background thread; returns itself."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._thread.is_alive():
            self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> EcsAgentStandIn:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def answer(self, method: str, body: dict[str, Any] | None) -> tuple[int, dict[str, Any]]:
        """Record the call and give the status and JSON the agent would."""
        with self._lock:
            self.calls.append((method, body))
        if self.hang_seconds:
            time.sleep(self.hang_seconds)
        request_id = str(uuid.uuid4())
        if self.fail:
            return 500, self._error("ServerException", "stand-in told to fail", request_id)
        with self._lock:
            if method == "PUT":
                problem = self._update(body)
                if problem:
                    return 400, self._error("InvalidParameterException", problem, request_id)
            if self.expiration and self.expiration <= datetime.now(UTC):
                self.protection_enabled, self.expiration = False, None
            protection = {
                "ExpirationDate": self.expiration.isoformat() if self.expiration else None,
                "ProtectionEnabled": self.protection_enabled,
                "TaskArn": self.task_arn,
            }
        return 200, {"protection": protection, "requestID": request_id}

    def _update(self, body: dict[str, Any] | None) -> str | None:
        """Apply a PUT body; a message for a body the agent would refuse."""
        if not isinstance(body, dict) or not isinstance(body.get("ProtectionEnabled"), bool):
            return "ProtectionEnabled is required and must be a boolean"
        minutes = body.get("ExpiresInMinutes", DEFAULT_MINUTES)
        if not isinstance(minutes, int) or minutes not in MINUTES_RANGE:
            return "ExpiresInMinutes must be an integer from 1 to 2880"
        self.protection_enabled = body["ProtectionEnabled"]
        self.expiration = (
            datetime.now(UTC) + timedelta(minutes=minutes) if self.protection_enabled else None
        )
        return None

    def _error(self, code: str, message: str, request_id: str) -> dict[str, Any]:
        return {
            "error": {"Arn": self.task_arn, "Code": code, "Message": message},
            "requestID": request_id,
        }


def _handler(agent: EcsAgentStandIn) -> type[BaseHTTPRequestHandler]:
    """A request handler class bound to `agent`."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._serve("GET")

        def do_PUT(self) -> None:
            self._serve("PUT")

        def _serve(self, method: str) -> None:
            if self.path != PATH:
                self._send(404, {"error": {"Code": "NotFound", "Message": self.path}})
                return
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = {"unparsed": raw.decode(errors="replace")}
            self._send(*agent.answer(method, body))

        def _send(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a hang longer than its timeout)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # the calls are recorded; no stderr noise in test output

    return Handler
