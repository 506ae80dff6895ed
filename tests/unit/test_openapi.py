"""The OpenAPI document is generated from the models that validate requests."""

from __future__ import annotations

from flask.testing import FlaskClient


def test_openapi_documents_every_route(client: FlaskClient) -> None:
    document = client.get("/openapi.json").json

    assert document["openapi"].startswith("3.")
    assert set(document["paths"]) >= {
        "/healthz",
        "/tasks",
        "/tasks/{task_id}",
        "/sqs/celery/{duration}",
    }
    assert set(document["paths"]["/tasks"]["post"]["responses"]) >= {"202", "422", "503"}


def test_the_request_schema_is_a_union_over_the_registered_tasks(client: FlaskClient) -> None:
    document = client.get("/openapi.json").json
    schemas = document["components"]["schemas"]

    body_ref = document["paths"]["/tasks"]["post"]["requestBody"]["content"]["application/json"]
    request_schema = schemas[body_ref["schema"]["$ref"].rsplit("/", 1)[1]]
    assert request_schema["discriminator"]["propertyName"] == "task"
    assert set(request_schema["discriminator"]["mapping"]) == {"long_task", "noop", "fail", "crash"}
    long_params = next(v for k, v in schemas.items() if k.endswith("LongTaskParams"))
    assert long_params["required"] == ["duration"]
    assert long_params["properties"]["duration"]["minimum"] == 1
    assert long_params["additionalProperties"] is False
