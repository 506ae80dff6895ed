"""The two networks every network-bound phase runs on: loopback, and the latency model.

On loopback the worker, the web and the raw loops reach moto's server directly. Under the
model they reach it through a proxy that holds each response back by a modelled round trip
(bench.latency, bench.network_proxy): the proxy, and a second web (gunicorn, as the stack's)
whose AWS endpoint is the proxy, run for the whole bench.
"""

from __future__ import annotations

import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import requests

from bench.latency import MODEL_FILE
from harness.processes import free_port, start, wait_until
from harness.stack import REPO_ROOT, WEB_ARGV, LocalStack

LOOPBACK = "loopback"
MODELLED = "modelled"
MODELLED_WEB = "web-modelled"
MODELLED_PROXY = "latency-proxy"


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
def modelled(stack: LocalStack, model_file: Path = MODEL_FILE) -> Iterator[Network]:
    """The latency model's network: a delaying proxy (a process of its own, bench.network_proxy)
    and a web behind it, both stopped on exit."""
    port = free_port()
    proxy_url = f"http://127.0.0.1:{port}"
    argv = [sys.executable, "-m", "bench.network_proxy", f"--port={port}"]
    argv += [f"--upstream-port={stack.aws_port}", f"--model={model_file}"]
    proxy = start(MODELLED_PROXY, argv, {**stack.env, "PYTHONPATH": str(REPO_ROOT)}, stack.work_dir)
    stack.processes.append(proxy)  # stopped with the stack if this is interrupted
    web_port = free_port()
    web_url = f"http://127.0.0.1:{web_port}"
    env = {
        **stack.env,
        "WEB_BIND": f"127.0.0.1:{web_port}",
        "AWS_ENDPOINT_URL": proxy_url,
        "TASK_QUEUE_URL": behind(stack, proxy_url),
    }
    try:
        wait_until(lambda: _accepts(port), 30, "the latency model's proxy", proxy)
        web = start(MODELLED_WEB, WEB_ARGV, env, stack.work_dir)
        stack.processes.append(web)
        try:
            wait_until(
                lambda: requests.get(f"{web_url}/healthz", timeout=1).ok,
                60,
                "the modelled network's web",
                web,
            )
            queue_url = behind(stack, proxy_url)
            yield Network(MODELLED, proxy_url, web_url, queue_url, MODELLED_WEB)
        finally:
            web.stop()
    finally:
        proxy.stop()


def _accepts(port: int) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=1):
        return True
