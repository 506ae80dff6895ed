"""The local target: the services' settings, ./local.env, and where to connect."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from taskqueue.settings import get_settings
from taskqueue_cli.errors import CliError
from taskqueue_cli.target import (
    from_local_settings,
    local_endpoint_of,
    resolve,
    sibling_queue_url,
    stack_name_of,
    web_url_of,
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No stack variables from the caller; an empty working directory; fresh settings."""
    for name in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION"):
        monkeypatch.delenv(name, raising=False)
    for name in ("TASK_QUEUE_URL", "TASK_QUEUE_NAME", "TASK_DLQ_NAME", "WEB_BIND"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.mark.parametrize(
    ("bind", "url"),
    [
        ("0.0.0.0:8000", "http://127.0.0.1:8000"),
        ("127.0.0.1:8123", "http://127.0.0.1:8123"),
        ("[::]:8000", "http://127.0.0.1:8000"),
        (":8000", "http://127.0.0.1:8000"),
        ("web.internal:80", "http://web.internal:80"),
    ],
)
def test_the_web_url_is_where_gunicorn_binds(bind: str, url: str) -> None:
    assert web_url_of(bind) == url


def test_the_dlq_sits_beside_the_queue() -> None:
    url = "https://sqs.eu-west-1.amazonaws.com/123456789012/taskqueue-tasks"

    assert sibling_queue_url(url, "taskqueue-tasks-dlq") == url + "-dlq"


def test_only_a_queue_url_off_aws_names_an_endpoint() -> None:
    assert local_endpoint_of("http://127.0.0.1:4566/1/q") == "http://127.0.0.1:4566"
    assert local_endpoint_of("https://sqs.us-east-1.amazonaws.com/1/q") is None


def test_without_a_stage_the_target_is_the_local_stack_from_the_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TASK_QUEUE_URL", "http://127.0.0.1:5555/123456789012/jobs")
    monkeypatch.setenv("TASK_DLQ_NAME", "jobs-dlq")
    monkeypatch.setenv("WEB_BIND", "0.0.0.0:8111")

    target = resolve(stage=None)

    assert target.name == "the local stack"
    assert target.web_url == "http://127.0.0.1:8111"
    assert target.queue_url == "http://127.0.0.1:5555/123456789012/jobs"
    assert target.dlq_url == "http://127.0.0.1:5555/123456789012/jobs-dlq"
    assert target.endpoint_url == "http://127.0.0.1:5555"  # no AWS_ENDPOINT_URL: the queue's
    assert target.cluster is None and target.worker_service is None


def test_local_env_fills_in_what_the_environment_does_not_set(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "local.env").write_text(
        "AWS_ENDPOINT_URL=http://127.0.0.1:4566\n"
        "AWS_ACCESS_KEY_ID=testing\n"
        "AWS_SECRET_ACCESS_KEY=testing\n"
        "WEB_BIND=127.0.0.1:8000\n"
    )
    monkeypatch.setenv("WEB_BIND", "127.0.0.1:9000")

    target = from_local_settings(url=None)

    assert target.endpoint_url == "http://127.0.0.1:4566"
    assert target.credentials == {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }
    assert target.web_url == "http://127.0.0.1:9000"  # the environment wins


def test_url_overrides_the_web_address() -> None:
    assert from_local_settings(url="http://web:1").web_url == "http://web:1"


def test_a_stage_names_the_stack_that_cdk_json_gives_it(tmp_path: Path) -> None:
    context = {"taskqueue": {"prod": {"stackName": "billing-jobs-prod"}, "dev": {}}}
    (tmp_path / "cdk.json").write_text(json.dumps({"context": context}))

    assert stack_name_of("prod") == "billing-jobs-prod"
    # cdk.json is the only source of the name: no fallback to taskqueue-<stage>.
    with pytest.raises(CliError, match=r"no stack for stage 'dev' .*stages: prod, dev"):
        stack_name_of("dev")  # no stackName for the stage
    with pytest.raises(CliError, match=r"no stack for stage 'qa'"):
        stack_name_of("qa")  # no such stage


def test_without_cdk_json_a_stage_is_a_clear_error() -> None:
    with pytest.raises(CliError, match=r"--stage needs ./cdk.json.*repository root"):
        stack_name_of("prod")


def test_the_repository_s_cdk_json_names_both_stages_stacks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(Path(__file__).resolve().parents[2])

    assert (stack_name_of("dev"), stack_name_of("prod")) == ("taskqueue-dev", "taskqueue-prod")
