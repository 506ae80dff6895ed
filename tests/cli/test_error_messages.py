"""Expected errors read as one line; anything else keeps its traceback (it is a bug)."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, NoRegionError
from taskqueue_cli.errors import CliError, explain


def client_error(code: str, message: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, "PurgeQueue")


@pytest.mark.parametrize(
    ("error", "line"),
    [
        (CliError("stack x not found"), "stack x not found"),
        (
            client_error("PurgeQueueInProgress", "One PurgeQueue every 60 s"),
            "AWS refused PurgeQueue: PurgeQueueInProgress: One PurgeQueue every 60 s",
        ),
        (
            client_error("500", "<!doctype html>\n<title>500 Internal Server Error</title>"),
            "AWS refused PurgeQueue: 500: <!doctype html>",
        ),
        (client_error("AccessDenied", ""), "AWS refused PurgeQueue: AccessDenied"),
        (NoRegionError(), "no AWS region: set AWS_REGION (or AWS_DEFAULT_REGION)"),
        (
            EndpointConnectionError(endpoint_url="http://127.0.0.1:9/"),
            'cannot reach AWS: Could not connect to the endpoint URL: "http://127.0.0.1:9/"',
        ),
    ],
)
def test_expected_errors_are_one_line(error: Exception, line: str) -> None:
    assert explain(error) == line


def test_a_bug_is_not_explained_away() -> None:
    assert explain(KeyError("x")) is None
