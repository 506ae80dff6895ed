"""Time limits for the stacks of the CLI and fault tests: production's model, scaled down.

A 6 s base visibility, extended every 2 s while a task runs (the lease: 4 s), so a dead
worker's task is back within about 6 s. long_task accepts 3 s and its own limits are 3 s
more than the defaults (soft 7 s, hard 8 s), longer than the base visibility: the heartbeat
keeps the message from a second worker. A poison task's three receives reach the
dead-letter queue in about 18 s; a task whose last receive no run saw is found there within
about 2 s (the dead-letter sweep). A stopping worker lets a running 3 s task finish (its soft
limit leaves it less than WORKER_SOFT_SHUTDOWN_TIMEOUT) and hands a longer one back at once.
"""

SHORT_LIMITS = {
    "TASK_MAX_DURATION": "3",
    "TASK_SOFT_TIME_LIMIT": "4",
    "TASK_TIME_LIMIT": "5",
    "QUEUE_VISIBILITY_TIMEOUT": "6",
    "VISIBILITY_HEARTBEAT_INTERVAL": "2",
    "TASK_CANCEL_GRACE": "3",
    "WORKER_SOFT_SHUTDOWN_TIMEOUT": "8",
    "DEAD_LETTER_SWEEP_INTERVAL": "2",
}
