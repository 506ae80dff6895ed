"""`make bench QUICK=1` end to end: it runs and reports every figure for both configurations,
on loopback and under the latency model.

No assertion on any figure: a benchmark's numbers depend on the machine.
"""

from __future__ import annotations

import json
import math
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from bench.report import KEYS, MODELLED_KEYS
from harness.stack import REPO_ROOT

# The short run takes about 3.5 minutes on 2 cores (measured 200 s beside a full `make test`,
# the isolation and rate limit parts included); more on a loaded machine. The latency model's
# column added about two minutes: 398 s at a load average of 8 (other helpers' test runs).
RUN_TIMEOUT_S = 720


def run_quick_bench(out: Path) -> subprocess.CompletedProcess[str]:
    """`python -m bench.run --quick` into `out`; SIGTERM (it stops its stack) if it overruns."""
    argv = [sys.executable, "-m", "bench.run", "--quick", "--out", str(out)]
    argv += ["--work-dir", str(out / "work")]
    with subprocess.Popen(
        argv, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as process:
        try:
            stdout, stderr = process.communicate(timeout=RUN_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGTERM)
            stdout, stderr = process.communicate(timeout=60)
            pytest.fail(f"the quick bench overran {RUN_TIMEOUT_S}s:\n{stderr[-4000:]}")
        finally:
            if process.poll() is None:
                process.kill()
    return subprocess.CompletedProcess(argv, process.returncode, stdout, stderr)


@pytest.mark.e2e
@pytest.mark.timeout(RUN_TIMEOUT_S + 90)
def test_quick_bench_reports_every_figure_for_both_configurations(tmp_path: Path) -> None:
    result = run_quick_bench(tmp_path)
    assert result.returncode == 0, result.stderr[-4000:]

    results = json.loads((tmp_path / "results.json").read_text())
    assert results["run"]["quick"] is True
    for section in (results, results["baseline"]):
        missing = [key for key in KEYS if key not in section]
        assert not missing, f"missing keys: {missing}"
        assert all(math.isfinite(section[key]) for key in KEYS), section
        assert section["details"]["drain_tasks"] > 0
        assert section["details"]["worker_concurrency"] >= 1
        # The heartbeat's cost (issue 13): one long_task ran through a window inside its run.
        assert section["details"]["running_task_window_s"] > 0
        assert section["details"]["running_task_requests"], "no request while the task ran"
        # The network-bound figures again under the latency model (issue 24), and the like-
        # for-like raw drain at the worker's concurrency on both networks.
        modelled = section["modelled"]
        missing = [key for key in MODELLED_KEYS if key not in modelled]
        assert not missing, f"missing modelled keys: {missing}"
        assert all(math.isfinite(modelled[key]) for key in MODELLED_KEYS), modelled
        assert modelled["details"]["endpoint_requests_per_task"], "no request per task counted"
        for column in (section, modelled):
            assert (
                column["details"]["raw_task_drain_concurrency"]
                == (column["details"]["worker_concurrency"])
            )
            # The pickup from the queue starts on SQS's SentTimestamp, which the message gets
            # only after its POST has left the client: never before the pickup from the POST.
            assert 0 < column["queue_pickup_p50_s"] < column["pickup_p50_s"]
    assert set(MODELLED_KEYS) <= set(KEYS)
    assert {"sqs", "dynamodb"} <= set(results["latency_model"]["round_trips_ms"])
    assert {
        "requests_per_short_task",
        "running_task_sqs_requests_per_hour",
        "running_task_dynamodb_requests_per_hour",
    } <= set(KEYS)

    # The task metrics' cost (issue 16): the worker's CPU per task with TASK_METRICS off and on,
    # and the switch did switch: one EMF line per task on, none off.
    cost = results["metrics_cost"]
    for key in ("worker_cpu_ms_per_task_off", "worker_cpu_ms_per_task_on", "overhead_percent"):
        assert math.isfinite(cost[key]), cost
    assert cost["receivers_us_per_task"] > 0 and cost["record_us_in_worker"] > 0
    tasks = cost["details"]["tasks_per_drain"] * cost["details"]["rounds"]
    assert (cost["details"]["emf_lines_on"], cost["details"]["emf_lines_off"]) == (tasks, 0)

    # The rate limit shared by three workers (issue 22): every figure, and the starts counted.
    rate_limit = results["rate_limit"]
    for key in (
        "rate_limit_max_starts_in_1s",
        "rate_limit_starts_per_s",
        "rate_limit_requests_per_task",
        "rate_limit_noop_requests_per_task",
        "rate_limit_pickup_idle_ms",
        "rate_limit_pickup_behind_backlog_ms",
    ):
        assert math.isfinite(rate_limit[key]), rate_limit
    assert rate_limit["rate_limit_max_starts_in_1s"] >= 1
    assert rate_limit["details"]["limited_requests_per_task"], "no request counted"

    # The queues' isolation (issue 22): a quick task's pickup idle and behind a reports backlog.
    isolation = results["isolation"]
    for key in ("idle_pickup_p50_s", "backlog_pickup_p50_s"):
        assert math.isfinite(isolation[key]), isolation
    assert isolation["details"]["pickup_tasks"] > 0

    # Prefork against threads on I/O-bound tasks under the model (issue 24): every drain's figures.
    pools = results["pools"]
    assert [(d["pool"], d["concurrency"]) for d in pools["drains"]] == [
        ("prefork", 2),
        ("threads", 2),
        ("threads", 8),
        ("prefork", 8),
    ]
    for drain in pools["drains"]:
        for key in ("tasks_per_s", "worker_cpu_ms_per_task", "rss_worker_mb", "pss_worker_mb"):
            assert math.isfinite(drain[key]), drain

    table = (tmp_path / "results.md").read_text()
    assert "### Worker pool: prefork or threads, I/O-bound tasks under the model" in table
    assert "### Rate limit shared by 3 workers" in table
    assert "### Queue isolation: pickup on the default queue behind a reports backlog" in table
    assert "| Metric | This project, loopback | under the model | Seed baseline, loopback" in table
    assert "Pickup p50 under the model, from the message's arrival in the queue" in table
    assert "### Task metrics (EMF log lines): worker CPU per task" in table
    assert table in result.stdout
