"""The Celery placeholder: the one instance the tasks import.

It carries no configuration of its own. The factories (`taskqueue.factory.configure_celery`)
configure it at run time, which breaks the import cycle between the Flask app factory and
the tasks: tasks import this module, never the Flask app. Its task class is given here, where
it is built: a task made (or a task proxy evaluated) before `configure_celery` runs, as every
task of `taskqueue.tasks` is, still runs in the app context.
"""

from celery import Celery

from taskqueue.flask_context import FlaskContextTask

celery = Celery("taskqueue", include=["taskqueue.tasks"], task_cls=FlaskContextTask)
