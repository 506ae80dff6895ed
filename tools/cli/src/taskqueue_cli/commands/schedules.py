"""`schedules list|run`: the declared periodic tasks, their fires, and a fire now.

The declarations are the shared package's (taskqueue.catalogue.schedules), so the CLI knows what the
deployed stack or `make run` fires. A fire's task id is its schedule's name and scheduled
time: `list` reads the last fire's state from the results table with one GetItem, and
`run --at` sends a missed fire with the id it would have had (it runs once, however often).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich import box
from rich.console import Console
from rich.table import Table

from taskqueue_cli.errors import CliError
from taskqueue_cli.options import JsonLines, Local, Stage, target
from taskqueue_cli.output import examples

if TYPE_CHECKING:
    from taskqueue.catalogue.schedules import Schedule

app = typer.Typer(
    help="The periodic tasks: when each fires, the last fire's task, and a fire now.",
    epilog=examples(
        "taskqueue schedules list",
        "taskqueue schedules run queue-report",
        "taskqueue schedules run queue-report --at 2026-12-01T03:00:00Z --stage prod",
    ),
    no_args_is_help=True,
    rich_markup_mode="markdown",
)

# Celery's DynamoDB backend keys a task's item by str() of its bytes key: b'<prefix><id>'
# (KeyValueStoreBackend.task_keyprefix; taskqueue.stores.results.ProvisionedTableBackend.item_key).
RESULT_KEY_PREFIX = "celery-task-meta-"
# The item attribute that holds the state in the clear (taskqueue.stores.results.STATE_ATTRIBUTE).
STATE_ATTRIBUTE = "state"


def declarations() -> dict[str, Schedule]:
    """The shared package's schedules, imported here: Celery costs 0.4 s to import, and the
    other commands never need it."""
    from taskqueue.factory import declared_schedules

    return declared_schedules()


@dataclass(frozen=True)
class ScheduleRow:
    """What `schedules list` shows of one schedule."""

    name: str
    task: str
    expression: str
    timezone: str
    next_fire: str
    last_fire: str
    last_task_id: str
    last_state: str | None


def item_key(task_id: str) -> dict[str, dict[str, str]]:
    """The key of a task's item in the results table, as the backend spells it."""
    return {"id": {"S": str((RESULT_KEY_PREFIX + task_id).encode())}}


def fire_state(dynamodb: Any, table: str, fire_id: str) -> str | None:
    """The fire's state in the results table; None when no worker has claimed it."""
    answer = dynamodb.get_item(
        TableName=table,
        Key=item_key(fire_id),
        ProjectionExpression="#state",
        ExpressionAttributeNames={"#state": STATE_ATTRIBUTE},
    )
    state = answer.get("Item", {}).get(STATE_ATTRIBUTE, {}).get("S")
    return str(state) if state is not None else None


def row_of(declared_schedule: Schedule, now: datetime, dynamodb: Any, table: str) -> ScheduleRow:
    """The schedule's next and last fire, and the last one's state."""
    from taskqueue.catalogue.schedules import scheduled_time_text, task_id

    last = declared_schedule.last_fire(now)
    last_id = task_id(declared_schedule.name, last)
    return ScheduleRow(
        name=declared_schedule.name,
        task=declared_schedule.spec.name,
        expression=declared_schedule.expression,
        timezone=declared_schedule.timezone,
        next_fire=scheduled_time_text(declared_schedule.next_fire(now)),
        last_fire=scheduled_time_text(last),
        last_task_id=last_id,
        last_state=fire_state(dynamodb, table, last_id),
    )


def render(rows: list[ScheduleRow]) -> Table:
    """One row per schedule."""
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    for heading in ("name", "expression", "time zone", "next fire", "last fire", "task id"):
        table.add_column(heading)
    table.add_column("state")
    for row in rows:
        table.add_row(
            row.name,
            row.expression,
            row.timezone,
            row.next_fire,
            row.last_fire,
            row.last_task_id,
            row.last_state or "not run",
        )
    return table


@app.command("list", epilog=examples("taskqueue schedules list --stage prod --json"))
def list_(as_json: JsonLines = False, stage: Stage = None, local: Local = False) -> None:
    """Show each schedule: expression, time zone, next fire, last fire and its task's state.

    Times are UTC. A rate(...) counts from the Unix epoch, as `make run` fires it; on AWS
    Scheduler counts a rate from the schedule's creation, so use cron(...) for fires on the
    clock. `not run`: no worker claimed the last fire (not sent yet, or switched off).
    """
    stack = target(stage, local)
    dynamodb, table = stack.client("dynamodb"), stack.require_table()
    now = datetime.now(UTC)
    rows = [row_of(s, now, dynamodb, table) for s in declarations().values()]
    if as_json:
        for row in rows:
            typer.echo(json.dumps(asdict(row)))
        return
    Console().print(render(rows))


def parse_time(text: str) -> datetime:
    """An ISO 8601 time; UTC unless it names its offset."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise CliError(f"--at {text!r} is not an ISO 8601 time (2026-12-01T03:00:00Z)") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@app.command(
    epilog=examples(
        "taskqueue schedules run queue-report",
        "taskqueue schedules run queue-report --at 2026-12-01T03:00:00Z",
    )
)
def run(
    name: Annotated[str, typer.Argument(metavar="NAME", help="The schedule, e.g. queue-report.")],
    at: Annotated[
        str | None,
        typer.Option(
            "--at",
            help="The scheduled time to send (a missed fire: the same task id, so it runs"
            " once however often). Default: now.",
            show_default=False,
        ),
    ] = None,
    stage: Stage = None,
    local: Local = False,
) -> None:
    """Fire schedule NAME now: send its message to its task's queue and print the task id.

    The message is the one Scheduler sends (`GET /tasks/<id>` shows it to the schedule's
    client, `scheduler` unless it names another).
    """
    from taskqueue.catalogue.schedules import fire_message, task_id
    from taskqueue.settings import Settings

    schedules = declarations()
    if name not in schedules:
        raise CliError(f"no schedule {name!r} (declared: {', '.join(sorted(schedules))})")
    scheduled = parse_time(at) if at else datetime.now(UTC).replace(microsecond=0)
    stack = target(stage, local)
    queue = schedules[name].spec.queue  # its task's own queue
    # The Celery name the workers know it by: the default queue's SQS name, plus `-<queue>`.
    default_name = stack.queue_url.rstrip("/").rsplit("/", 1)[-1]
    celery_name = Settings.from_values(task_queue_name=default_name).queue_address(queue).name
    queue_url = stack.queue(queue).url
    template = schedules[name].message_template(celery_name)
    stack.client("sqs").send_message(
        QueueUrl=queue_url, MessageBody=fire_message(template, scheduled)
    )
    typer.echo(task_id(name, scheduled))
