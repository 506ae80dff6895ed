"""A schedule for the local scheduler's test (`--also tests.devstack.tick_schedule`)."""

from taskqueue.catalogue.schedules import schedule
from taskqueue.tasks.noop import noop

TICK = schedule("tick", task=noop, expression="rate(1 minute)")
