"""The checks of the service as a client sees it: a key is made, a task queued on the web
reaches SUCCESS, the workers report themselves; and the key is revoked at the end."""

from __future__ import annotations

from typing import Any

from taskqueue.stores import api_keys

from taskqueue_cli.errors import CliError
from taskqueue_cli.verify.context import Context
from taskqueue_cli.verify.report import Verdict, failed, passed
from taskqueue_cli.watch import follow
from taskqueue_cli.web import WebClient

# A task that reports progress and takes a known second: long_task is the product's example.
TASK = "long_task"
TASK_PARAMS = {"duration": 1}
POLL_SECONDS = 0.5


def make_api_key(context: Context) -> Verdict:
    """A client's key made with `taskqueue keys create`'s machinery (revoked at the end)."""
    table = context.target.require_table()
    context.api_key = api_keys.create(context.client("dynamodb"), table, context.client_name)
    return passed(f"client {context.client_name} in {table} (revoked at the end)")


def revoke_api_key(context: Context) -> Verdict:
    """The key `make_api_key` made is gone again."""
    table = context.target.require_table()
    revoked = api_keys.revoke(context.client("dynamodb"), table, context.client_name)
    if not revoked:
        return failed(f"client {context.client_name} had no key to revoke")
    return passed(f"client {context.client_name}: {revoked} key revoked")


def task_reaches_success(context: Context) -> Verdict:
    """Queue a task on the web; it reaches SUCCESS. With the worker service at 0 desired,
    the time until a worker picked it up is the time to wake from zero."""
    url = context.web_url()
    web = WebClient(url, context.key())
    desired = worker_desired_count(context)
    queued = context.clock()
    task_id = web.enqueue(TASK, TASK_PARAMS)
    picked_up: float | None = None
    status: dict[str, Any] = {}
    try:
        for status in follow(
            lambda: web.status(task_id),
            POLL_SECONDS,
            context.task_timeout,
            clock=context.clock,
            sleep=context.sleep,
        ):
            if picked_up is None and status["state"] != "PENDING":
                picked_up = context.clock() - queued
    except CliError as error:
        return failed(f"task {task_id}: {error}", wake_note(context, desired, None))
    total = context.clock() - queued
    figure = f"{TASK} {status['state']} in {total:.1f} s through {url}"
    detail = wake_note(context, desired, picked_up)
    if status["state"] != "SUCCESS":
        return failed(f"{figure}: {status.get('error') or status['state']}", detail)
    return passed(figure, detail)


def worker_desired_count(context: Context) -> int | None:
    """The worker service's desired count before the task was queued (ECS)."""
    cluster = context.target.cluster
    service = context.target.worker_service
    if not cluster or not service:
        return None
    answer = context.client("ecs").describe_services(cluster=cluster, services=[service])
    found = answer.get("services") or []
    return int(found[0]["desiredCount"]) if found else None


def wake_note(context: Context, desired: int | None, picked_up: float | None) -> str:
    """How long the worker took to pick the task up, and whether that was a wake from zero."""
    taken = "not picked up" if picked_up is None else f"picked up after {picked_up:.1f} s"
    if context.offline:
        return f"{taken}; wake from zero not verifiable offline: no autoscaling runs locally"
    if desired == 0:
        return f"worker service was at 0 desired: woke from zero, {taken}"
    return f"{taken} (worker service at {desired} desired: no wake from zero to measure)"


def workers_present(context: Context) -> Verdict:
    """The live workers report themselves (GET /workers, their presence items)."""
    url = context.web_url()
    workers = WebClient(url, context.key()).workers()
    if not workers:
        return failed("no live worker in GET /workers")
    slots = sum(int(worker["concurrency"]) for worker in workers)
    busy = sum(int(worker["busy"]) for worker in workers)
    names = ", ".join(str(worker["worker"]) for worker in workers)
    return passed(f"{len(workers)} live worker(s), {busy}/{slots} pool slots busy", names)
