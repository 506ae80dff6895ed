"""The owner of a record the web never wrote: a scheduled fire's, a chain's later step's.

Such a record has no item before the worker's first write of it (the web's mark_queued
never ran), so that write names its owner, its task and when it was queued: it joins its
owner's task list (taskqueue.stores.task_list) and is its owner's in GET and DELETE. A
record that has them (a queued task's) keeps its own.
"""

from __future__ import annotations

from typing import Any

from taskqueue.stores.results import CLIENT_ATTRIBUTE, QUEUED_AT_ATTRIBUTE, TASK_ATTRIBUTE


def add_owner(update: dict[str, Any], client: str, task_name: str) -> None:
    """Add to a state update at `:now` the record's owner `client` and its task's name,
    unless the item has them."""
    update["UpdateExpression"] += (
        ", #owner = if_not_exists(#owner, :owner)"
        ", #queued_at = if_not_exists(#queued_at, :now)"
        ", #task = if_not_exists(#task, :task)"
    )
    update["ExpressionAttributeNames"].update(
        {"#owner": CLIENT_ATTRIBUTE, "#queued_at": QUEUED_AT_ATTRIBUTE, "#task": TASK_ATTRIBUTE}
    )
    update["ExpressionAttributeValues"].update({":owner": {"S": client}, ":task": {"S": task_name}})
