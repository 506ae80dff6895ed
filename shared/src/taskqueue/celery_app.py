"""The Celery placeholder: the one instance the tasks import.

It carries no configuration of its own. The factories (`taskqueue.factory.configure_celery`)
configure it at run time, which breaks the import cycle between the Flask app factory and
the tasks: tasks import this module, never the Flask app.
"""

from celery import Celery

celery = Celery("taskqueue", include=["taskqueue.tasks"])
