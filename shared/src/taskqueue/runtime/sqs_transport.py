"""kombu's SQS transport, releasing restored messages at once and surviving outages.

When a worker stops (or a pool process dies) with messages it received but did not finish,
kombu 5.7 hands them back with ChangeMessageVisibility(VisibilityTimeout=wait_time_seconds),
so another worker waits about 20 s for them. This channel ends the task's idempotency lease
(it will not finish here) and makes the message visible immediately. Selected with the
`broker_transport` setting.

When the endpoint is unreachable, kombu 5.7 hands the failed long poll to its callback as
an empty list, which raises AttributeError in the hub's timer and stops polling for good:
the worker looks alive and never receives again. This channel treats such a poll as
empty and polls again with a capped backoff until the endpoint answers.

kombu 5.7 also builds a boto3 session per connection; this channel's clients share the
process's one session (taskqueue.aws_session).

A task whose eta is ahead (a countdown, a retry's backoff, the web's delay) is sent with
SQS's DelaySeconds, and one received before its eta is re-delayed in SQS instead of waiting
in the worker's memory (taskqueue.catalogue.delays).

Every task message is sent with its client as SQS's MessageGroupId, the tenant of SQS fair
queues (taskqueue.runtime.message_group).

A watch on a task's last delivery (taskqueue.runtime.dead_letters) is handled here, never handed to
Celery: it is not a task, and counts in no task metric.

A message over SQS's size limit is sent with its body in the payload bucket and a pointer in
its place, and its body is fetched when it is received (taskqueue.runtime.large_messages):
this transport is the one place every send and every receive passes.
A finished task's message is deleted at once when the worker has no other task unfinished,
else with the others that finish within half a second of it, in one DeleteMessageBatch
(taskqueue.runtime.batched_deletes).

"""

from __future__ import annotations

import logging
import time
from functools import cached_property
from typing import Any

from botocore.config import Config
from kombu.transport import SQS
from kombu.utils.encoding import bytes_to_str
from kombu.utils.json import dumps

from taskqueue import aws_session
from taskqueue.catalogue.delays import (
    delay_seconds,
    eta_of,
    is_revoked,
    lead_seconds,
    needs_hop,
)
from taskqueue.catalogue.placeholder import celery
from taskqueue.runtime import dead_letters, large_messages
from taskqueue.runtime.batched_deletes import ACK_BATCH_WINDOW_SECONDS, DeleteBatches
from taskqueue.runtime.message_group import group_of
from taskqueue.runtime.run_once import release
from taskqueue.settings import SQS_MAX_DELAY_SECONDS
from taskqueue.stores import waiting
from taskqueue.stores.payloads import PayloadBucket, PayloadMissing, s3_client

logger = logging.getLogger(__name__)


# Seconds between polls while the endpoint fails: 1, 2, 4, ... at most 10.
MAX_POLL_BACKOFF_SECONDS = 10


class Channel(SQS.Channel):
    """An SQS channel whose restored messages are visible again at once, and whose delayed
    tasks wait in SQS."""

    failed_polls = 0
    _deletes: DeleteBatches | None = None
    _flush_due = False

    def basic_ack(self, delivery_tag: Any, multiple: bool = False) -> None:
        """Free the delivery's slot now; delete its message now if no other delivery is
        unfinished, else with the others of its queue that finish within
        ACK_BATCH_WINDOW_SECONDS (one DeleteMessageBatch)."""
        try:
            info = self.qos.get(delivery_tag).delivery_info
            handle, queue_url = info["sqs_message"]["ReceiptHandle"], info["sqs_queue"]
        except KeyError:  # not an SQS message: kombu's own path
            super().basic_ack(delivery_tag, multiple)
            return
        queue = self.canonical_queue_name(info["routing_key"]) if "routing_key" in info else None
        # The virtual channel's ack (SQS's would delete the message now): the slot is free.
        super(SQS.Channel, self).basic_ack(delivery_tag)
        if self._deletes is None:
            self._deletes = DeleteBatches(lambda name: self.sqs(queue=name))
        full = self._deletes.add((queue, queue_url), handle)
        if full or self.hub is None or not self._unfinished():
            self._flush_deletes()
        elif not self._flush_due:
            self._flush_due = True
            self.hub.call_later(ACK_BATCH_WINDOW_SECONDS, self._flush_deletes)

    def _unfinished(self) -> int:
        """Deliveries received and not yet acknowledged (kombu's QoS: delivered less acked)."""
        return len(self.qos._delivered) - len(self.qos._dirty)

    def _flush_deletes(self) -> None:
        self._flush_due = False
        if self._deletes is not None:
            self._deletes.flush()

    def close(self) -> None:
        """Delete what is pending, then close (a stopping worker's last acknowledgements)."""
        self._flush_deletes()
        super().close()

    def _on_messages_ready(self, queue: str, qname: str, messages: Any) -> int:
        if not isinstance(messages, dict):  # kombu's answer to a failed long poll
            self.failed_polls += 1
            logger.warning("receiving from %s failed (%d in a row)", qname, self.failed_polls)
            return 0
        if self.failed_polls:
            logger.info("receiving from %s again", qname)
            self.failed_polls = 0
        due = []
        for message in messages.get("Messages") or []:
            if watch := dead_letters.watched(message["Body"]):
                self._check_watch(queue, qname, message, *watch)
            elif not self._delayed_again(queue, qname, message) and (
                whole := self._with_body(queue, qname, message)
            ):
                due.append(whole)
        received: int = super()._on_messages_ready(queue, qname, {**messages, "Messages": due})
        return received

    def _check_watch(
        self, queue_url: str, qname: str, received: dict[str, Any], task_id: str, attempt: int
    ) -> None:
        """A watch is due: check the run it watches, send it again while that run holds its
        lease, and delete what was received. On an error it comes back after the
        visibility timeout."""
        sqs = self.sqs(queue=qname)
        try:
            running_for = dead_letters.check(celery, task_id, attempt, time.time())
            if running_for is not None:
                sqs.send_message(
                    QueueUrl=queue_url,
                    MessageBody=received["Body"],
                    DelaySeconds=dead_letters.watch_delay(running_for),
                )
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=received["ReceiptHandle"])
        except Exception:
            logger.warning("could not check the last delivery of task %s", task_id, exc_info=True)

    @cached_property
    def payload_bucket(self) -> PayloadBucket:
        """The payload bucket of messages over SQS's limit (the transport option
        `payload_bucket`), through an S3 client with the broker's endpoint and timeouts."""
        options = self.transport_options
        client = s3_client(self.region, self.endpoint_url, options.get("client-config") or {})
        return PayloadBucket(client, str(options["payload_bucket"]))

    def _with_body(
        self, queue_url: str, qname: str, received: dict[str, Any]
    ) -> dict[str, Any] | None:
        """The received message with its body, fetched from the payload bucket when it
        carries a pointer instead; None when it cannot be handed to Celery: a body whose
        object is gone fails its task for good, any other error leaves the message to come
        back after the visibility timeout."""
        text = bytes_to_str(self._decode_python_message_body(received["Body"]))
        if large_messages.POINTER not in text:  # no JSON parse for most messages
            return received
        payload: dict[str, Any] = self._prepare_json_payload(text)
        task_id = (payload.get("headers") or {}).get("id")
        try:
            whole = large_messages.restored(payload, self.payload_bucket)
        except PayloadMissing as error:
            logger.error("task %s cannot run: its parameters are gone (%s)", task_id, error)
            self._fail_for_good(queue_url, qname, received, task_id, error)
            return None
        except Exception:
            logger.warning("could not fetch the parameters of task %s", task_id, exc_info=True)
            return None
        return {**received, "Body": dumps(whole)}

    def _fail_for_good(
        self,
        queue_url: str,
        qname: str,
        received: dict[str, Any],
        task_id: str | None,
        error: Exception,
    ) -> None:
        """Record the task FAILURE with `error`, give back the waiting slot it held, and
        delete its message: no delivery could ever run it."""
        try:
            if task_id:
                backend = celery.backend
                backend.mark_as_failure(task_id, error)
                waiting.end_waiting(
                    backend.client, backend.table_name, backend.item_key(task_id), task_id
                )
            self.sqs(queue=qname).delete_message(
                QueueUrl=queue_url, ReceiptHandle=received["ReceiptHandle"]
            )
        except Exception:  # it comes back after the visibility timeout, and fails again here
            logger.warning("could not record the failure of task %s", task_id, exc_info=True)

    @property
    def delay_hop_seconds(self) -> int:
        """The longest DelaySeconds of one message (SQS's 900 s; shorter in tests only)."""
        return int(self.transport_options.get("delay_hop_seconds", SQS_MAX_DELAY_SECONDS))

    def _delayed_again(self, queue_url: str, qname: str, received: dict[str, Any]) -> bool:
        """A received task not due yet goes back to SQS with the remaining delay (a hop) and
        is not handed to Celery; a cancelled one is dropped instead. False when it is due."""
        text = bytes_to_str(self._decode_python_message_body(received["Body"]))
        payload: dict[str, Any] = self._prepare_json_payload(text)
        eta = eta_of(payload)
        if eta is None or not needs_hop(eta, time.time(), lead_seconds(payload)):
            return False
        task_id = (payload.get("headers") or {}).get("id")
        try:
            if task_id and is_revoked(celery, task_id):
                logger.info("task %s was cancelled while delayed: dropped", task_id)
            else:
                self._put(qname, payload)  # the copy first: a lost delete only duplicates
                logger.info("task %s is due in %.0f s: delayed again", task_id, eta - time.time())
            self.sqs(queue=qname).delete_message(
                QueueUrl=queue_url, ReceiptHandle=received["ReceiptHandle"]
            )
        except Exception:  # it stays hidden and comes back after the visibility timeout
            logger.warning("could not delay task %s again", task_id, exc_info=True)
        return True

    def _loop1(self, queue: str, messages_fetched: int | None = None) -> None:
        if self.failed_polls:
            delay = min(2 ** (self.failed_polls - 1), MAX_POLL_BACKOFF_SECONDS)
            self.hub.call_later(delay, self._schedule_queue, queue)  # type: ignore[union-attr]
            return
        super()._loop1(queue, messages_fetched)

    def _new_boto_client(
        self,
        service: str,
        region: str,
        access_key_id: str | None,
        secret_access_key: str | None,
        session_token: str | None = None,
        config: Config | None = None,
    ) -> Any:
        client_config = Config(**(self.transport_options.get("client-config") or {}))
        if config is not None:
            client_config = client_config.merge(config)
        endpoint = {} if self.endpoint_url is None else {"endpoint_url": self.endpoint_url}
        return aws_session.client(
            service,
            region_name=region,
            aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key,
            aws_session_token=session_token,
            use_ssl=self.is_secure if self.is_secure is not None else True,
            config=client_config,
            **endpoint,
        )

    def _put(self, queue: str, message: dict[str, Any], **kwargs: Any) -> None:
        if not message.get("redelivered"):
            delay = delay_seconds(
                eta_of(message), time.time(), self.delay_hop_seconds, lead_seconds(message)
            )
            properties = message.setdefault("properties", {})
            properties.pop("delay_seconds", None)  # a hop's copy carries the previous one
            if delay:
                properties["delay_seconds"] = delay  # kombu 5.7 sends it as DelaySeconds
            if group := group_of(message.get("headers")):
                properties["MessageGroupId"] = group  # and this as MessageGroupId
            if large_messages.too_large(message, base64=self.sqs_base64_encoding):
                message = large_messages.offload(message, self.payload_bucket)
            super()._put(queue, message, **kwargs)
            return
        task_id = message.get("headers", {}).get("id")
        if task_id:
            try:
                release(celery, task_id)
            except Exception:  # the lease also ends by itself, before the visibility timeout
                logger.warning("could not end the lease of task %s", task_id, exc_info=True)
        self.sqs(queue=self.canonical_queue_name(queue)).change_message_visibility(
            QueueUrl=self._new_queue(queue),
            ReceiptHandle=message["properties"]["delivery_tag"],
            VisibilityTimeout=0,
        )


class Transport(SQS.Transport):
    """The SQS transport with `Channel` above."""

    Channel = Channel
