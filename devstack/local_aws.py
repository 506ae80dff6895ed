"""Run moto's server on the endpoint in AWS_ENDPOINT_URL and bootstrap the stack's resources.

`python -m devstack.local_aws` serves until it is stopped (SIGINT or SIGTERM). It is a real
HTTP endpoint: gunicorn, the Celery worker and boto3 reach it over the network. With
`--dev-client` (the Procfile's), the key in .local/api-key is client `dev`'s
(devstack.dev_client).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from types import FrameType
from urllib.parse import urlsplit

import boto3
from moto import mock_aws
from moto.server import ThreadedMotoServer
from taskqueue.bootstrap import bootstrap
from taskqueue.factory import declared_queues
from taskqueue.runtime.logs import configure_logging
from taskqueue.settings import get_settings

from devstack import dev_client
from devstack.atomic_dynamodb import serialize_dynamodb_requests

logger = logging.getLogger("devstack.local_aws")


def main() -> None:
    """Serve the local endpoint with the queue, DLQ and results table in place."""
    parser = argparse.ArgumentParser(prog="python -m devstack.local_aws")
    parser.add_argument(
        "--dev-client", action="store_true", help="register the key in .local/api-key"
    )
    args = parser.parse_args()
    settings = get_settings()
    configure_logging(settings.log_level)
    # One line per request to the endpoint would drown the web's and the worker's logs.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    if settings.aws_endpoint_url is None:
        sys.exit("AWS_ENDPOINT_URL is not set: it names the local endpoint to serve")
    endpoint = urlsplit(settings.aws_endpoint_url)
    # The resources exist before the port opens, as on AWS, where a queue never vanishes:
    # a client that reconnects after a restart finds them. The server shares the
    # in-process backends that mock_aws fills here.
    in_process = mock_aws()
    in_process.start()
    endpoint_variable = os.environ.pop("AWS_ENDPOINT_URL")  # boto3 would send it there
    # Every declared queue and its DLQ, as the stack makes them on AWS.
    bootstrap(settings.model_copy(update={"aws_endpoint_url": None}), declared_queues(settings))
    if args.dev_client:
        dynamodb = boto3.client("dynamodb", region_name=settings.aws_region)
        dev_client.register(dynamodb, settings.results_table)
    os.environ["AWS_ENDPOINT_URL"] = endpoint_variable
    # A conditional write is atomic, as on DynamoDB: the run-once claim depends on it.
    serialize_dynamodb_requests()
    server = ThreadedMotoServer(
        ip_address=endpoint.hostname or "127.0.0.1", port=endpoint.port or 80
    )
    server.start()
    logger.info("local AWS ready at %s", settings.aws_endpoint_url)

    wait_for_stop_signal()
    server.stop()
    in_process.stop()


def wait_for_stop_signal() -> None:
    """Block until SIGTERM or SIGINT (how the harness, make and the rehearsal stop a server)."""
    stopped = threading.Event()

    def _stop(signum: int, _frame: FrameType | None) -> None:
        stopped.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    stopped.wait()


if __name__ == "__main__":
    main()
