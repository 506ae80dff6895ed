"""The results table's one index, `by_client`: a client's items newest first, never a Scan.

Partition `client` (S), sort `queued_at` (N). It is sparse: only items with both attributes
are in it. Those are the task items the web queued (`mark_queued` writes both) and the
workers' presence items, whose partition is `PRESENCE_PARTITION` (no client can have that
name: client names start with a letter or digit, `taskqueue.stores.api_keys.CLIENT_NAME`) and
whose sort value is when the worker last wrote it. API key items carry `client` but no
`queued_at`, so they are never in it.

The index projects only what the task list and the worker list show (INCLUDE), so a page
of the list reads a few hundred bytes per task, never Celery's encoded record.
"""

from __future__ import annotations

from taskqueue.stores.results import (
    CLIENT_ATTRIBUTE,
    PROGRESS_ATTRIBUTE,
    QUEUED_AT_ATTRIBUTE,
    STATE_ATTRIBUTE,
    TASK_ATTRIBUTE,
)

INDEX_NAME = "by_client"
PARTITION_ATTRIBUTE = CLIENT_ATTRIBUTE
SORT_ATTRIBUTE = QUEUED_AT_ATTRIBUTE
# The partition of the workers' presence items (taskqueue.stores.worker_presence).
PRESENCE_PARTITION = "#workers"

TASK_ATTRIBUTES = (STATE_ATTRIBUTE, TASK_ATTRIBUTE, "timestamp", PROGRESS_ATTRIBUTE)
PRESENCE_ATTRIBUTES = ("worker", "concurrency", "busy", "running", "version", "last_receive")
PROJECTED_ATTRIBUTES = TASK_ATTRIBUTES + PRESENCE_ATTRIBUTES
"""The non-key attributes the index holds (its keys and the table's `id` come along)."""
