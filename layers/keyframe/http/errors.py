"""The one place where exceptions become HTTP responses.

Every error answers ``{"error": {"code", "message", "details"?, "correlationId"}}``. Routes never
catch exceptions themselves: domain code raises :mod:`keyframe.errors` classes and this module maps
them by class (never by reading the text) to a status.
"""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.exceptions import ServiceError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError

from keyframe import errors
from keyframe.http.bodies import UnsupportedMediaType
from keyframe.observability import logger

STATUS_BY_ERROR: dict[type[errors.KeyframeError], int] = {
    errors.InvalidInput: 400,
    errors.Unauthenticated: 401,
    errors.Forbidden: 403,
    errors.NotFound: 404,
    errors.Conflict: 409,
    errors.NoLongerAvailable: 410,
    errors.PreconditionFailed: 412,
    errors.PayloadTooLarge: 413,
    UnsupportedMediaType: 415,
    errors.TooManyRequests: 429,
    errors.ServiceUnavailable: 503,
    errors.UnreadableRecord: 500,
}
"""Domain error class -> HTTP status. Subclasses inherit their parent's status."""


def status_for(error: errors.KeyframeError) -> int:
    """The HTTP status of a domain error (walks the class hierarchy; 500 when unmapped)."""
    for cls in type(error).__mro__:
        if cls in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[cls]
    return 500


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    """The unified error body, with the current correlation id."""
    body: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        body["details"] = details
    body["correlationId"] = logger.get_correlation_id()
    return {"error": body}


def error_response(
    status: int, code: str, message: str, details: Any = None, headers: dict[str, str] | None = None
) -> Response:
    """A Powertools ``Response`` carrying the unified error body."""
    return Response(
        status_code=status,
        content_type="application/json",
        body=json.dumps(error_body(code, message, details)),
        headers=headers or {},
    )


def _field_name(loc: tuple | list) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or str(loc[0] if loc else "body")


def validation_details(exc: RequestValidationError) -> list[dict[str, str]]:
    """Turn pydantic errors into ``[{field, message, type}]`` naming each offending field."""
    details = []
    for err in exc.errors():
        loc = err.get("loc", ())
        kind = err.get("type", "invalid")
        message = err.get("msg") or {
            "extra_forbidden": "unknown field",
            "missing": "field required",
            "json_invalid": "malformed JSON",
        }.get(kind, kind.replace("_", " "))
        field = "body" if kind == "json_invalid" else _field_name(loc)
        where = str(loc[0]) if loc else "body"
        details.append({"field": field, "message": message, "type": kind, "in": where})
    return details


def register_error_handlers(app: APIGatewayRestResolver) -> None:
    """Attach every exception handler and the not-found handler to ``app``."""

    @app.exception_handler(errors.KeyframeError)
    def _domain(exc: errors.KeyframeError) -> Response:
        status = status_for(exc)
        headers = {}
        if isinstance(exc, errors.TooManyRequests):
            headers["Retry-After"] = str(exc.retry_after)
        log = logger.warning if status < 500 else logger.error
        log("request failed", extra={"error_code": exc.code, "status": status})
        return error_response(status, exc.code, exc.message, exc.details, headers)

    @app.exception_handler(RequestValidationError)
    def _validation(exc: RequestValidationError) -> Response:
        details = validation_details(exc)
        if any(d["type"] == "json_invalid" for d in details):
            return error_response(
                400, "MALFORMED_JSON", "The request body is not valid JSON", {"fields": details}
            )
        fields = ", ".join(sorted({d["field"] for d in details}))
        return error_response(400, "VALIDATION_ERROR", f"Invalid request: {fields}", {"fields": details})

    @app.exception_handler(ServiceError)
    def _service(exc: ServiceError) -> Response:
        return error_response(exc.status_code, HTTPStatus(exc.status_code).name, str(exc.msg))

    @app.not_found
    def _not_found(exc: Exception) -> Response:
        return error_response(404, "ROUTE_NOT_FOUND", "No such endpoint")

    @app.exception_handler(Exception)
    def _unexpected(exc: Exception) -> Response:
        logger.exception("unhandled error")
        return error_response(500, "INTERNAL_ERROR", "Something went wrong; quote the correlation id")
