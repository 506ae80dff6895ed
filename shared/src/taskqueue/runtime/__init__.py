"""The runtime: what runs a task in the worker and carries its messages.

`task_class` (every task runs in the Flask app context, once per id), `run_once` (the
claim on a task's id), `visibility_extension` (keeps a running task's message invisible
and reads a cancel), `sqs_transport`, `dead_letters`, `soft_stop`, `task_metrics`, and
Celery's configuration (`celery_config`) and the JSON logging (`logs`).
"""
