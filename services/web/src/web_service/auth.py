"""`Authorization: Bearer <key>` on every route that queues, reads or cancels work.

`init_app(app, protected=...)` names the blueprints; every request below their URL
prefixes needs a key, even one no route matches: without a key, `/tasks…` answers 401 and
nothing else (not 404 or 405), so it tells nothing about its routes. The check runs before
the view, so before any body parsing or queueing; a missing, malformed, unknown or revoked
key is a 401. The client's name goes into `g.client` (the request log and the task's owner
read it).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from flask import Blueprint, Flask, current_app, g, request
from taskqueue.app_settings import settings_of
from taskqueue.stores import api_keys

from web_service.enqueue import BROKER_ERRORS, queue_unavailable
from web_service.problems import ProblemError

logger = logging.getLogger(__name__)

# `taskqueue keys list` shows when each key was last used; one write a minute per key and
# process is enough for that and keeps a GetItem (at most) the only key call of a request.
LAST_USED_INTERVAL = 60.0
# Lookups kept per process; a flood of random keys empties the cache, it cannot grow it.
MAX_CACHED = 10_000
# The routes that queue work: while the table is down they answer as their enqueue would.
QUEUEING_ENDPOINTS = {"tasks.create_task", "sqs.add_celery_task"}


@dataclass
class KeyCache:
    """Each key's client (or None: unknown), trusted for `seconds`; and when its use was
    last recorded. Keyed by the key's hash, so the process holds no key after the request."""

    seconds: float
    verdicts: dict[str, tuple[api_keys.ClientKey | None, float]] = field(default_factory=dict)
    recorded: dict[str, float] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def lookup(self, key: str) -> api_keys.ClientKey | None:
        """The key's client, from the table at most every `seconds`."""
        digest, now = api_keys.key_hash(key), time.monotonic()
        with self.lock:
            cached = self.verdicts.get(digest)
        if cached is not None and now < cached[1]:
            return cached[0]
        entry = api_keys.lookup(table_client(), settings_of(current_app).results_table, key)
        with self.lock:
            if len(self.verdicts) >= MAX_CACHED:
                self.verdicts.clear()
            self.verdicts[digest] = (entry, now + self.seconds)
        return entry

    def record_use(self, key: str, entry: api_keys.ClientKey) -> None:
        """Write the key's last use, at most once a minute per key in this process."""
        digest, now = api_keys.key_hash(key), time.monotonic()
        with self.lock:
            if now - self.recorded.get(digest, -LAST_USED_INTERVAL) < LAST_USED_INTERVAL:
                return
            if len(self.recorded) >= MAX_CACHED:
                self.recorded.clear()
            self.recorded[digest] = now
        try:
            api_keys.record_use(
                table_client(), settings_of(current_app).results_table, key, entry, time.time()
            )
        except BROKER_ERRORS as error:  # the request goes on; only the list is behind
            logger.warning("recording the key's use failed: %s", error)


def table_client() -> object:
    """The DynamoDB client of the results backend (its timeouts and endpoint)."""
    return current_app.extensions["celery"].backend.client


def unauthorized(detail: str) -> ProblemError:
    """The 401 problem, with the challenge RFC 6750 asks for."""
    return ProblemError(
        401, "Unauthorized", detail, headers={"WWW-Authenticate": 'Bearer realm="taskqueue"'}
    )


def table_unavailable() -> ProblemError:
    """The 503 the route itself gives while the results table (which holds the keys too)
    does not answer."""
    if request.endpoint in QUEUEING_ENDPOINTS:
        return queue_unavailable()
    return ProblemError(
        503, "Results unavailable", "The results table did not answer; try again shortly."
    )


def require_client() -> None:
    """Before each protected view: the presented key's client into `g.client`, or 401."""
    scheme, _, key = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not key:
        raise unauthorized("Send an API key: Authorization: Bearer <key>.")
    key = key.strip()
    if not api_keys.well_formed(key):
        raise unauthorized("The API key is malformed.")
    cache: KeyCache = current_app.extensions["api_keys"]
    try:
        entry = cache.lookup(key)
    except BROKER_ERRORS as error:
        raise table_unavailable() from error
    if entry is None:
        raise unauthorized("The API key is unknown or revoked.")
    g.client = entry.client
    cache.record_use(key, entry)


def init_app(app: Flask, protected: Iterable[Blueprint]) -> None:
    """Require a key below the URL prefixes of the `protected` blueprints; the per-process
    cache of key lookups (`API_KEY_CACHE_SECONDS`)."""
    prefixes = tuple(str(bp.url_prefix).rstrip("/") for bp in protected)
    app.extensions["api_keys"] = KeyCache(settings_of(app).api_key_cache_seconds)

    @app.before_request
    def _require_key() -> None:
        path = request.path.rstrip("/")
        if any(path == prefix or path.startswith(prefix + "/") for prefix in prefixes):
            require_client()
