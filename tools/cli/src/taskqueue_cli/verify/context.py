"""What every check of one `taskqueue verify` run shares: the stack, where its web is, the key."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from taskqueue_cli.errors import CliError
from taskqueue_cli.target import Target
from taskqueue_cli.verify.report import NotVerifiableOffline
from taskqueue_cli.verify.stack import DeployedStack


@dataclass
class Context:
    """One verification run against one deployed stack."""

    stack: DeployedStack
    target: Target
    offline: bool
    """The AWS endpoint is a local one (AWS_ENDPOINT_URL): the rehearsal, moto."""
    url_given: bool
    """The web's URL came from --url, not from the stack's ServiceUrl (its load balancer)."""
    task_timeout: float
    alarm_timeout: float
    client_name: str
    api_key: str | None = None
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    clients: dict[str, Any] = field(default_factory=dict)

    def client(self, service: str) -> Any:
        """One boto3 client per service for the whole run."""
        if service not in self.clients:
            self.clients[service] = self.target.client(service)
        return self.clients[service]

    def web_url(self) -> str:
        """Where to reach the web: ServiceUrl, or --url. A local endpoint's load balancer
        routes nothing, so offline the web is only reachable through --url."""
        if self.offline and not self.url_given:
            raise NotVerifiableOffline(
                "the local endpoint's load balancer routes nothing: pass --url with the web's "
                "address (the rehearsal prints it)"
            )
        return self.target.require_web()

    def not_created(self, what: str) -> Exception:
        """The error for a resource the template declares and the stack does not have."""
        if self.offline:
            return NotVerifiableOffline(
                f"the local endpoint's CloudFormation did not create {what}"
            )
        return CliError(f"stack {self.stack.name} lacks {what}, which its template declares")

    def key(self) -> str:
        """The API key the `api key` check made."""
        if self.api_key is None:
            raise CliError("needs the API key, which the `api key` check did not make")
        return self.api_key
