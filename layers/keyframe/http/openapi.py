"""The OpenAPI document of the whole REST API, generated from the routers and their pydantic models.

``make openapi`` writes it to ``layers/keyframe/http/openapi.json`` (committed, served by
``GET /openapi.json``); ``tests/unit/test_openapi.py`` fails when the committed copy drifts.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer

from keyframe import registry

COMMITTED = Path(__file__).with_name("openapi.json")
TITLE = "Keyframe API"
VERSION = "1.0.0"


def generate() -> dict[str, Any]:
    """Build the OpenAPI 3.1 document from every API function's routers."""
    from keyframe.http.app import KeyframeResolver

    app = KeyframeResolver(enable_validation=True)
    for spec in registry.api_functions():
        for router in registry.routers_of(spec):
            app.include_router(router)
    raw = app.get_openapi_json_schema(
        title=TITLE,
        version=VERSION,
        description="The production backend of an animation studio. Errors answer "
        '{"error": {"code", "message", "details"?, "correlationId"}}.',
        security_schemes={"bearerAuth": HTTPBearer(bearerFormat="JWT")},
        security=[{"bearerAuth": []}],
    )
    document = json.loads(raw)
    components = document.setdefault("components", {}).setdefault("schemas", {})
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
    components.pop("ResponseValidationError", None)  # Powertools' 422 body: never sent (errors are 4xx Error)
    components["Error"] = ERROR_SCHEMA
    for path, item in document.get("paths", {}).items():
        for operation in item.values():
            if not isinstance(operation, dict):
                continue
            if registry.is_public(path):
                operation["security"] = []
            _describe_errors(operation, public=registry.is_public(path))
    return document


ERROR_SCHEMA: dict[str, Any] = {
    "title": "Error",
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "correlationId"],
            "properties": {
                "code": {"type": "string", "examples": ["VALIDATION_ERROR"]},
                "message": {"type": "string"},
                "details": {},
                "correlationId": {"type": "string"},
            },
        }
    },
}
"""The one error body every 4xx/5xx carries (``keyframe.http.errors``)."""


def _describe_errors(operation: dict[str, Any], *, public: bool) -> None:
    """Replace Powertools' 422 with the 400/401/403/404 the API really answers, in the error shape."""
    responses = operation.setdefault("responses", {})
    responses.pop("422", None)
    ref = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    responses.setdefault("400", {"description": "Invalid request (the field is named in details)", **ref})
    if "requestBody" in operation:
        responses.setdefault(
            "415",
            {"description": "Not application/json, or a charset other than utf-8", **ref},
        )
    if not public:
        responses.setdefault("401", {"description": "Missing, expired or invalid access token", **ref})
        responses.setdefault("403", {"description": "Your role lacks the permission", **ref})
        if any(p.get("in") == "path" for p in operation.get("parameters", [])):
            responses.setdefault("404", {"description": "Not found in your studio", **ref})


def render(document: dict[str, Any]) -> str:
    """The canonical text of the document (sorted keys, two-space indent, trailing newline)."""
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def committed() -> dict[str, Any]:
    """The committed document (what ``GET /openapi.json`` serves)."""
    return json.loads(COMMITTED.read_text())


def main() -> None:
    """Regenerate the committed copy (``make openapi``)."""
    COMMITTED.write_text(render(generate()))
    print(f"wrote {COMMITTED}")


if __name__ == "__main__":
    main()
