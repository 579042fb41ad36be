"""Domain errors: what went wrong, in the studio's words, with no knowledge of HTTP.

Every error carries a stable machine ``code`` (UPPER_SNAKE), a human ``message`` and optional
``details`` (JSON-serialisable). The mapping from these classes to HTTP statuses lives in one place,
``keyframe.http.errors``; the WebSocket channel maps them to ``error`` events in ``keyframe.live``.
"""

from __future__ import annotations

from typing import Any


class KeyframeError(Exception):
    """Base of every domain error.

    Parameters
    ----------
    message:
        A sentence a user can act on ("Asset not found").
    code:
        Stable machine-readable code; defaults to the class's ``default_code``.
    details:
        Optional JSON-serialisable context (the field at fault, the cycle found, ...).
    """

    default_code = "ERROR"

    def __init__(self, message: str, *, code: str | None = None, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.details = details


def field_details(field: str, message: str, **context: Any) -> dict[str, Any]:
    """The ``details`` of an error about one request field, in the one documented shape.

    ``details`` is always an object: ``fields`` lists the fields at fault, each
    ``{"field", "message", "type"?, "in"?}``; other keys give context (``field_details("cursor",
    "invalid")`` -> ``{"fields": [{"field": "cursor", "message": "invalid"}]}``).
    """
    return {"fields": [{"field": field, "message": message}], **context}


class InvalidInput(KeyframeError):
    """The request is well-formed but a value breaks a rule (empty name, bad cursor, ...)."""

    default_code = "INVALID_INPUT"


class Unauthenticated(KeyframeError):
    """No valid credentials: missing, expired, tampered or revoked token, wrong password."""

    default_code = "UNAUTHENTICATED"


class Forbidden(KeyframeError):
    """The caller is known but their role lacks the permission."""

    default_code = "FORBIDDEN"


class NotFound(KeyframeError):
    """The thing does not exist in the caller's studio (another studio's ids land here too)."""

    default_code = "NOT_FOUND"


class Conflict(KeyframeError):
    """The request clashes with the current state (duplicate code, cycle, wrong status...)."""

    default_code = "CONFLICT"


class NoLongerAvailable(KeyframeError):
    """The thing existed but is no longer usable (a revoked or expired invitation, a used reset link)."""

    default_code = "GONE"


class PreconditionFailed(KeyframeError):
    """An ``If-Match`` ETag no longer matches: someone changed the record meanwhile."""

    default_code = "PRECONDITION_FAILED"


class PayloadTooLarge(KeyframeError):
    """A declared size is over a limit or quota (bytes)."""

    default_code = "PAYLOAD_TOO_LARGE"


class TooManyRequests(KeyframeError):
    """Throttled; ``retry_after`` says how many seconds to wait.

    Parameters
    ----------
    retry_after:
        Whole seconds the client should wait before trying again (sent as ``Retry-After``).
    """

    default_code = "TOO_MANY_REQUESTS"

    def __init__(self, message: str, *, retry_after: int, code: str | None = None, details: Any = None):
        super().__init__(message, code=code, details=details)
        self.retry_after = max(1, int(retry_after))


class ServiceUnavailable(KeyframeError):
    """A dependency (table, bucket) cannot be reached; used by readiness checks."""

    default_code = "SERVICE_UNAVAILABLE"


class UnreadableRecord(KeyframeError):
    """A stored record the request needs does not parse (damaged, or written by older code).

    Raised by :func:`keyframe.storage.pages.parse_record` after the record was reported (log +
    ``UnreadableRecords`` metric); answered 500 ``RECORD_UNREADABLE``: the fault is in the stored data,
    not in the request, and no client change can fix it. Listings leave such a record out instead.

    Parameters
    ----------
    kind, record_id:
        What was being read (``"asset"``) and its id, given back in ``details``.
    """

    default_code = "RECORD_UNREADABLE"

    def __init__(self, kind: str, record_id: str = "") -> None:
        super().__init__(
            f"The stored {kind} cannot be read; it has been reported to the operators "
            "(quote the correlation id)",
            details={"record": kind, "id": record_id},
        )
