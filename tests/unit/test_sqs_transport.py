"""The broker transport's SDK clients come from the process's one boto3 session."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from celery import Celery
from flask import Flask
from taskqueue import aws_session


def test_every_connection_makes_its_clients_from_the_one_session(
    app: Flask, sqs: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    sessions_made = []
    real_session = boto3.Session

    def counted_session(**kwargs: Any) -> boto3.Session:
        sessions_made.append(kwargs)
        return real_session(**kwargs)

    monkeypatch.setattr(boto3, "Session", counted_session)  # kombu 5.7 calls boto3.Session
    celery: Celery = app.extensions["celery"]
    queue = celery.conf.task_default_queue

    clients = []
    for _ in range(3):  # the web's producer pool opens one connection per request thread
        with celery.connection_for_write() as connection:
            client = connection.default_channel.sqs(queue=queue)
            client.get_queue_attributes(QueueUrl=sqs.get_queue_url(QueueName=queue)["QueueUrl"])
            clients.append(client)

    assert len(sessions_made) <= 1  # at most the process's one, on first use
    assert aws_session._session is not None
    assert len({id(client) for client in clients}) == 3  # a client per connection, as before
    # ...all loaded from the one session's cache of service models.
    loaders = {id(client._loader) for client in clients}
    assert loaders == {id(aws_session._session._loader)}


def test_while_the_endpoint_fails_the_worker_polls_again_after_1_2_4_up_to_10_seconds(
    app: Flask,
) -> None:
    """tests/faults/README.md: the worker backs off (1, 2, 4 ... 10 s) and resumes receiving."""
    celery: Celery = app.extensions["celery"]
    queue = celery.conf.task_default_queue
    with celery.connection_for_write() as connection:
        channel = connection.default_channel
        delays: list[float] = []
        channel.hub = SimpleNamespace(call_later=lambda delay, *_: delays.append(delay))

        for _ in range(6):
            channel._on_messages_ready(queue, queue, [])  # kombu's answer to a failed poll
            channel._loop1(queue)
        channel._on_messages_ready(queue, queue, {"Messages": []})  # it answers again

        assert delays == [1, 2, 4, 8, 10, 10]
        assert channel.failed_polls == 0
