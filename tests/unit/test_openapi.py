"""The OpenAPI document is generated from the models that validate requests."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from taskqueue.settings import Settings


def test_openapi_documents_every_route(client: FlaskClient) -> None:
    document = client.get("/openapi.json").json

    assert document["openapi"].startswith("3.")
    assert set(document["paths"]) >= {
        "/healthz",
        "/tasks",
        "/tasks/{task_id}",
        "/sqs/celery/{duration}",
        "/workers",
    }
    assert set(document["paths"]["/tasks"]["post"]["responses"]) >= {"202", "422", "503"}
    assert set(document["paths"]["/tasks"]["get"]["responses"]) >= {"200", "422", "503"}
    assert set(document["paths"]["/workers"]["get"]["responses"]) >= {"200", "401", "503"}


def test_the_request_schema_is_a_union_over_the_registered_tasks(client: FlaskClient) -> None:
    document = client.get("/openapi.json").json
    schemas = document["components"]["schemas"]

    body_ref = document["paths"]["/tasks"]["post"]["requestBody"]["content"]["application/json"]
    request_schema = schemas[body_ref["schema"]["$ref"].rsplit("/", 1)[1]]
    assert request_schema["discriminator"]["propertyName"] == "task"
    assert set(request_schema["discriminator"]["mapping"]) == {
        "long_task",
        "noop",
        "fail",
        "crash",
        "check_secret",
        "retry_then_succeed",
        "limited",
        "param_digest",
        "sized_result",
        "frequent_progress",
        "queue_report",
        "report",
    }
    long_params = next(v for k, v in schemas.items() if k.endswith("LongTaskParams"))
    assert long_params["required"] == ["duration"]
    assert long_params["properties"]["duration"]["minimum"] == 1
    assert long_params["additionalProperties"] is False


def test_the_request_schema_documents_the_delay_fields(client: FlaskClient) -> None:
    schemas = client.get("/openapi.json").json["components"]["schemas"]

    long_request = next(v for k, v in schemas.items() if k.endswith("LongTaskRequest"))
    delay, not_before = (
        long_request["properties"][name] for name in ("delay_seconds", "not_before")
    )
    assert {"type": "integer", "minimum": 0} in delay["anyOf"]
    assert {"type": "string", "format": "date-time"} in not_before["anyOf"]
    assert "TASK_MAX_DELAY" in delay["description"] and "RFC 3339" in not_before["description"]
    assert not {"delay_seconds", "not_before"} & set(long_request.get("required", []))
    status = next(v for k, v in schemas.items() if k.endswith("TaskStatusBody"))
    assert "due" in status["properties"]


def refs_in(node: object) -> list[str]:
    """Every `$ref` and discriminator mapping target anywhere in `node`."""
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        mapping = node.get("mapping") if isinstance(node.get("mapping"), dict) else {}
        found += [target for target in mapping.values() if isinstance(target, str)]
        return found + [ref for value in node.values() for ref in refs_in(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in refs_in(value)]
    return []


def test_every_reference_in_the_document_resolves(client: FlaskClient) -> None:
    document = client.get("/openapi.json").json
    schemas = set(document["components"]["schemas"])

    refs = refs_in(document)

    assert refs
    assert {ref.removeprefix("#/components/schemas/") for ref in refs} <= schemas
    assert "TaskRequest" in schemas  # named after the model, no hash suffix


def test_errors_are_documented_as_problem_json(client: FlaskClient) -> None:
    document = client.get("/openapi.json").json
    post = document["paths"]["/tasks"]["post"]["responses"]

    assert set(post["422"]["content"]) == {"application/problem+json"}
    assert set(post["503"]["content"]) == {"application/problem+json"}
    assert set(post["202"]["content"]) == {"application/json"}
    get = document["paths"]["/tasks/{task_id}"]["get"]["responses"]
    assert set(get["404"]["content"]) == {"application/problem+json"}


def test_without_diagnostic_tasks_the_document_leaves_them_out(
    aws: None, settings: Settings
) -> None:
    from web_service.web_app import create_app

    app = create_app(Settings.from_values(**{**settings.model_dump(), "diagnostic_tasks": False}))
    document = anonymous_document(app)
    schemas = document["components"]["schemas"]

    union = schemas["TaskRequest"]
    assert set(union["discriminator"]["mapping"]) == {"long_task", "noop", "queue_report", "report"}
    assert len(union["oneOf"]) == 4
    withheld = ("Fail", "Crash", "CheckSecret", "RetryThenSucceed", "RetryParams")
    assert not [name for name in schemas if name.startswith(withheld)]
    assert {ref.removeprefix("#/components/schemas/") for ref in refs_in(document)} <= set(schemas)
    assert {"LongTaskParams", "NoopParams", "QueueReportParams", "Problem"} <= set(schemas)


def anonymous_document(app: Flask) -> dict[str, Any]:
    document: dict[str, Any] = app.test_client().get("/openapi.json").json
    return document
