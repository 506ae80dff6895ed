"""Fixtures shared by every test package."""

from taskqueue.factory import load_diagnostic_tasks, load_tasks

# The catalogue of every test stack (DIAGNOSTIC_TASKS on, harness.stack): the shipped tasks and
# the diagnostic ones, loaded before any test module is imported, as the composition root loads
# them in a process (some modules name tasks and schedules at import, to parametrize).
load_tasks()
load_diagnostic_tasks()
