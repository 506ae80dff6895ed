"""Run moto's server on the endpoint in AWS_ENDPOINT_URL and bootstrap the stack's resources.

`python -m devstack.local_aws` serves until it is stopped (SIGINT or SIGTERM). It is a real
HTTP endpoint: gunicorn, the Celery worker and boto3 reach it over the network.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from types import FrameType
from urllib.parse import urlsplit

from moto.server import ThreadedMotoServer
from taskqueue.bootstrap import bootstrap
from taskqueue.logs import configure_logging
from taskqueue.settings import get_settings

logger = logging.getLogger("devstack.local_aws")


def main() -> None:
    """Serve the local endpoint with the queue, DLQ and results table in place."""
    settings = get_settings()
    configure_logging(settings.log_level)
    # One line per request to the endpoint would drown the web's and the worker's logs.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    if settings.aws_endpoint_url is None:
        sys.exit("AWS_ENDPOINT_URL is not set: it names the local endpoint to serve")
    endpoint = urlsplit(settings.aws_endpoint_url)
    server = ThreadedMotoServer(
        ip_address=endpoint.hostname or "127.0.0.1", port=endpoint.port or 80
    )
    server.start()
    urls = bootstrap(settings)
    logger.info("local AWS ready at %s", settings.aws_endpoint_url, extra=urls)

    stopped = threading.Event()

    def _stop(signum: int, _frame: FrameType | None) -> None:
        stopped.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    stopped.wait()
    server.stop()


if __name__ == "__main__":
    main()
