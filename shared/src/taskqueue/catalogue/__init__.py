"""The catalogue: what a task is and when it runs.

`registry` (a task beside the model of its parameters), `schedules` (periodic runs), `delays`
(a run no earlier than a time) and `placeholder` (the Celery instance tasks are registered
on). It imports neither the runtime nor the web, and no task: the composition root
(`taskqueue.factory.load_catalogue`) imports the task modules.
"""
