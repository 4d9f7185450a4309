"""The OpenAPI document as the API answers: errors are problem+json (OpenAI's shape on /v1)."""

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from colloquy.core.errors import PROBLEM_JSON, ProblemDetails

PROBLEM_REF = {"$ref": "#/components/schemas/ProblemDetails"}


def _problem_responses(schema: dict[str, Any]) -> None:
    """Errors on the API are problem details; the OpenAI-compatible /v1 keeps OpenAI's shape."""
    for name, path in schema.get("paths", {}).items():
        for operation in path.values():
            if name.startswith("/v1/"):
                # Invalid bodies there are OpenAI-style 400s, never 422s.
                operation.get("responses", {}).pop("422", None)
            else:
                _problem_operation(operation)


def _problem_operation(operation: dict[str, Any]) -> None:
    for status, response in operation.get("responses", {}).items():
        if not status.startswith(("4", "5")):
            continue
        response["content"] = {PROBLEM_JSON: {"schema": PROBLEM_REF}}
        if status == "422":
            response["description"] = "The request is not valid (validation_error)"


def install_openapi(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                summary=app.summary,
                description=app.description,
                routes=app.routes,
            )
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            components["ProblemDetails"] = ProblemDetails.model_json_schema(
                ref_template="#/components/schemas/{model}"
            )
            components.pop("HTTPValidationError", None)
            components.pop("ValidationError", None)
            _problem_responses(schema)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
