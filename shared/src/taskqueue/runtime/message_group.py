"""Every task message carries its client as SQS's `MessageGroupId`: the tenant of fair queues.

Amazon SQS fair queues ("Amazon SQS fair queues", SQS Developer Guide) tell tenants apart by
the `MessageGroupId` of each message on a standard queue: a tenant that holds a
disproportionate share of the in-flight messages (or of the consumers' processing time) is
served after the quiet ones until its share falls, and a message without a group counts as a
tenant of its own. kombu 5.7's SQS transport sends a message's `MessageGroupId` property with
SendMessage to standard queues too, so the transport (taskqueue.runtime.sqs_transport) sets it
from the task's `client` header on every send: the web's, a retry's, a delay's hop, a chain's
next step's (taskqueue.runtime.chain_steps), on whichever queue the message goes to. The sends
outside kombu (a lost worker's message sent again: taskqueue.runtime.dead_letters; the CLI's
redrive by hand) pass the same group. A watch on a last delivery is no task message and
carries none.
"""

from __future__ import annotations

from typing import Any

# The Celery header that names a task's owner (web_service.enqueue, taskqueue.catalogue.schedules).
CLIENT_HEADER = "client"


def group_of(headers: dict[str, Any] | None) -> str | None:
    """The message group of a task message with these Celery headers: its client; None when
    it names none."""
    return _group((headers or {}).get(CLIENT_HEADER))


def group_arguments(client: object) -> dict[str, str]:
    """SendMessage's `MessageGroupId` argument for `client`'s message; none without a client."""
    group = _group(client)
    return {"MessageGroupId": group} if group else {}


def _group(client: object) -> str | None:
    return client if isinstance(client, str) and client else None
