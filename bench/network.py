"""The two networks every network-bound phase runs on: loopback, and the latency model.

On loopback the worker, the web and the raw loops reach moto's server directly. Under the
model they reach it through a proxy that holds each response back by a modelled round trip
(bench.latency): the proxy, and a second web (gunicorn, as the stack's) whose AWS endpoint
is the proxy, run for the whole bench.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3
import requests

from bench.latency import LatencyModel
from bench.proxy import CountingProxy
from harness.processes import free_port, start, wait_until
from harness.stack import WEB_ARGV, LocalStack

LOOPBACK = "loopback"
MODELLED = "modelled"
MODELLED_WEB = "web-modelled"


@dataclass(frozen=True)
class Network:
    """Where one column's processes and clients reach AWS (`endpoint_url`) and the web."""

    key: str
    endpoint_url: str
    web_url: str
    queue_url: str
    """The task queue's URL as seen through `endpoint_url`."""
    web_process: str
    """The name of the web's process in the stack (its CPU is measured)."""

    def client(self, stack: LocalStack, service: str) -> Any:
        """A boto3 client of `service` through this network."""
        return boto3.client(  # type: ignore[call-overload]
            service,
            endpoint_url=self.endpoint_url,
            region_name="us-east-1",
            aws_access_key_id=stack.env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=stack.env["AWS_SECRET_ACCESS_KEY"],
        )


def loopback(stack: LocalStack) -> Network:
    """The stack as it runs: moto's server and the stack's web, on loopback."""
    endpoint = stack.env["AWS_ENDPOINT_URL"]
    return Network(LOOPBACK, endpoint, stack.web_url, stack.queue_url, web_process="web")


def behind(stack: LocalStack, endpoint_url: str) -> str:
    """The task queue's URL at `endpoint_url` (a proxy of the stack's endpoint)."""
    return stack.queue_url.replace(stack.env["AWS_ENDPOINT_URL"], endpoint_url)


@contextmanager
def modelled(stack: LocalStack, model: LatencyModel) -> Iterator[Network]:
    """The latency model's network: a delaying proxy and a web behind it, stopped on exit."""
    with CountingProxy(upstream_port=stack.aws_port, model=model) as proxy:
        port = free_port()
        web_url = f"http://127.0.0.1:{port}"
        env = {
            **stack.env,
            "WEB_BIND": f"127.0.0.1:{port}",
            "AWS_ENDPOINT_URL": proxy.url,
            "TASK_QUEUE_URL": behind(stack, proxy.url),
        }
        web = start(MODELLED_WEB, WEB_ARGV, env, stack.work_dir)
        stack.processes.append(web)  # stopped with the stack if this is interrupted
        try:
            wait_until(
                lambda: requests.get(f"{web_url}/healthz", timeout=1).ok,
                60,
                "the modelled network's web",
                web,
            )
            yield Network(MODELLED, proxy.url, web_url, behind(stack, proxy.url), MODELLED_WEB)
        finally:
            web.stop()
