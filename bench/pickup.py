"""Pickup latency: from sending `POST /tasks`, and from the message's arrival in the queue,
to the task's start.

One task at a time, each after a random gap, to an idle worker; the start is stamped by the
pool process just before the task body runs (`bench.stamps`). Two clocks:
- from the POST: the clock starts when the request leaves the client, not when its 202
  arrives (a long-polling worker often starts the task before the web's answer is back,
  which would make the latency negative). It includes the web's own requests before its
  SendMessage (under the model, each a round trip).
- from the queue: from SQS's SentTimestamp of the message (when the queue accepted it) to
  the start: the worker's share alone, which a ReceiveMessage round trip bounds from below.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from pathlib import Path

import requests
from taskqueue_cli.api import TaskApi

from bench.stamps import read_stamps

# A task that has not started after this long counts as lost: the run fails loudly.
START_TIMEOUT_S = 30.0
POLL_S = 0.002


def wait_for_stamp(
    stamps_file: Path, task_id: str, kind: str, poll_s: float, timeout: float = START_TIMEOUT_S
) -> float:
    """The unix time the task's `kind` ("start" or "end") was stamped, polling the file."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stamps = read_stamps(stamps_file)
        stamped = (stamps.starts if kind == "start" else stamps.ends).get(task_id)
        if stamped is not None:
            return stamped
        time.sleep(poll_s)
    raise RuntimeError(f"task {task_id} did not {kind} within {timeout}s")


def wait_for_start(stamps_file: Path, task_id: str) -> float:
    """The unix time the task started."""
    return wait_for_stamp(stamps_file, task_id, "start", POLL_S)


def wait_for_end(stamps_file: Path, task_id: str) -> float:
    """The unix time the task ended (polled coarsely: nothing is timed by it)."""
    return wait_for_stamp(stamps_file, task_id, "end", POLL_S * 10)


@dataclass(frozen=True)
class Pickups:
    """Per task: seconds from the POST to the start, from the queue to the start, and the
    POST's own round trip."""

    latencies: list[float]
    from_queue: list[float]
    post_round_trips: list[float]


def measure_pickup(
    web_url: str,
    stamps_file: Path,
    count: int,
    gap_s: tuple[float, float],
    rng: random.Random,
    *,
    api_key: str,
) -> Pickups:
    """Pickup latency of `count` tasks sent one at a time, each after a random gap."""
    pickups = Pickups(latencies=[], from_queue=[], post_round_trips=[])
    with requests.Session() as session:
        api = TaskApi(web_url, session=session, api_key=api_key)
        api.enqueue("noop")  # warm the connection; this task is not measured
        for _ in range(count):
            time.sleep(rng.uniform(*gap_s))
            posted = time.time()
            task_id = api.enqueue("noop")
            answered = time.time()
            started = wait_for_start(stamps_file, task_id)
            pickups.latencies.append(started - posted)
            pickups.from_queue.append(started - read_stamps(stamps_file).queued[task_id])
            pickups.post_round_trips.append(answered - posted)
    return pickups


def percentile(values: list[float], fraction: float) -> float:
    """Linear-interpolated percentile (`fraction` in [0, 1])."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * fraction
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)
