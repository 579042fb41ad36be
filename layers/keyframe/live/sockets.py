"""The WebSocket API's handshake: the ``$connect`` authorizer, ``$connect`` and ``$disconnect``.

The message routes (``$default`` and each action) are :mod:`keyframe.live.socket_messages`, in a
module of their own so that the handshake functions start without loading what messages act on
(reviews, comments, decisions). :func:`error_event` is the ``error`` frame both use.

Every handler sets the logger's correlation id first (:func:`set_correlation_id`: the message's
``correlationId`` when the client sent one, else API Gateway's ``requestId``), so log lines, the
reply, the ``error`` event and the room events a message causes all carry the same id.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from keyframe.errors import KeyframeError, TooManyRequests, Unauthenticated
from keyframe.http.errors import error_body
from keyframe.identity.models import MembershipItem, get_or_none, member_sk, studio_pk
from keyframe.identity.permissions import Principal, Role
from keyframe.live import connections, presence, tickets
from keyframe.observability import logger

UNAUTHORIZED = "Unauthorized"
"""The exact message API Gateway turns into a refused handshake (401)."""


def set_correlation_id(event: dict[str, Any], hint: str | None = None) -> str:
    """Set (and return) the logger's correlation id for one WebSocket event.

    ``hint`` (a client-supplied ``correlationId``) wins; else API Gateway's ``requestId``, else its
    ``messageId``, else a new UUID. Every handler calls this first, so the ``error`` event
    (:func:`error_event`) and the envelopes of the events it causes carry the id.
    """
    context = event.get("requestContext") or {}
    correlation_id = hint or context.get("requestId") or context.get("messageId") or str(uuid.uuid4())
    logger.set_correlation_id(str(correlation_id))
    return str(correlation_id)


# --- $connect authorizer ------------------------------------------------------------------------


def _current_role(principal: Principal) -> Role:
    """The member's role now (tenants table); refuses a member removed since the ticket was issued."""
    membership = get_or_none(MembershipItem, studio_pk(principal.studio_id), member_sk(principal.user_id))
    if membership is None:
        raise Unauthenticated("membership ended", code="MEMBERSHIP_ENDED")
    return Role(membership.role)


def authorize_connect(event: dict[str, Any]) -> dict[str, Any]:
    """The REQUEST authorizer of ``$connect``: consume the ``ticket`` query parameter, allow or refuse.

    Input: ``{"type": "REQUEST", "methodArn", "queryStringParameters": {"ticket"}, "headers",
    "requestContext": {"connectionId", …}}``. Consumes the ticket (live table: conditional delete)
    and reads the membership (tenants table) for the current role.

    Returns
    -------
    dict
        An IAM policy allowing ``execute-api:Invoke`` on ``methodArn`` with the context
        ``{"studioId", "userId", "role"}`` (API Gateway hands it to ``$connect``).

    Raises
    ------
    Exception
        ``Exception("Unauthorized")`` for a missing, unknown, expired or reused ticket, or a member
        removed meanwhile: API Gateway refuses the handshake with 401.
    """
    set_correlation_id(event)
    query = event.get("queryStringParameters") or {}
    try:
        ticketed = tickets.consume(query.get("ticket"))
        role = _current_role(ticketed)
    except (Unauthenticated, ValueError) as exc:
        logger.info("handshake refused", extra={"reason": getattr(exc, "code", type(exc).__name__)})
        raise Exception(UNAUTHORIZED) from None
    return {
        "principalId": ticketed.user_id,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": event.get("methodArn", "*")}
            ],
        },
        "context": {"studioId": ticketed.studio_id, "userId": ticketed.user_id, "role": role.value},
    }


# --- $connect / $disconnect ---------------------------------------------------------------------


def on_connect(event: dict[str, Any]) -> dict[str, Any]:
    """``$connect``: store the connection with the authorizer's studio, user and role (live table).

    Returns ``{"statusCode": 200}``, or 401 when the event carries no authorizer context (the
    route must always run behind :func:`authorize_connect`).
    """
    set_correlation_id(event)
    context = event.get("requestContext") or {}
    authorizer = context.get("authorizer") or {}
    try:
        principal = Principal(
            studio_id=str(authorizer["studioId"]),
            user_id=str(authorizer["userId"]),
            role=Role(authorizer["role"]),
        )
    except (KeyError, ValueError):
        return {"statusCode": 401, "body": UNAUTHORIZED}
    connected_at = None
    if isinstance(context.get("connectedAt"), int | float):
        connected_at = datetime.fromtimestamp(context["connectedAt"] / 1000, UTC)
    connections.open_connection(context["connectionId"], principal, connected_at)
    logger.info(
        "connected", extra={"connection_id": context["connectionId"], "studio_id": principal.studio_id}
    )
    return {"statusCode": 200}


def on_disconnect(event: dict[str, Any]) -> dict[str, Any]:
    """``$disconnect``: remove the connection and its rooms; ``presence:leave`` to those rooms."""
    set_correlation_id(event)
    connection_id = (event.get("requestContext") or {}).get("connectionId")
    if connection_id:
        closed = connections.close_connection(connection_id)
        if closed is not None:
            presence.announce_leave(closed)
    return {"statusCode": 200}


# --- the error frame (messages and handshake) ----------------------------------------------------


def error_event(error: KeyframeError) -> dict[str, Any]:
    """The ``error`` frame for a refused message: the REST error body under ``data``.

    Returns
    -------
    dict
        ``{"type": "error", "data": {"code", "message", "details"?, "correlationId"}}`` where
        ``data`` is ``error_body(code, message, details)["error"]`` (the API's one error shape) and
        ``correlationId`` is the logger's current one (set by :func:`set_correlation_id`; a new one
        is made if none is set, so it is always present). A :class:`~keyframe.errors.TooManyRequests`
        adds ``retryAfter`` (seconds) to ``details``.
    """
    details = error.details
    if isinstance(error, TooManyRequests):
        if details is None:
            details = {"retryAfter": error.retry_after}
        elif isinstance(details, dict):
            details = {**details, "retryAfter": error.retry_after}
        else:
            details = {"errors": details, "retryAfter": error.retry_after}
    if not logger.get_correlation_id():
        logger.set_correlation_id(str(uuid.uuid4()))
    return {"type": "error", "data": error_body(error.code, error.message, details)["error"]}
