"""Chords are refused on this stack, where they are built, before anything is sent.

Celery's DynamoDB backend counts a chord's finished header tasks in one item (the atomic
counter of celery/celery#8783, `on_chord_part_return`), and that counter assumes each header
task reports once. Here it would not hold:

- it counts deliveries, not tasks: Celery increments it for every stored outcome, FAILURE
  included, and a failed run's message comes back from SQS (`task_acks_on_failure_or_timeout`
  is off, taskqueue.runtime.celery_config), so a header task that fails once and then
  succeeds counts twice and the body runs, or errors, before the header is done;
- a header task's SUCCESS is stored before the increment, and a delivery after SUCCESS is
  dropped by the run-once guard (taskqueue.runtime.run_once), so a worker lost between the
  two leaves the counter one short: the body never runs, and nothing says so;
- the last header task deletes the counter and the group's item (DeleteItem, which the
  worker's role does not have), and the counter is written without a TTL.

Celery asks the backend (`ensure_chords_allowed`) when a chord is applied and when a chain
that holds one (`group | task` becomes a chord) is prepared, both before any message is
sent: the backend answers with `ChordsRefused`.
"""

from __future__ import annotations

REFUSAL = (
    "chords are not supported on this stack (Celery's chord counter counts SQS deliveries,"
    " not tasks: a header task that fails and is delivered again counts twice, and a worker"
    " lost between a header task's SUCCESS and the count leaves the body waiting forever);"
    " run the group, wait for its GroupResult, then queue the next task with its results"
)


class ChordsRefused(NotImplementedError):
    """A chord (or `group | task`, which Celery makes one) was applied: nothing was sent."""

    def __init__(self, message: str = REFUSAL) -> None:
        # The message as an argument: Celery rebuilds a stored exception from its args.
        super().__init__(message)
