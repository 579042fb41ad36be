"""The WebSocket API's message routes: every frame a client sends after the handshake.

Route selection is ``$request.body.action``; one function answers every message route (the
``$default`` route and each action route, see ``keyframe.registry.WEBSOCKET_ROUTES``) and dispatches
on the validated ``action``. Whatever a message does, the caller gets exactly one reply frame (the
route response), and the connection stays open:

- ``{"type": "subscribed", "correlationId", "data": {"room", "lastSeq"}}`` after ``subscribe``,
- ``{"type": "unsubscribed", …}``, ``{"type": "pong", …}``,
- ``{"type": "ack", "correlationId", "data": {"action", …the comment / review…}}`` after a write,
- ``{"type": "error", "data": {"code", "message", "details"?, "correlationId"}}`` when refused:
  ``data`` is exactly the inner object of the REST API's error body
  (:func:`keyframe.http.errors.error_body`), so a client reads errors the same way on both
  channels; a throttled message carries ``details.retryAfter`` (seconds). Codes:
  ``MALFORMED_JSON``, ``BODY_TOO_DEEP``, ``DUPLICATE_KEY``, ``UNKNOWN_ACTION``,
  ``VALIDATION_ERROR``, ``PAYLOAD_TOO_LARGE``, ``TOO_MANY_REQUESTS``, ``CONNECTION_FLOODED``,
  ``FORBIDDEN``, ``NOT_FOUND``/``*_NOT_FOUND``, ``NOT_COMMENT_AUTHOR``, ``INVALID_ROOM``,
  ``NOT_SUBSCRIBED``, ``CONNECTION_CLOSED``, ``INTERNAL_ERROR``. No message goes unanswered.

A socket over the rate limit for ``LIVE_FLOOD_SECONDS`` seconds in a row gets a last ``error``
event, ``CONNECTION_FLOODED`` (``details.closeCode`` 1008, policy violation), pushed through
``@connections``, and is then closed with ``DeleteConnection``. API Gateway closes such a socket
with status 1000 and no reason (its API takes neither: aws-sdk-js#3636, boto3#3789), so the event
is where a client reads why; the local stack's gateway does the same.

Each message sets the logger's correlation id first (:func:`keyframe.live.sockets.set_correlation_id`),
so log lines, the reply, the ``error`` event and the room events a message causes carry the same id.

Room events (comments, decisions, presence, pipeline and render progress ...) are not replies:
they reach every member of the room through :mod:`keyframe.live.fanout`, the caller included.

Like a REST router, the actions import the service they call (:mod:`keyframe.reviews.service` for a
comment, a resolve or a review): the function's cold start, a ``subscribe`` and a ``ping`` do not
load it (``tests/unit/core/test_cold_start_imports.py`` keeps it so).
"""

from __future__ import annotations

import base64
import json
from typing import Any

from botocore.exceptions import ClientError

from keyframe import clock
from keyframe.errors import Forbidden, InvalidInput, KeyframeError, Unauthenticated
from keyframe.identity.permissions import Permission
from keyframe.live import connections, messages, presence, rooms, throttle
from keyframe.live.messages import (
    CommentMessage,
    Message,
    PingMessage,
    PresenceMessage,
    ResolveMessage,
    ReviewMessage,
    SubscribeMessage,
    UnsubscribeMessage,
)
from keyframe.live.models import ConnectionItem
from keyframe.live.settings import LiveSettings
from keyframe.live.sockets import error_event, set_correlation_id
from keyframe.observability import logger
from keyframe.settings import load


def _reply(kind: str, correlation_id: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"type": kind, "correlationId": correlation_id, "data": data}


def _subscribe(connection: ConnectionItem, message: SubscribeMessage, correlation_id: str) -> dict[str, Any]:
    room = rooms.ensure_room(connection.studio_id, message.room, user_id=connection.user_id)
    if connections.join_room(connection, room.name) and room.kind in rooms.PRESENCE_KINDS:
        presence.announce_join(connection, room.name)
    last = rooms.last_seq(connection.studio_id, room.name)
    return _reply("subscribed", correlation_id, {"room": room.name, "lastSeq": last})


def _unsubscribe(
    connection: ConnectionItem, message: UnsubscribeMessage, correlation_id: str
) -> dict[str, Any]:
    room = rooms.parse_room(message.room)
    if room.kind not in rooms.PRESENCE_KINDS:
        raise InvalidInput("Every connection stays in the studio room and its user room", code="INVALID_ROOM")
    if connections.leave_room(connection, room.name):
        presence.announce_room_leave(connection, room.name)
    return _reply("unsubscribed", correlation_id, {"room": room.name})


def _presence(connection: ConnectionItem, message: PresenceMessage, correlation_id: str) -> dict[str, Any]:
    room = rooms.parse_room(message.room)
    if room.kind not in rooms.PRESENCE_KINDS or not connections.is_member(connection, room.name):
        raise InvalidInput(
            "Subscribe to the project or asset room before sending presence",
            code="NOT_SUBSCRIBED",
            details={"room": room.name},
        )
    presence.announce_update(connection, room.name, message.frame)
    return _reply("ack", correlation_id, {"action": "presence", "room": room.name})


def dispatch(connection: ConnectionItem, message: Message, correlation_id: str) -> dict[str, Any]:
    """Carry out one validated message for ``connection``; returns the reply frame.

    Raises
    ------
    KeyframeError
        Whatever the action refuses (turned into an ``error`` frame by :func:`on_message`).
    """
    principal = connections.principal_of(connection)
    if not principal.can(Permission.LIVE_CONNECT):  # pragma: no cover - every role holds it today
        raise Forbidden("Your role cannot use live review")
    match message:
        case PingMessage():
            return _reply("pong", correlation_id, {"ts": clock.now_iso()})
        case SubscribeMessage():
            return _subscribe(connection, message, correlation_id)
        case UnsubscribeMessage():
            return _unsubscribe(connection, message, correlation_id)
        case PresenceMessage():
            return _presence(connection, message, correlation_id)
        case CommentMessage():
            # a CommentMessage is a CommentCreate: the REST body's fields and rules, plus the target
            from keyframe.reviews import service

            comment = service.add_comment(principal, message.asset_id, message.version, message)
            return _reply("ack", correlation_id, {"action": "comment", "comment": comment.to_json()})
        case ResolveMessage():
            from keyframe.reviews import service

            comment = service.resolve_comment(principal, message.comment_id, resolved=message.resolved)
            return _reply("ack", correlation_id, {"action": "resolve", "comment": comment.to_json()})
        case ReviewMessage():
            from keyframe.reviews import service

            review = service.decide(principal, message.asset_id, message.version, message)
            return _reply("ack", correlation_id, {"action": "review", "review": review.to_json()})
    raise InvalidInput("Unknown action", code="UNKNOWN_ACTION")  # pragma: no cover - the union is closed


def _body_of(event: dict[str, Any]) -> str | bytes | None:
    body = event.get("body")
    if body is not None and event.get("isBase64Encoded"):
        return base64.b64decode(body)
    return body


def handle_message(event: dict[str, Any]) -> dict[str, Any]:
    """Answer one message frame with exactly one reply frame (never raises for bad input).

    Order: size limit, JSON, throttle (every frame counts, malformed ones too), the connection
    record (closed connections are refused), validation, then the action.
    """
    context = event.get("requestContext") or {}
    connection_id = str(context.get("connectionId") or "")
    correlation_id = set_correlation_id(event)
    try:
        max_bytes = load(LiveSettings).LIVE_MAX_MESSAGE_BYTES
        data: Any = None
        refused: KeyframeError | None = None
        try:
            data = messages.decode(_body_of(event), max_bytes=max_bytes)
        except KeyframeError as exc:  # too large or not JSON: still counted by the throttle below
            refused = exc
        hint = messages.correlation_id_hint(data)
        if hint:
            correlation_id = set_correlation_id(event, hint)
        throttle.count_message(connection_id)
        if refused is not None:
            raise refused
        connection = connections.get_connection(connection_id)
        if connection is None:
            raise Unauthenticated(
                "This connection is closed; open a new one with a new ticket", code="CONNECTION_CLOSED"
            )
        message = messages.validate_message(data)
        return dispatch(connection, message, correlation_id)
    except throttle.Flooding as exc:
        logger.warning("socket closed for flooding", extra={"connection_id": connection_id})
        return _close_flooding(connection_id, exc)
    except KeyframeError as exc:
        logger.info("message refused", extra={"error_code": exc.code, "connection_id": connection_id})
        return error_event(exc)
    except Exception:
        logger.exception("message failed", extra={"connection_id": connection_id})
        return error_event(
            KeyframeError("Something went wrong; quote the correlation id", code="INTERNAL_ERROR")
        )


def _close_flooding(connection_id: str, error: throttle.Flooding) -> dict[str, Any]:
    """Push the last ``error`` event to a flooding socket, then close it (``DeleteConnection``).

    Returns the event too (the route response; dropped by the gateway once the socket is closed).
    """
    from keyframe.live import fanout

    event = error_event(error)
    event["data"]["details"] = {**(event["data"].get("details") or {}), "closeCode": 1008}
    client = fanout.management_client()
    try:
        client.post_to_connection(ConnectionId=connection_id, Data=json.dumps(event).encode())
        client.delete_connection(ConnectionId=connection_id)
    except ClientError as exc:
        if not fanout.is_gone(exc):
            logger.warning("closing a flooding socket failed", extra={"connection_id": connection_id})
    closed = connections.close_connection(connection_id)
    if closed is not None:
        presence.announce_leave(closed)
    return event


def on_message(event: dict[str, Any]) -> dict[str, Any]:
    """The message route: ``{"statusCode": 200, "body": <the reply frame as JSON>}``."""
    reply = handle_message(event)
    return {"statusCode": 200, "body": json.dumps(reply, separators=(",", ":"))}
