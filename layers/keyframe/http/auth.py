"""The caller's identity inside a REST handler, as the Lambda authorizer verified it.

The authorizer (``functions/identity_authorizer``) puts ``studioId``, ``userId`` and ``role`` in the request
context; handlers never take a studio id from the path or the body. Routes call
:func:`authorize` with the :class:`~keyframe.identity.permissions.Permission` they need.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

from keyframe.errors import Unauthenticated
from keyframe.identity.permissions import Permission, Principal, Role, require

_current_event: ContextVar[dict[str, Any] | None] = ContextVar("keyframe_current_event", default=None)


def set_current_event(event: dict[str, Any] | None) -> None:
    """Remember the API Gateway event of the request being resolved (set by the resolver)."""
    _current_event.set(event)


def current_event() -> dict[str, Any]:
    """The raw API Gateway proxy event of the current request.

    Raises
    ------
    RuntimeError
        Outside a request.
    """
    event = _current_event.get()
    if event is None:
        raise RuntimeError("no request is being resolved")
    return event


def current_principal() -> Principal:
    """The verified caller of the current request.

    Raises
    ------
    Unauthenticated
        When the request carries no authorizer context (a public route asked for it).
    """
    context = (current_event().get("requestContext") or {}).get("authorizer") or {}
    try:
        return Principal(studio_id=context["studioId"], user_id=context["userId"], role=Role(context["role"]))
    except (KeyError, ValueError) as exc:
        raise Unauthenticated("Authentication required") from exc


def current_session_id() -> str | None:
    """The caller's session (the access token's refresh-token family, ``fid``), from the authorizer."""
    context = (current_event().get("requestContext") or {}).get("authorizer") or {}
    value = context.get("sessionId")
    return str(value) if value else None


def authorize(permission: Permission) -> Principal:
    """Return the caller if their role holds ``permission``.

    Raises
    ------
    Unauthenticated
        No verified caller.
    Forbidden
        The caller's role lacks ``permission`` (the message names it).
    """
    principal = current_principal()
    require(principal, permission)
    return principal


def client_address() -> str:
    """The caller's IP address as API Gateway saw it (``requestContext.identity.sourceIp``).

    The local stack fills it from the connection. ``"unknown"`` when absent (never from a header a
    client could forge, such as ``X-Forwarded-For``).
    """
    identity = (current_event().get("requestContext") or {}).get("identity") or {}
    address = identity.get("sourceIp")
    return address if isinstance(address, str) and address else "unknown"


def header(name: str) -> str | None:
    """A request header, case-insensitively (``None`` when absent)."""
    headers = current_event().get("headers") or {}
    lowered = name.lower()
    for key, value in headers.items():
        if key.lower() == lowered:
            return value
    return None
