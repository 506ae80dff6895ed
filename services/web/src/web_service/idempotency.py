"""The `Idempotency-Key` request header of the queueing routes (draft-ietf-httpapi-
idempotency-key-header): a request repeated with its key gets the first one's answer and
queues nothing; the store is the task's own record (taskqueue.stores.idempotency).

A key is the draft's structured-field string (`"8e03978e-…"`) or, as most clients send it,
the bare text (no comma); 1 to 255 printable ASCII characters either way, else 400. A repeat with
another body is 422; one while the first may still be sending is 409 with Retry-After.
"""

from __future__ import annotations

import logging
import math
import re
import time
from dataclasses import dataclass, field
from typing import Any

from celery import Celery
from flask import request
from taskqueue.app_settings import settings_of
from taskqueue.runtime.celery_config import aws_client_config
from taskqueue.settings import Settings
from taskqueue.stores import idempotency
from taskqueue.stores.idempotency import Recorded

from web_service.problems import ProblemError

logger = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
# RFC 8941's sf-string: printable ASCII in quotes, a quote or backslash escaped.
QUOTED = re.compile(r'"((?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\["\\])*)"')
# A bare key: printable ASCII, no space at either end (HTTP strips those), and no comma: two
# Idempotency-Key headers reach the app as one, joined by a comma (RFC 9110, section 5.3).
BARE = re.compile(r"[\x21-\x2b\x2d-\x7e]([\x20-\x2b\x2d-\x7e]*[\x21-\x2b\x2d-\x7e])?")
# The calls between a task's record and its send's answer: PutObject (a body too large for
# SQS) and SendMessage.
SENDING_CALLS = 2
# A repeat within the first's sending window waits at least this long.
MIN_RETRY_AFTER_SECONDS = 1


def idempotency_key() -> str | None:
    """The request's Idempotency-Key, unquoted; None without one; 400 for a malformed one or
    more than one."""
    values = request.headers.getlist(HEADER)
    if not values:
        return None
    if len(values) > 1:
        raise malformed(f"Send one {HEADER} header, not {len(values)}.")
    value = values[0]
    if quoted := QUOTED.fullmatch(value):
        key = re.sub(r"\\(.)", r"\1", quoted.group(1))
    elif value.startswith('"') or not BARE.fullmatch(value):
        raise malformed(
            f"Send one {HEADER}, of printable ASCII: bare (no comma) or as a quoted"
            " structured-field string."
        )
    else:
        key = value
    if not 1 <= len(key) <= idempotency.MAX_KEY_LENGTH:
        raise malformed(f"{HEADER} must have 1 to {idempotency.MAX_KEY_LENGTH} characters.")
    return key


def malformed(detail: str) -> ProblemError:
    """The 400 of a malformed Idempotency-Key: nothing was queued or recorded."""
    return ProblemError(400, f"Invalid {HEADER}", f"{detail} Nothing was queued.")


def sending_window(settings: Settings) -> float:
    """The longest the web takes from a task's record to its send's answer: a large body's
    PutObject to the payload bucket (taskqueue.runtime.large_messages), then SendMessage,
    each attempt of each waiting its connect and read timeouts, plus a second for the
    backoff between them."""
    config = aws_client_config(settings)
    attempts: int = config["retries"]["total_max_attempts"]
    timeouts: float = config["connect_timeout"] + config["read_timeout"]
    return SENDING_CALLS * attempts * timeouts + 1


@dataclass
class KeyedRequest:
    """A queueing request with an Idempotency-Key: its task's id, derived from its client and
    key, and its body's fingerprint. `write` records the task (the one conditional write);
    `sent` marks it once the send is answered; `give_up` releases it when the send failed."""

    celery: Celery
    task_id: str
    digest: str
    written: dict[str, Any] | None = field(default=None, repr=False)

    def write(self, put: dict[str, Any]) -> None:
        """`mark_queued`'s write: the record, unless the key has a live one (KeyInUse)."""
        idempotency.claim(self.celery.backend.client, put, self.digest, time.time())
        self.written = put

    def sent(self) -> None:
        """The send was answered: mark the record so, and a repeat gets the first answer at
        once. A failure to is logged: repeats then get 409 until the sending window ends."""
        if self.written is None:
            return
        try:
            idempotency.mark_sent(self.celery.backend.client, self.written)
        except Exception:
            logger.warning("could not mark task %s's Idempotency-Key record sent", self.task_id)

    def give_up(self) -> None:
        """The send failed: release the record, so the next request with the key queues the
        task. A failure to is logged: that key's repeats then answer its id."""
        if self.written is None:
            return
        try:
            idempotency.release(self.celery.backend.client, self.written, time.time())
        except Exception:
            logger.warning("could not release the Idempotency-Key record of task %s", self.task_id)

    def recorded(self) -> Recorded | None:
        """The key's live record, if it has one (a consistent read)."""
        backend = self.celery.backend
        return idempotency.lookup(
            backend.client, backend.table_name, backend.item_key(self.task_id), time.time()
        )

    def answer(self, record: Recorded) -> str:
        """The answer to a repeat of the key: its task's id (the first answer again); 422 for
        another body; 409 while the first request may still be sending."""
        if record.fingerprint != self.digest:
            logger.info("an Idempotency-Key reused with another request: refused")
            raise ProblemError(
                422,
                f"{HEADER} reused",
                f"This {HEADER} was sent with another request: a key is for one request and"
                " its retries. Nothing was queued; send a new key for a new request.",
            )
        if record.sending_since is not None:
            window = sending_window(settings_of(self.celery.flask_app))
            left = record.sending_since + window - time.time()
            if left > 0:
                logger.info(
                    "a repeat of an Idempotency-Key while the first may be sending: 409",
                    extra={"task_id": self.task_id},
                )
                raise ProblemError(
                    409,
                    "Request in progress",
                    f"A request with this {HEADER} is being processed; send it again after"
                    " Retry-After for its answer.",
                    headers={"Retry-After": str(max(MIN_RETRY_AFTER_SECONDS, math.ceil(left)))},
                )
        logger.info("a repeat of an Idempotency-Key: answered", extra={"task_id": self.task_id})
        return self.task_id


def keyed(celery: Celery, client: str, key: str | None, body: Any) -> KeyedRequest | None:
    """`client`'s request with `key` (None: no key) and the JSON `body` it stands for."""
    if key is None:
        return None
    return KeyedRequest(celery, idempotency.task_id_for(client, key), idempotency.fingerprint(body))
