"""The results: `results.json` (the issue's keys) and a Markdown table beside the targets.

Each configuration's section holds the loopback figures; its "modelled" object holds the
network-bound ones (MODELLED_KEYS) measured again under the latency model (bench.latency).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

# (key, label, unit, target as (comparison, value) or None, decimals)
METRICS: list[tuple[str, str, str, tuple[str, float] | None, int]] = [
    ("pickup_p50_s", "pickup p50", "s", ("<=", 0.02), 4),
    ("pickup_p95_s", "pickup p95", "s", ("<=", 0.1), 4),
    # From SQS's SentTimestamp of the message to the start: the worker's share of the pickup.
    ("queue_pickup_p50_s", "pickup p50 from the queue", "s", None, 4),
    ("queue_pickup_p95_s", "pickup p95 from the queue", "s", None, 4),
    ("idle_requests_per_hour", "idle SQS requests", "per worker-hour", ("<=", 200), 0),
    ("drain_tasks_per_s", "drain", "tasks/s", None, 1),
    # A task's requests (receive, STARTED, SUCCESS, delete) at the worker's concurrency.
    ("raw_task_drain_per_s", "raw drain, like for like (boto3)", "tasks/s", None, 1),
    ("drain_ratio", "drain ÷ raw (like for like)", "", (">=", 0.8), 2),
    ("raw_drain_msgs_per_s", "raw drain, bare loop (the ceiling)", "msgs/s", None, 1),
    ("drain_ratio_to_ceiling", "drain ÷ bare loop", "", None, 2),
    ("enqueue_req_per_s", "enqueue (POST /tasks)", "req/s", None, 1),
    ("raw_send_msgs_per_s", "raw send_message", "msgs/s", None, 1),
    ("enqueue_ratio", "enqueue ÷ raw", "", (">=", 0.8), 2),
    ("worker_cpu_ms_per_task", "worker CPU per task", "ms", None, 2),
    ("raw_cpu_ms_per_msg", "raw loop CPU per message", "ms", None, 2),
    ("rss_worker_mb", "worker RSS (main + pool)", "MB", ("<=", 150), 1),
    ("rss_web_mb", "web RSS per gunicorn worker", "MB", ("<=", 80), 1),
    ("requests_per_short_task", "endpoint requests per short (noop) task", "", None, 2),
    # What keeping one task running costs (bench.running_task_cost): polls and progress writes
    # apart.
    ("running_task_sqs_requests_per_hour", "SQS requests per running task", "per hour", None, 0),
    (
        "running_task_dynamodb_requests_per_hour",
        "DynamoDB requests per running task",
        "per hour",
        None,
        0,
    ),
]
KEYS = [key for key, *_ in METRICS]
# The figures the network changes: measured on loopback and again under the latency model.
MODELLED_KEYS = [
    "pickup_p50_s",
    "pickup_p95_s",
    "queue_pickup_p50_s",
    "queue_pickup_p95_s",
    "drain_tasks_per_s",
    "raw_task_drain_per_s",
    "drain_ratio",
    "raw_drain_msgs_per_s",
    "drain_ratio_to_ceiling",
    "enqueue_req_per_s",
    "raw_send_msgs_per_s",
    "enqueue_ratio",
    "worker_cpu_ms_per_task",
    "raw_cpu_ms_per_msg",
    "requests_per_short_task",
]
# The pickup goal under the model: ReceiveMessage's modelled median round trip plus this.
PICKUP_MODEL_MARGIN_S = 0.010
# Rows from "details" that explain the figures above, in the same shape as METRICS.
CONTEXT: list[tuple[str, str, str, tuple[str, float] | None, int]] = [
    # The memory the worker's container is charged: pages shared after fork count once.
    ("pss_worker_mb", "worker PSS (main + pool, shared pages once)", "MB", ("<=", 150), 1),
    ("endpoint_cpu_ms_per_drained_task", "moto CPU per task drained by the worker", "ms", None, 2),
    ("endpoint_cpu_ms_per_raw_drained_msg", "moto CPU per message drained raw", "ms", None, 2),
    ("endpoint_cores_busy_drain", "moto busy during the worker's drain", "cores", None, 2),
    ("drain_ratio_endpoint_bound", "drain ÷ raw that moto's cost allows", "", None, 2),
    ("endpoint_cpu_ms_per_enqueue", "moto CPU per POST /tasks", "ms", None, 2),
    ("endpoint_cpu_ms_per_raw_send", "moto CPU per raw send_message", "ms", None, 2),
    ("web_cpu_ms_per_enqueue", "web (gunicorn) CPU per POST /tasks", "ms", None, 2),
    ("endpoint_cores_busy_enqueue", "moto busy during POST /tasks", "cores", None, 2),
    ("enqueue_ratio_endpoint_bound", "enqueue ÷ raw that moto's cost allows", "", None, 2),
]


def meets(value: float, target: tuple[str, float]) -> bool:
    """Whether `value` meets the target."""
    comparison, limit = target
    return value <= limit if comparison == "<=" else value >= limit


def _fmt(value: float, decimals: int) -> str:
    return f"{value:,.{decimals}f}"


def _cell(value: float | None, decimals: int) -> str:
    return "—" if value is None else _fmt(value, decimals)


def _row(
    label: str,
    unit: str,
    cells: list[float | None],
    target: tuple[str, float] | None,
    decimals: int,
) -> str:
    """One table row: the figure for each column (None: not measured there) and the verdict
    on the target for this project's (the first column, and the second if measured)."""
    name = f"{label} ({unit})" if unit else label
    goal = ""
    if target is not None:
        verdicts = [
            "met" if meets(value, target) else "**missed**"
            for value in cells[:2]
            if value is not None
        ]
        goal = f"{target[0].replace('<=', '≤').replace('>=', '≥')} {target[1]:g}: "
        goal += " / ".join(verdicts)
    values = " | ".join(_cell(value, decimals) for value in cells)
    return f"| {name} | {values} | {goal} |"


def markdown(results: dict[str, Any]) -> str:
    """The table README shows: both configurations on both networks and the targets, then
    the run's sizes."""
    baseline = results["baseline"]
    # A results.json written before the model has no "modelled" column: "—" there.
    ours_m, base_m = results.get("modelled", {}), baseline.get("modelled", {})
    lines = [
        "| Metric | This project, loopback | under the model | Seed baseline, loopback "
        "| under the model | Target (this project: loopback / model) |",
        "| --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for key, label, unit, target, decimals in METRICS:
        cells = [results.get(key), ours_m.get(key), baseline.get(key), base_m.get(key)]
        lines.append(_row(label, unit, cells, target, decimals))
    ours_d, base_d, run = results["details"], baseline["details"], results["run"]
    ours_md, base_md = ours_m.get("details", {}), base_m.get("details", {})
    for key, label, unit, target, decimals in CONTEXT:
        ours, base = ours_d.get(key), base_d.get(key)
        if ours is not None and base is not None:
            cells = [ours, ours_md.get(key), base, base_md.get(key)]
            lines.append(_row(label, unit, cells, target, decimals))
    per_task = ", ".join(
        f"{action} {count:g}" for action, count in ours_d["endpoint_requests_per_task"].items()
    )
    running = ", ".join(
        f"{action} {count:g}" for action, count in ours_d["running_task_requests"].items()
    )
    lines += [
        "",
        f"Run: {'QUICK (short) run; ' if run['quick'] else ''}{run['started_at']}, "
        f"{run['cpus']} CPUs (1-min load average {run['load_avg_1m']['start']:.1f} at start, "
        f"{run['load_avg_1m']['end']:.1f} at end), Python {run['python']}, "
        f"moto {run['versions']['moto']}, "
        f"Celery {run['versions']['celery']}, kombu {run['versions']['kombu']}. "
        f"Worker: prefork pool, concurrency {ours_d['worker_concurrency']}; web: gunicorn "
        f"gthread, {ours_d['web_workers']} workers x {ours_d['web_threads']} threads. "
        f"Pickup: {ours_d['pickup_tasks']} tasks, gaps {ours_d['pickup_gap_s'][0]:g}-"
        f"{ours_d['pickup_gap_s'][1]:g} s (seed: {base_d['pickup_tasks']}, "
        f"{base_d['pickup_gap_s'][0]:g}-{base_d['pickup_gap_s'][1]:g} s); "
        f"idle window {ours_d['idle_window_s']:.0f} s; "
        f"enqueue: {ours_d['enqueue_tasks']} requests at concurrency "
        f"{ours_d['enqueue_concurrency']}; drain N = {ours_d['drain_tasks']} (this project), "
        f"{base_d['drain_tasks']} (seed); one long_task running for "
        f"{ours_d['running_task_window_s']:.0f} s (seed: {base_d['running_task_window_s']:.0f} s).",
        "",
        f"Endpoint requests per task (this project, worker side): {per_task}. The raw loop "
        "makes 0.2 per message (one ReceiveMessage and one DeleteMessageBatch per 10).",
        "",
        f"Requests while one task runs (this project, over the window): {running}.",
    ]
    if "latency_model" in results:
        lines += ["", model_markdown(results).rstrip("\n")]
    if "metrics_cost" in results:
        lines += ["", metrics_cost_markdown(results["metrics_cost"]).rstrip("\n")]
    if "isolation" in results:
        lines += ["", isolation_markdown(results["isolation"]).rstrip("\n")]
    if "rate_limit" in results:
        lines += ["", rate_limit_markdown(results["rate_limit"]).rstrip("\n")]
    if "pools" in results:
        lines += ["", pools_markdown(results["pools"]).rstrip("\n")]
    return "\n".join(lines) + "\n"


def model_markdown(results: dict[str, Any]) -> str:
    """The latency model's round trips, and the pickup goal under it (bench.latency)."""
    model = results["latency_model"]["round_trips_ms"]
    rows = ", ".join(
        f"{name} {row['median']:g} (p99 {row['p99']:g})"
        for name, row in model.items()
        if name != "default"
    )
    receive = model.get("sqs:ReceiveMessage", model.get("sqs", model["default"]))
    goal = receive["median"] / 1000 + PICKUP_MODEL_MARGIN_S
    from_queue = results["modelled"]["queue_pickup_p50_s"]
    from_post = results["modelled"]["pickup_p50_s"]
    post = results["modelled"]["details"]["post_round_trip_p50_s"]
    verdict = "met" if from_queue <= goal else "**missed**"
    per_task = ", ".join(
        f"{action} {count:g}"
        for action, count in results["modelled"]["details"]["endpoint_requests_per_task"].items()
    )
    return (
        "Under the model every request's answer is held back by a round trip drawn from a "
        f"log-normal per service and action, median and p99 in ms: {rows}; other services "
        f"{model['default']['median']:g} (p99 {model['default']['p99']:g}) "
        "(bench/latency_model.toml, sources in bench/README.md). Pickup p50 under the model, "
        f"from the message's arrival in the queue (SQS's SentTimestamp) to the start: "
        f"{from_queue:.3f} s, goal ≤ ReceiveMessage's median round trip + "
        f"{PICKUP_MODEL_MARGIN_S * 1000:g} ms = {goal:.3f} s: {verdict}. From the POST leaving "
        f"the client it is {from_post:.3f} s: the POST's own round trip (p50 {post:.3f} s) "
        "holds the web's requests before its SendMessage, each a modelled round trip. "
        "Endpoint requests per "
        f"task under the model (this project, worker side): {per_task}.\n"
    )


def isolation_markdown(isolation: dict[str, Any]) -> str:
    """A quick task's pickup on the default queue, idle and behind the reports queue's
    backlog (bench.isolation)."""
    details = isolation["details"]
    note = (
        f"{details['pickup_tasks']} noop tasks on the default queue, one at a time, gaps "
        f"{details['pickup_gap_s'][0]:g}-{details['pickup_gap_s'][1]:g} s, from the POST to "
        "the start; first with every queue idle, then while the reports queue's worker (one "
        f"pool process) runs a {details['report_duration_s']} s report and "
        f"{details['reports_backlog']} more wait behind it "
        f"({details['reports_still_waiting_after']} still waiting at the end). p95: "
        f"{details['idle_pickup_p95_s']:.3f} s idle, {details['backlog_pickup_p95_s']:.3f} s "
        f"behind the backlog (max {details['backlog_pickup_max_s']:.3f} s)."
    )
    lines = [
        "### Queue isolation: pickup on the default queue behind a reports backlog",
        "",
        "| reports queue | pickup p50 (s) |",
        "| --- | ---: |",
        f"| idle | {isolation['idle_pickup_p50_s']:.3f} |",
        f"| backlog, its worker busy | {isolation['backlog_pickup_p50_s']:.3f} |",
        "",
        note,
    ]
    return "\n".join(lines) + "\n"


def metrics_cost_markdown(cost: dict[str, Any]) -> str:
    """The task metrics' cost on the worker (bench.metrics_cost): CPU per task off and on."""
    details = cost["details"]
    load = details["load_avg_1m"]

    def row(side: str) -> str:
        each = ", ".join(f"{value:.2f}" for value in details[f"cpu_ms_per_task_{side}_each"])
        return f"| {side} | {cost[f'worker_cpu_ms_per_task_{side}']:.2f} | {each} |"

    note = (
        f"Difference on - off: {cost['overhead_percent']:+.1f}% (end to end, "
        f"{details['rounds']} drain(s) of {details['tasks_per_drain']} noop tasks on each side, "
        f"alternating; load average {load['start']:.1f} at start, {load['end']:.1f} at end). "
        f"One record costs the worker's pool process {cost['record_us_in_worker']:.0f} µs of "
        f"CPU ({cost['record_percent']:.1f}% of the CPU per task with metrics off); the "
        f"receivers in a tight loop, {cost['receivers_us_per_task']:.0f} µs "
        f"({details['in_process_runs']} runs in process). EMF lines of the drained tasks: "
        f"{details['emf_lines_on']} with metrics on, {details['emf_lines_off']} off."
    )
    lines = [
        "### Task metrics (EMF log lines): worker CPU per task",
        "",
        "| TASK_METRICS | worker CPU per task (ms, median) | each drain (ms) |",
        "| --- | ---: | --- |",
        row("off"),
        row("on"),
        "",
        note,
    ]
    return "\n".join(lines) + "\n"


def rate_limit_markdown(figures: dict[str, Any]) -> str:
    """A rate shared by three workers (bench.rate_limit): starts, cost, other tasks' pickup."""
    details = figures["details"]
    apart = ", ".join(
        f"{action} {details['limited_requests_per_task'].get(action, 0):.2f}"
        for action in ("sqs:ReceiveMessage", "dynamodb:UpdateItem (presence)")
    )
    by_action = ", ".join(
        f"{action} {number:.2f}" for action, number in details["limited_requests_per_task"].items()
    )
    lines = [
        f"### Rate limit shared by {details['workers']} workers: `limited` at {details['rate']}",
        "",
        "| figure | value |",
        "| --- | ---: |",
        f"| most starts in any 1 s window ({details['tasks']} tasks; bound: rate + burst) "
        f"| {figures['rate_limit_max_starts_in_1s']} (bound {figures['rate_limit_bound']}) |",
        f"| starts per second over the drain | {figures['rate_limit_starts_per_s']:.2f} |",
        "| worker requests per limited task (without the polls and presence writes) "
        f"| {figures['rate_limit_requests_per_task']:.2f} |",
        "| the same per noop task (no rate) "
        f"| {figures['rate_limit_noop_requests_per_task']:.2f} |",
        f"| noop pickup, workers idle (median of {details['pickups']}) "
        f"| {figures['rate_limit_pickup_idle_ms']:.0f} ms |",
        "| noop pickup behind a backlog of limited tasks (median) "
        f"| {figures['rate_limit_pickup_behind_backlog_ms']:.0f} ms |",
        "",
        f"{details['workers_that_ran_limited']} of the {details['workers']} workers (concurrency "
        f"{details['concurrency']} each) ran `limited`; {details['sent_back']} of "
        f"{details['tasks']} tasks were sent back for a turn before they ran; "
        f"{details['backlog_waiting_before_pickups']} of the backlog's {details['tasks']} "
        f"tasks still waited when the pickups began, "
        f"{details['backlog_waiting_after_pickups']} when they ended. Per limited task, by "
        f"action: {by_action} (apart: {apart}). Load average "
        f"{details['load_avg_1m']['start']:.1f} at start, "
        f"{details['load_avg_1m']['end']:.1f} at end.",
    ]
    return "\n".join(lines) + "\n"


def write(results: dict[str, Any], out_dir: Path) -> tuple[Path, Path]:
    """Write `results.json` and `results.md` into `out_dir`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out_dir / "results.json", out_dir / "results.md"
    json_path.write_text(json.dumps(results, indent=2, sort_keys=False) + "\n")
    md_path.write_text(markdown(results))
    return json_path, md_path


def pools_markdown(pools: dict[str, Any]) -> str:
    """Prefork against threads on I/O-bound tasks under the latency model (bench.pools)."""
    lines = [
        "### Worker pool: prefork or threads, I/O-bound tasks under the model",
        "",
        "| pool | concurrency | tasks/s | worker CPU per task (ms) | worker RSS (MB) "
        "| worker PSS (MB) |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for drain in pools["drains"]:
        lines.append(
            f"| {drain['pool']} | {drain['concurrency']} | {drain['tasks_per_s']:.1f} "
            f"| {drain['worker_cpu_ms_per_task']:.1f} | {drain['rss_worker_mb']:.0f} "
            f"| {_cell(drain['pss_worker_mb'], 0)} |"
        )
    params = ", ".join(f"{name} {value:g}" for name, value in pools["io_params"].items())
    lines += [
        "",
        f"Each drain: {pools['tasks']} `{pools['io_task']}` tasks ({params}: a "
        f"{pools['io_params']['every']:g} s wait, then one PROGRESS write) queued, then one "
        f"worker of the project's app drains them ({pools['network']} network); RSS and PSS "
        "of its main and pool processes after the drain.",
    ]
    return "\n".join(lines) + "\n"
