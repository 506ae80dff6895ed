"""The Celery placeholder: the one instance the tasks are registered on.

It carries no configuration of its own: the composition root
(`taskqueue.factory.configure_celery`) configures it at run time. Its task class is named
here, where it is built, as text: Celery imports it when the first task is made, so a task
made (or a task proxy evaluated) before `configure_celery` runs still runs in the app
context and once per id, and the catalogue never imports the runtime.
"""

from celery import Celery

TASK_CLASS = "taskqueue.runtime.task_class:FlaskContextTask"

celery = Celery("taskqueue", task_cls=TASK_CLASS)
