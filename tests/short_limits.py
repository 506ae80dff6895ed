"""Time limits for the stacks of the CLI and fault tests: production's order, scaled down.

duration < soft limit < hard limit < visibility, as `Settings` demands: a poison task's three
receives reach the dead-letter queue in about 24 s. A stopping worker lets a running
3 s task finish (WORKER_SOFT_SHUTDOWN_TIMEOUT) before it hands the message back.
"""

SHORT_LIMITS = {
    "TASK_MAX_DURATION": "3",
    "TASK_SOFT_TIME_LIMIT": "4",
    "TASK_TIME_LIMIT": "5",
    "QUEUE_VISIBILITY_TIMEOUT": "8",
    "WORKER_SOFT_SHUTDOWN_TIMEOUT": "6",
}
