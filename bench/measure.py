"""Every measurement for one worker configuration, against one running local stack: the
network-bound phases on each network (loopback, the latency model), the rest on loopback."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from bench.drain import worker_drain
from bench.enqueue import web_enqueue
from bench.idle import count_requests
from bench.latency import LatencyModel
from bench.network import LOOPBACK, Network, loopback
from bench.pickup import measure_pickup, percentile
from bench.plan import Plan
from bench.raw import raw_drain, raw_send, raw_task_drain
from bench.report import KEYS, MODELLED_KEYS
from bench.resources import children_rss_mb, tree_pss_mb, tree_rss_mb
from bench.running_task_cost import count_running_task
from bench.stackops import cpu_during, empty_queue, per, require_all, sample_body, say
from bench.workers import WorkerConfig, start_worker
from harness.stack import LocalStack


def pickup_phase(
    stack: LocalStack, config: WorkerConfig, plan: Plan, work_dir: Path, net: Network
) -> dict[str, Any]:
    """Pickup latency of an idle worker, one task at a time."""
    tasks, gaps = plan.pickup_tasks[config.key], plan.pickup_gap_s[config.key]
    say(f"{config.title}, {net.key}: pickup of {tasks} tasks")
    empty_queue(stack)
    stamps = work_dir / f"{config.key}-{net.key}-pickup-stamps"
    stamps.unlink(missing_ok=True)
    worker = start_worker(stack, config, stamps, endpoint_url=net.endpoint_url)
    try:
        rng = random.Random(5)
        pickups = measure_pickup(net.web_url, stamps, tasks, gaps, rng, api_key=stack.api_key)
    finally:
        worker.stop()
    return {
        "pickup_p50_s": percentile(pickups.latencies, 0.5),
        "pickup_p95_s": percentile(pickups.latencies, 0.95),
        "queue_pickup_p50_s": percentile(pickups.from_queue, 0.5),
        "queue_pickup_p95_s": percentile(pickups.from_queue, 0.95),
        "details": {
            "pickup_tasks": len(pickups.latencies),
            "pickup_gap_s": list(gaps),
            "pickup_max_s": max(pickups.latencies),
            "post_round_trip_p50_s": percentile(pickups.post_round_trips, 0.5),
        },
    }


def enqueue_phase(
    stack: LocalStack, config: WorkerConfig, plan: Plan, net: Network
) -> dict[str, Any]:
    """POST /tasks through gunicorn beside plain send_message, same count and concurrency."""
    n, c, deadline = plan.enqueue_tasks, plan.concurrency, plan.deadline_s
    say(f"{config.title}, {net.key}: enqueue {n} tasks, web then raw, concurrency {c}")
    empty_queue(stack)
    web_enqueue(
        net.web_url, 2 * c, c, deadline, api_key=stack.api_key
    )  # warm-up: connections, SDK clients
    body = sample_body(stack)
    empty_queue(stack)
    web, web_cpu = cpu_during(
        stack,
        lambda: require_all(
            web_enqueue(net.web_url, n, c, deadline, api_key=stack.api_key), n, "web enqueue"
        ),
        web=net.web_process,
    )
    empty_queue(stack)
    raw_send(stack, net, body, 2 * c, c, deadline)
    empty_queue(stack)
    sent, sent_cpu = cpu_during(
        stack, lambda: require_all(raw_send(stack, net, body, n, c, deadline), n, "raw send")
    )
    return {
        "enqueue_req_per_s": web.per_s,
        "raw_send_msgs_per_s": sent.per_s,
        "enqueue_ratio": web.per_s / sent.per_s,
        "body": body,
        "details": {
            "enqueue_tasks": n,
            "enqueue_concurrency": c,
            "endpoint_cpu_ms_per_enqueue": per(web_cpu["aws"], n),
            "web_cpu_ms_per_enqueue": per(web_cpu["web"], n),
            "client_cpu_ms_per_enqueue": per(web_cpu["client"], n),
            "endpoint_cpu_ms_per_raw_send": per(sent_cpu["aws"], n),
            # moto serves one request at a time (about one core at most). When it is the
            # busy part, no web can beat this ratio of moto's work per raw send to its work
            # per POST /tasks (the POST also writes the PENDING record).
            "endpoint_cores_busy_enqueue": web_cpu["aws"] / web.elapsed_s,
            "endpoint_cores_busy_raw_send": sent_cpu["aws"] / sent.elapsed_s,
            "enqueue_ratio_endpoint_bound": sent_cpu["aws"] / web_cpu["aws"],
            "client_cpu_ms_per_raw_send": per(sent_cpu["client"], n),
            "sqs_message_bytes": len(body),
        },
    }


def drain_phase(
    stack: LocalStack, config: WorkerConfig, plan: Plan, body: str, work_dir: Path, net: Network
) -> dict[str, Any]:
    """The raw loops, then one worker, each on N queued messages; memory after the drain
    (on loopback: the network does not change it)."""
    n, c, deadline = plan.drain_tasks[config.key], plan.concurrency, plan.deadline_s
    here = loopback(stack)  # the queue is filled on loopback: the fill is not timed
    pool = stack.settings.worker_concurrency
    say(f"{config.title}, {net.key}: drain {n} tasks, the raw loops then the worker")
    empty_queue(stack)
    require_all(raw_send(stack, here, body, n, c, deadline), n, "raw fill")
    raw, raw_cpu = cpu_during(stack, lambda: raw_drain(stack, net, n, deadline))
    empty_queue(stack)
    require_all(raw_send(stack, here, body, n, c, deadline), n, "raw fill")
    like = require_all(raw_task_drain(stack, net, n, pool, deadline), n, "raw task drain")
    empty_queue(stack)
    require_all(web_enqueue(stack.web_url, n, c, deadline, api_key=stack.api_key), n, "web fill")
    stamps = work_dir / f"{config.key}-{net.key}-drain-stamps"
    (drain, worker), drain_cpu = cpu_during(
        stack,
        lambda: worker_drain(stack, config, n, stamps, deadline, endpoint_url=net.endpoint_url),
    )
    try:
        memory = (tree_rss_mb(worker.pid), tree_pss_mb(worker.pid)) if net.key == LOOPBACK else None
    finally:
        worker.stop()
    figures: dict[str, Any] = {
        "drain_tasks_per_s": drain.per_s,
        "raw_drain_msgs_per_s": raw.per_s,
        "raw_task_drain_per_s": like.per_s,
        # Like with like: the same requests per task at the same concurrency.
        "drain_ratio": drain.per_s / like.per_s,
        "drain_ratio_to_ceiling": drain.per_s / raw.per_s,
        "worker_cpu_ms_per_task": drain.cpu_ms_per_task,
        "raw_cpu_ms_per_msg": raw.cpu_ms_per_msg,
        "details": {
            "drain_tasks": n,
            "drain_wall_s": drain.elapsed_s,
            "raw_drain_wall_s": raw.elapsed_s,
            "raw_task_drain_wall_s": like.elapsed_s,
            "raw_task_drain_concurrency": pool,
            "endpoint_cpu_ms_per_drained_task": per(drain_cpu["aws"], n),
            "endpoint_cpu_ms_per_raw_drained_msg": per(raw_cpu["aws"], n),
            # As for enqueue: the drain ratio moto's own cost allows, and how busy it was.
            "endpoint_cores_busy_drain": drain_cpu["aws"] / drain.elapsed_s,
            "endpoint_cores_busy_raw_drain": raw_cpu["aws"] / raw.elapsed_s,
            "drain_ratio_endpoint_bound": raw_cpu["aws"] / drain_cpu["aws"],
            "worker_concurrency": pool,
            "worker_pool": "prefork",
        },
    }
    if memory is not None:
        figures["rss_worker_mb"] = memory[0]
        figures["details"]["pss_worker_mb"] = memory[1]
    return figures


def network_phases(
    stack: LocalStack,
    config: WorkerConfig,
    plan: Plan,
    work_dir: Path,
    net: Network,
) -> dict[str, Any]:
    """The figures the network changes, on `net`: pickup, enqueue, drain (and the raw loops)."""
    pickup = pickup_phase(stack, config, plan, work_dir, net)
    enqueue = enqueue_phase(stack, config, plan, net)
    drain = drain_phase(stack, config, plan, enqueue.pop("body"), work_dir, net)
    return {
        **pickup,
        **drain,
        **enqueue,
        "details": {**pickup["details"], **drain["details"], **enqueue["details"]},
    }


def modelled_column(
    stack: LocalStack,
    config: WorkerConfig,
    plan: Plan,
    work_dir: Path,
    net: Network,
    model: LatencyModel,
) -> dict[str, Any]:
    """The network-bound figures under the latency model (`net`: the model's network)."""
    say(f"{config.title}, {net.key}: requests per task")
    empty_queue(stack)
    counts = count_requests(stack, config, 0.0, plan.sample_tasks, work_dir, model=model)
    figures = network_phases(stack, config, plan, work_dir, net)
    figures["requests_per_short_task"] = sum(counts.per_task.values())
    column = {key: figures[key] for key in MODELLED_KEYS}
    column["details"] = {**figures["details"], "endpoint_requests_per_task": counts.per_task}
    return column


def measure_config(
    stack: LocalStack,
    config: WorkerConfig,
    plan: Plan,
    work_dir: Path,
    modelled: Network,
    model: LatencyModel,
) -> dict[str, Any]:
    """Every figure for one configuration: the issue's keys, and "details" that explain them;
    under "modelled", the network-bound ones again on the latency model's network."""
    say(f"{config.title}: idle requests over {plan.idle_window_s:.0f} s, then per task")
    empty_queue(stack)
    counts = count_requests(stack, config, plan.idle_window_s, plan.sample_tasks, work_dir)
    window = plan.running_task_window_s[config.key]
    say(f"{config.title}: one long_task running, requests over {window:.0f} s")
    empty_queue(stack)
    running = count_running_task(stack, config, window, work_dir)
    measured = network_phases(stack, config, plan, work_dir, loopback(stack))
    web_process = next(p for p in stack.processes if p.name == "web")
    rss_web = children_rss_mb(web_process.pid)
    figures = {
        **measured,
        "idle_requests_per_hour": counts.idle_per_hour,
        "rss_web_mb": max(rss_web),
        # Unchanged by the heartbeat (3.75 before it): a short task ends before any extension.
        "requests_per_short_task": sum(counts.per_task.values()),
        "running_task_sqs_requests_per_hour": running.per_hour("sqs"),
        "running_task_dynamodb_requests_per_hour": running.per_hour("dynamodb"),
    }
    figures = {key: figures[key] for key in KEYS}  # the order
    figures["details"] = {
        "settings": config.settings,
        **measured["details"],
        "idle_window_s": counts.window_s,
        "idle_requests": counts.idle_requests,
        "idle_requests_by_action": counts.idle_by_action,
        "endpoint_requests_per_task": counts.per_task,
        "running_task_window_s": running.window_s,
        "running_task_requests": running.by_action,
        "web_workers": stack.settings.web_workers,
        "web_threads": stack.settings.web_threads,
        "rss_web_mb_each": rss_web,
    }
    figures["modelled"] = modelled_column(stack, config, plan, work_dir, modelled, model)
    return figures
