"""The shipped tasks: one module per task (or per family of tasks), each registering its own
with `taskqueue.register` (and its schedules with `taskqueue.schedule`).

Nothing here lists them: the composition root imports every module of this package
(`taskqueue.factory.load_tasks`), so adding a task is adding a module.
"""
