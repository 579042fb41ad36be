"""What each REST route answers besides its success: error statuses and codes, and headers.

A route declares it in its decorator, next to its stable ``operation_id``::

    @router.post("/projects", status_code=201, operation_id="createProject", tags=["projects"],
                 openapi_extensions=answers("PROJECT_CODE_TAKEN", sends=("Location",)))

- ``answers(*codes)``: the error codes the route itself can raise (each one line in
  :data:`ERROR_CODES`, which says its HTTP status). Codes every route shares are added by
  :func:`common_codes` and need no declaration: ``VALIDATION_ERROR`` (a parameter or body breaks its
  schema), :data:`BODY_CODES` (routes with a body: malformed, duplicate keys, too deep, not UTF-8,
  too large, not application/json), ``UNAUTHENTICATED`` and ``FORBIDDEN`` (routes that need a
  token), ``TOO_MANY_REQUESTS`` (gateway throttling and the WAF), ``INTERNAL_ERROR`` and
  ``RECORD_UNREADABLE`` (a stored record the request needs does not parse; reported, see
  :func:`keyframe.storage.pages.parse_record`).
- ``sends=``: response headers of the success answer (``ETag``, ``Location``,
  ``Idempotency-Replayed``); every answer carries ``X-Correlation-Id`` and every 429 ``Retry-After``.
- ``reads=``: request headers the route reads (``If-Match``, ``Idempotency-Key``); every route reads
  ``X-Correlation-Id``.

:mod:`keyframe.http.openapi` turns the declaration into the document's responses and parameters;
``tests/unit/core/test_error_contract.py`` reads the source and fails when a route can reach a code
it does not declare, or a code is raised that :data:`ERROR_CODES` does not list with its status.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

EXTENSION = "x-keyframe-answers"
"""The operation key the declaration travels under until :mod:`keyframe.http.openapi` expands it."""

ERROR_CODES: dict[str, int] = {
    "ALREADY_MEMBER": 409,
    "ASSET_ARCHIVED": 409,
    "ASSET_CHANGED": 409,
    "ASSET_NAME_TAKEN": 409,
    "ASSET_NOT_FOUND": 404,
    "AVATAR_NOT_AN_IMAGE": 400,
    "AVATAR_TOO_LARGE": 413,
    "AVATAR_UPLOAD_NOT_FOUND": 404,
    "BODY_TOO_DEEP": 400,
    "CHECKSUM_MISMATCH": 400,
    "COMMENT_NOT_FOUND": 404,
    "CONCURRENT_CHANGE": 409,
    "CONCURRENT_RENDERS_QUOTA_EXCEEDED": 429,
    "CONFLICT": 409,
    "CONNECTION_CLOSED": 401,
    "DEPENDENCIES_TRUNCATED": 409,
    "DEPENDENCY_CYCLE": 409,
    "DELIVERY_NOT_FOUND": 404,
    "DEPENDENCY_NOT_FOUND": 404,
    "DEPENDENCY_NOT_READY": 409,
    "DERIVED_NOT_FOUND": 404,
    "DUPLICATE_KEY": 400,
    "EMAIL_TAKEN": 409,
    "FILE_TOO_LARGE": 413,
    "FORBIDDEN": 403,
    "GRAPH_TOO_LARGE": 409,
    "IDEMPOTENCY_IN_PROGRESS": 409,
    "IDEMPOTENCY_KEY_REUSED": 409,
    "INTERNAL_ERROR": 500,
    "INVALID_CHECKSUM": 400,
    "INVALID_CREDENTIALS": 401,
    "INVALID_CURSOR": 400,
    "INVALID_ENCODING": 400,
    "INVALID_FILE_NAME": 400,
    "INVALID_FRAME_RANGE": 400,
    "INVALID_IDEMPOTENCY_KEY": 400,
    "INVALID_INPUT": 400,
    "INVALID_MEDIA": 400,
    "INVALID_REFRESH_TOKEN": 401,
    "INVALID_REVIEW_STATUS": 400,
    "INVALID_ROOM": 400,
    "INVALID_TIMECODE": 400,
    "INVALID_TOKEN": 401,
    "INVALID_UNSUBSCRIBE_TOKEN": 400,
    "INVITATION_ACCEPTED": 409,
    "INVITATION_EXPIRED": 410,
    "INVITATION_INVALID": 400,
    "INVITATION_NOT_FOUND": 404,
    "INVITATION_NOT_PENDING": 409,
    "INVITATION_REVOKED": 410,
    "INVITATION_USED": 400,
    "RESET_TOKEN_EXPIRED": 410,
    "RESET_TOKEN_INVALID": 400,
    "RESET_TOKEN_USED": 410,
    "SESSION_NOT_FOUND": 404,
    "LAST_ADMIN": 409,
    "MALFORMED_JSON": 400,
    "MEMBERSHIP_ENDED": 401,
    "MEMBER_NOT_FOUND": 404,
    "NOT_COMMENT_AUTHOR": 403,
    "NOT_DOWNLOADABLE": 409,
    "NOT_FOUND": 404,
    "NOT_PLAYABLE": 409,
    "NOT_RENDER_REQUESTER": 403,
    "NOT_SUBSCRIBED": 400,
    "NOT_UPLOADER": 403,
    "NO_CURRENT_VERSION": 409,
    "NO_VERSIONS": 409,
    "PART_CHECKSUMS_MISMATCH": 400,
    "PAYLOAD_TOO_LARGE": 413,
    "PIPELINE_ORDER": 400,
    "PRECONDITION_FAILED": 412,
    "PROJECT_ARCHIVED": 409,
    "PROJECT_CHANGED": 409,
    "PROJECT_CODE_TAKEN": 409,
    "PROJECT_NOT_FOUND": 404,
    "READ_ONLY_FIELD": 400,
    "RECORD_UNREADABLE": 500,
    "REFRESH_TOKEN_REUSED": 401,
    "RENDER_ACTIVE": 409,
    "RENDER_CHANGED": 409,
    "RENDER_FINISHED": 409,
    "RENDER_MINUTES_QUOTA_EXCEEDED": 429,
    "RENDER_NOT_FOUND": 404,
    "RENDER_NOT_READY": 409,
    "RENDER_POLICY_NOT_FOUND": 404,
    "RENDER_SUCCEEDED": 409,
    "RENDER_VCPUS_QUOTA_EXCEEDED": 429,
    "SELF_DEPENDENCY": 400,
    "SESSION_ENDED": 401,
    "SERVICE_UNAVAILABLE": 503,
    "SIZE_MISMATCH": 400,
    "SOURCE_NOT_SCENE": 400,
    "SOURCE_NOT_VIDEO": 400,
    "STORAGE_QUOTA_EXCEEDED": 413,
    "TIMECODE_MISMATCH": 400,
    "TOO_FEW_FRAMES": 400,
    "TOO_MANY_CHUNKS": 400,
    "TOO_MANY_FRAMES": 400,
    "TOO_MANY_RENDER_POLICIES": 409,
    "TOO_MANY_REQUESTS": 429,
    "TRANSIENT_FAILURE": 503,
    "TRIM_OUT_OF_RANGE": 400,
    "TYPE_MISMATCH": 400,
    "UNAUTHENTICATED": 401,
    "UNKNOWN_ACTION": 400,
    "UNKNOWN_CAMERA": 400,
    "UNKNOWN_PRESET": 400,
    "UNKNOWN_VERSION": 400,
    "UNSUPPORTED_OPTION": 400,
    "UPLOAD_ABORTED": 409,
    "UPLOAD_COMPLETED": 409,
    "UPLOAD_MISSING": 400,
    "UPLOAD_NOT_FOUND": 404,
    "UPLOAD_OBJECT_MISSING": 409,
    "UPLOAD_PARTS_INVALID": 400,
    "VALIDATION_ERROR": 400,
    "VERSION_CHANGED": 409,
    "VERSION_FAILED": 409,
    "VERSION_NOT_FOUND": 404,
    "VERSION_NOT_READY": 409,
    "VERSION_READY": 409,
    "WEBHOOK_ENDPOINTS_QUOTA_EXCEEDED": 429,
    "WATERMARKED_FOR_ANOTHER_MEMBER": 403,
    "WEBHOOK_NOT_FOUND": 404,
    "WEBHOOK_URL_NOT_HTTPS": 400,
    "WEBHOOK_URL_PRIVATE": 400,
    "WEBHOOK_URL_UNRESOLVED": 400,
    # answered by the local gateway and API Gateway itself, never raised by a handler
    "UNSUPPORTED_MEDIA_TYPE": 415,
    "ROUTE_NOT_FOUND": 404,
    "AUTHORIZER_FAILURE": 500,
}
"""Every machine ``code`` of the error body -> the HTTP status it is answered with.

The status comes from the error class raised (:data:`keyframe.http.errors.STATUS_BY_ERROR`); a test
checks each raise site in the source against this table. Codes only the socket (``NOT_SUBSCRIBED``,
``UNKNOWN_ACTION``, ``CONNECTION_CLOSED``) or the pipeline (``INVALID_MEDIA``, ``TYPE_MISMATCH`` …,
stored on a FAILED version) use are listed too: they share the one error vocabulary."""

REQUEST_HEADERS: dict[str, dict[str, Any]] = {
    "If-Match": {
        "description": "The ETag you read; a stale one answers 412 PRECONDITION_FAILED (optional)",
        "schema": {"type": "string"},
        "example": '"3-8f14e45f"',
    },
    "Idempotency-Key": {
        "description": "1-255 printable characters: a retry with the same key and body answers the same job",
        "schema": {"type": "string", "minLength": 1, "maxLength": 255},
        "example": "render-sh020-v3-hls-1",
    },
    "X-Correlation-Id": {
        "description": "Your id for this request, echoed in the answer and in error bodies when it is "
        "1-128 printable characters; any other value is ignored and the request id is used",
        "schema": {"type": "string"},
        "example": "c0ffee-42",
    },
}
"""Request headers a route may declare in ``reads=`` (``X-Correlation-Id`` is on every route)."""

RESPONSE_HEADERS: dict[str, dict[str, Any]] = {
    "ETag": {
        "description": "The version of the record; send it back in If-Match to change it safely",
        "schema": {"type": "string"},
    },
    "Location": {"description": "Where the created resource is read", "schema": {"type": "string"}},
    "Idempotency-Replayed": {
        "description": "With Idempotency-Key: true when this answer replays an earlier request",
        "schema": {"type": "string", "enum": ["true", "false"]},
    },
    "Retry-After": {"description": "Seconds to wait before trying again", "schema": {"type": "integer"}},
    "X-Correlation-Id": {
        "description": "The request's correlation id (the one you sent, else the request id)",
        "schema": {"type": "string"},
    },
}
"""Response headers the document describes (``components/headers``)."""


def answers(*codes: str, sends: Iterable[str] = (), reads: Iterable[str] = ()) -> dict[str, Any]:
    """The ``openapi_extensions`` of a route: its own error codes, success headers and request headers.

    Parameters
    ----------
    codes:
        Error codes the route can answer beyond :func:`common_codes` (keys of :data:`ERROR_CODES`).
    sends:
        Headers of the success answer (keys of :data:`RESPONSE_HEADERS`).
    reads:
        Request headers the route reads (keys of :data:`REQUEST_HEADERS`).

    Raises
    ------
    KeyError
        An unknown code or header (so a typo fails at import, not in the document).
    """
    sent, read = list(sends), list(reads)
    unknown = [c for c in codes if c not in ERROR_CODES]
    unknown += [h for h in sent if h not in RESPONSE_HEADERS] + [h for h in read if h not in REQUEST_HEADERS]
    if unknown:
        raise KeyError(f"unknown error code or header {unknown}: see keyframe.http.contract")
    return {EXTENSION: {"errors": list(codes), "sends": sent, "reads": read}}


BODY_CODES: list[str] = [
    "MALFORMED_JSON",
    "DUPLICATE_KEY",
    "BODY_TOO_DEEP",
    "INVALID_ENCODING",
    "PAYLOAD_TOO_LARGE",
    "UNSUPPORTED_MEDIA_TYPE",
]
"""What the resolver's strict body check (:mod:`keyframe.http.bodies`) answers before any route runs."""


def common_codes(*, public: bool, has_body: bool, has_parameters: bool) -> list[str]:
    """The codes every route of this kind can answer, whatever it does (see the module docstring)."""
    codes = ["TOO_MANY_REQUESTS", "INTERNAL_ERROR", "RECORD_UNREADABLE"]
    if has_body or has_parameters:
        codes.append("VALIDATION_ERROR")
    if has_body:
        codes += BODY_CODES
    if not public:
        codes += ["UNAUTHENTICATED", "FORBIDDEN"]
    return codes
