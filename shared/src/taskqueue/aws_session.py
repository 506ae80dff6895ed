"""One boto3 session per process, shared by the broker transport and the result backend.

A boto3 session keeps its own cache of parsed service models and endpoint data, about 8 MB.
kombu's SQS transport builds a new session for every connection it opens (the web opens
one per producer in its pool), so a gunicorn worker held several copies. Clients made here
share one session; they are thread-safe once made, but making them is not, hence the lock.
"""

from __future__ import annotations

import threading
from typing import Any

import boto3

_lock = threading.Lock()
_session: boto3.Session | None = None


def client(service: str, **kwargs: Any) -> Any:
    """A new boto3 client for `service` from the process's one session."""
    global _session
    with _lock:
        if _session is None:
            _session = boto3.Session()
        return _session.client(service, **kwargs)  # type: ignore[call-overload]
