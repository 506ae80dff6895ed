"""The services' start commands: the arguments they give gunicorn and Celery."""

from __future__ import annotations

from web_service.start import gunicorn_argv
from worker_service.start import celery_argv


def test_web_extra_arguments_come_before_the_app() -> None:
    assert gunicorn_argv(["--workers=1"]) == [
        "--config",
        "python:web_service.gunicorn_conf",
        "--workers=1",
        "web_service.wsgi:app",
    ]


def test_worker_extra_arguments_go_to_celery_worker_and_app_replaces_the_app() -> None:
    argv = celery_argv(["--app=bench.project_worker:celery", "--concurrency=1"])

    assert argv[:2] == ["--app=bench.project_worker:celery", "worker"]
    assert argv[-1] == "--concurrency=1"
    assert [arg for arg in argv if arg.startswith("--app=")] == [argv[0]]
    assert argv[2:-1] == celery_argv()[2:]
