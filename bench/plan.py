"""How much each measurement does: the full run and the short (QUICK) one."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Plan:
    """Sizes of one run; every loop is bounded by a count and by `deadline_s`."""

    quick: bool
    idle_window_s: float
    pickup_tasks: dict[str, int]
    pickup_gap_s: dict[str, tuple[float, float]]
    """Per configuration: gaps that spread arrivals over its whole poll cycle."""
    sample_tasks: int
    enqueue_tasks: int
    concurrency: int
    drain_tasks: dict[str, int]
    running_task_window_s: dict[str, float]
    """Per configuration: the window inside one long_task's run (bench.running_task_cost), at
    most what TASK_MAX_DURATION lets a long_task cover."""
    metrics_tasks: int = 200
    """Tasks per drain of bench.metrics_cost (TASK_METRICS off, on)."""
    metrics_rounds: int = 3
    """Drains on each side; the order alternates each round."""
    isolation_tasks: int = 30
    """noop pickups of bench.isolation, idle and behind the reports backlog (this project's
    pickup gaps)."""
    rate_limit_tasks: int = 100
    """`limited` tasks (5/s) of bench.rate_limit's drain and backlog, and noop tasks beside."""
    rate_limit_pickups: int = 10
    """noop pickups of bench.rate_limit, idle and behind the backlog."""
    rate_limit_pickup_gap_s: tuple[float, float] = (0.5, 1.5)
    """Gaps between those pickups: all of them fall within the backlog's 20 s."""
    deadline_s: float = 600.0
    pools_tasks: int = 120
    """I/O-bound tasks of each drain of bench.pools (prefork or threads)."""
    pools_high_concurrency: int = 8
    """bench.pools' higher concurrency: threads that fit in prefork's memory at the worker's."""


# Pickup gaps per configuration: the seed's up to 10 s, so that arrivals land anywhere in its
# 10 s cycle (5 s long poll, then 5 s sleep), not only inside the long poll that follows the
# previous pickup; this project's worker never sleeps between 20 s long polls, so any gap
# lands in a waiting poll: up to 2 s (bench/README.md says how stable the figure stays).
# Sizes are trimmed where the figures stay stable, so that both networks fit in one run
# (bench/README.md, "How long a run takes").
FULL = Plan(
    quick=False,
    idle_window_s=60.0,
    pickup_tasks={"project": 50, "baseline": 18},
    pickup_gap_s={"project": (0.1, 2.0), "baseline": (0.1, 10.0)},
    sample_tasks=20,
    enqueue_tasks=500,
    concurrency=8,
    # The seed polls again 5 s after each time its prefetch slots are full: a smaller N.
    drain_tasks={"project": 500, "baseline": 30},
    # Six visibility extensions at a base visibility of 60 s; the seed extends nothing: its
    # polls alone, six of them a minute.
    running_task_window_s={"project": 120.0, "baseline": 60.0},
)

# A smoke run: every phase, small sizes. The 5 s idle window sees the seed's polls but
# is shorter than one 20 s long poll of this project's worker (often 0 requests).
QUICK = Plan(
    quick=True,
    idle_window_s=5.0,
    pickup_tasks={"project": 5, "baseline": 5},
    pickup_gap_s={"project": (0.1, 1.0), "baseline": (0.1, 1.0)},
    sample_tasks=3,
    enqueue_tasks=50,
    concurrency=8,
    drain_tasks={"project": 50, "baseline": 4},
    running_task_window_s={"project": 5.0, "baseline": 5.0},
    metrics_tasks=30,
    metrics_rounds=1,
    isolation_tasks=5,
    rate_limit_tasks=30,
    rate_limit_pickups=3,
    rate_limit_pickup_gap_s=(0.3, 0.8),
    deadline_s=120.0,
    pools_tasks=24,
)
