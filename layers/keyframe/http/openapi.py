"""The OpenAPI document of the whole REST API, generated from the routers and their pydantic models.

``make openapi`` writes it to ``layers/keyframe/http/openapi.json`` (committed, served by
``GET /openapi.json``); ``tests/unit/test_openapi.py`` fails when the committed copy drifts.
"""

from __future__ import annotations

import json
from http import HTTPStatus
from pathlib import Path
from typing import Any

from keyframe import registry
from keyframe.http import contract, examples
from keyframe.http.app import KeyframeResolver

COMMITTED = Path(__file__).with_name("openapi.json")
TITLE = "Keyframe API"
VERSION = "1.0.0"


TAGS: tuple[tuple[str, str], ...] = (
    ("auth", "Sign up, sign in, refresh and sign out; accept an invitation. No token needed."),
    (
        "me",
        "You: your profile, your studio and role, every studio you belong to; your favorite assets and "
        "where you stopped playing each render.",
    ),
    ("members", "The studio's members: invite, change roles, remove (members:manage)."),
    (
        "webhooks",
        "Outbound webhooks (webhooks:manage, ADMIN): endpoints that receive the studio's domain events, "
        "signed (Standard Webhooks), retried for 24 h; their deliveries, replays and test pings.",
    ),
    (
        "projects",
        "Projects of the studio: create, list, read, edit, archive. A code is unique in the studio.",
    ),
    (
        "assets",
        "Assets of a project: create, list, search, read with an ETag, edit with If-Match, "
        "archive and restore.",
    ),
    (
        "versions",
        "Immutable numbered versions of an asset: list, read, download the file or a derived "
        "file, roll the current version back or forward.",
    ),
    ("dependencies", "The dependency graph: what an asset uses (pinned or following) and what uses it."),
    (
        "uploads",
        "Multipart uploads straight to S3 with presigned part URLs, resumable; complete starts "
        "the processing pipeline.",
    ),
    ("pipeline", "The processing pipeline of a version (validate, publish, derive, finalize) and reprocess."),
    ("renders", "Render jobs (hls, review-mp4, filmstrip) with Idempotency-Key; playback and download."),
    ("reviews", "Comments at a frame or timecode, threads, resolution; review decisions on a version."),
    ("live", "Live review: socket tickets and catch-up of a room's numbered events."),
    ("activity", "The studio's activity log, written in the same transaction as each change."),
    (
        "analytics",
        "Client analytics events (playback, views) sent in batches by a review UI, fire-and-forget; "
        "recorded with the backend's own events for analysts (Athena), never read back through the API.",
    ),
    ("meta", "About the API itself: liveness, readiness, this document and its interactive docs."),
)
"""Every tag with its description, in the order the docs show them."""


def generate() -> dict[str, Any]:
    """Build the OpenAPI 3.1 document from every API function's routers.

    Each operation's :func:`keyframe.http.contract.answers` declaration becomes its error responses
    (one per status, the :data:`ERROR_SCHEMA` with the finite ``code`` set), its success headers and
    its header parameters; Powertools' own 422 and its validation schemas are removed (validation
    failures answer 400 ``VALIDATION_ERROR``).
    """
    # Powertools' OpenAPI models (~50 ms of CPU) load here, not in meta-api's cold start
    from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer  # noqa: PLC0415

    app = KeyframeResolver(enable_validation=True)
    for spec in registry.api_functions():
        for router in registry.routers_of(spec):
            app.include_router(router)
    raw = app.get_openapi_json_schema(
        title=TITLE,
        version=VERSION,
        description=DESCRIPTION,
        security_schemes={"bearerAuth": HTTPBearer(bearerFormat="JWT")},
        security=[{"bearerAuth": []}],
    )
    document = json.loads(raw)
    document["tags"] = [{"name": name, "description": text} for name, text in TAGS]
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError", "ResponseValidationError"):
        schemas.pop(name, None)  # Powertools' 422 bodies: never sent (errors answer the Error shape)
    schemas.update(ERROR_SCHEMAS)
    components["headers"] = {
        name: {"description": spec["description"], "schema": spec["schema"]}
        for name, spec in contract.RESPONSE_HEADERS.items()
    }
    components["parameters"] = {
        _parameter_key(name): {"name": name, "in": "header", "required": False, **spec}
        for name, spec in contract.REQUEST_HEADERS.items()
    }
    components["responses"] = {
        name: _error_response(status, list(codes)) for (status, codes), name in SHARED_RESPONSES.items()
    }
    for path, item in document.get("paths", {}).items():
        for method, operation in item.items():
            if isinstance(operation, dict):
                _describe(path, method, operation)
                _add_examples(operation)
    return document


DESCRIPTION = (
    "The production backend of an animation studio: projects, assets with immutable versions, a "
    "dependency graph, uploads that become previewable versions, renders with HLS playback, live "
    "review.\n\nSend `Authorization: Bearer <accessToken>` (from `POST /auth/login`). Every error "
    'answers `{"error": {"code", "message", "details"?, "correlationId"}}`; each response lists the '
    "`code` values it can carry. The live socket is described by `/asyncapi.json`."
)


def _example_of(media: dict[str, Any]) -> Any:
    schema = media.get("schema", {})
    refs = [schema, *schema.get("anyOf", [])]  # an optional body is anyOf [model, null]
    name = next((r["$ref"].rsplit("/", 1)[-1] for r in refs if "$ref" in r), "")
    if name in examples.EXAMPLES:
        return examples.EXAMPLES[name]
    if name.endswith("Page") and name[: -len("Page")] in examples.EXAMPLES:
        return {"items": [examples.EXAMPLES[name[: -len("Page")]]], "nextCursor": None}
    return None


def _add_examples(operation: dict[str, Any]) -> None:
    """Put :data:`keyframe.http.examples.EXAMPLES` on the request body and the success answers."""
    bodies = [operation.get("requestBody", {}).get("content", {}).get("application/json")]
    for status, response in operation.get("responses", {}).items():
        if status.startswith("2"):
            bodies.append(response.get("content", {}).get("application/json"))
    for media in bodies:
        example = _example_of(media) if media else None
        if example is not None:
            media["example"] = example


def _parameter_key(header: str) -> str:
    return header.replace("-", "")


def _ref(kind: str, name: str) -> dict[str, str]:
    return {"$ref": f"#/components/{kind}/{name}"}


def _describe(path: str, method: str, operation: dict[str, Any]) -> None:
    """Expand the route's declaration into parameters, success headers and error responses."""
    declared = operation.pop(contract.EXTENSION, None) or {"errors": [], "sends": [], "reads": []}
    public = registry.is_public(path)
    if public:
        operation["security"] = []
    parameters = operation.setdefault("parameters", [])
    has_parameters = bool(parameters)
    for header in [*declared["reads"], "X-Correlation-Id"]:
        parameters.append(_ref("parameters", _parameter_key(header)))
    responses = operation.setdefault("responses", {})
    responses.pop("422", None)
    for status, response in responses.items():
        if status == "204":
            response.pop("content", None)
        if status.startswith("2"):
            response["headers"] = {
                name: _ref("headers", name) for name in [*declared["sends"], "X-Correlation-Id"]
            }
    has_body = "requestBody" in operation
    codes = contract.common_codes(public=public, has_body=has_body, has_parameters=has_parameters)
    by_status: dict[int, list[str]] = {}
    for code in dict.fromkeys([*codes, *declared["errors"]]):
        by_status.setdefault(contract.ERROR_CODES[code], []).append(code)
    for status in sorted(by_status):
        codes = sorted(by_status[status])
        shared = SHARED_RESPONSES.get((status, tuple(codes)))
        responses[str(status)] = _ref("responses", shared) if shared else _error_response(status, codes)


SHARED_RESPONSES: dict[tuple[int, tuple[str, ...]], str] = {
    (400, ("VALIDATION_ERROR",)): "BadRequest",
    (400, ("MALFORMED_JSON", "VALIDATION_ERROR")): "BadRequestBody",
    (401, ("UNAUTHENTICATED",)): "Unauthenticated",
    (403, ("FORBIDDEN",)): "Forbidden",
    (413, ("PAYLOAD_TOO_LARGE",)): "PayloadTooLarge",
    (415, ("UNSUPPORTED_MEDIA_TYPE",)): "UnsupportedMediaType",
    (429, ("TOO_MANY_REQUESTS",)): "TooManyRequests",
    (500, ("INTERNAL_ERROR", "RECORD_UNREADABLE")): "InternalError",
}
"""Error answers many routes share, kept once in ``components/responses``."""


def _error_response(status: int, codes: list[str]) -> dict[str, Any]:
    headers = {"X-Correlation-Id": _ref("headers", "X-Correlation-Id")}
    if status == 429:
        headers["Retry-After"] = _ref("headers", "Retry-After")
    schema = {
        "allOf": [
            _ref("schemas", "Error"),
            {
                "type": "object",
                "properties": {
                    "error": {"type": "object", "properties": {"code": {"type": "string", "enum": codes}}}
                },
            },
        ]
    }
    return {
        "description": f"{HTTPStatus(status).phrase}: {', '.join(codes)}",
        "headers": headers,
        "content": {"application/json": {"schema": schema}},
    }


ERROR_SCHEMAS: dict[str, Any] = {
    "Error": {
        "title": "Error",
        "description": "The one body of every 4xx and 5xx answer.",
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message", "correlationId"],
                "properties": {
                    "code": {
                        "type": "string",
                        "description": "Stable machine code (UPPER_SNAKE); each response lists its own",
                        "enum": sorted(contract.ERROR_CODES),
                    },
                    "message": {"type": "string", "description": "A sentence a person can act on"},
                    "details": _ref("schemas", "ErrorDetails"),
                    "correlationId": {"type": "string", "description": "Quote it when asking for help"},
                },
            }
        },
        "examples": [
            {
                "error": {
                    "code": "VALIDATION_ERROR",
                    "message": "Invalid request: name",
                    "details": {
                        "fields": [
                            {
                                "field": "name",
                                "message": "String should have at least 1 character",
                                "type": "string_too_short",
                                "in": "body",
                            }
                        ]
                    },
                    "correlationId": "c0ffee-42",
                }
            }
        ],
    },
    "ErrorDetails": {
        "title": "ErrorDetails",
        "description": "Always an object. `fields` names the request fields at fault (400s); the other "
        "keys give context and depend on the code (`assetId`, `version`, `status`, `cycle`, `limit`, "
        "`retryAfter`, `permission`, `checks` …).",
        "type": "object",
        "properties": {"fields": {"type": "array", "items": _ref("schemas", "FieldError")}},
        "additionalProperties": True,
    },
    "FieldError": {
        "title": "FieldError",
        "description": "One request field at fault.",
        "type": "object",
        "required": ["field", "message"],
        "properties": {
            "field": {"type": "string", "description": "Dotted path of the field (`tags.0`), or `body`"},
            "message": {"type": "string"},
            "type": {
                "type": "string",
                "description": "Machine kind of the problem (`missing`, `string_too_short` …)",
            },
            "in": {"type": "string", "enum": ["body", "query", "path", "header"]},
        },
    },
}
"""The error body's schemas (``keyframe.http.errors`` builds the body)."""

ERROR_SCHEMA = ERROR_SCHEMAS["Error"]


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
