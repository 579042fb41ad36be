"""What a client may send on the socket: one JSON object per frame, chosen by ``action``.

=============  ===============================================================================
action         fields
=============  ===============================================================================
subscribe      ``room`` (``studio``, ``project:{id}``, ``asset:{id}``)
unsubscribe    ``room``
comment        ``assetId``, ``version``, ``body``, ``frame?``, ``timecode?``, ``parentId?``,
               ``annotation?`` (JSON object, at most 16 KiB)
resolve        ``commentId``, ``resolved?`` (default true; false reopens)
review         ``assetId``, ``version``, ``decision`` (APPROVED | CHANGES_REQUESTED), ``note?``
presence       ``room``, ``frame?``
ping           -
=============  ===============================================================================

Every message may carry ``correlationId`` (echoed in the reply and carried by the events it
causes). Unknown fields are refused, like on the REST API. :func:`parse_message` turns any bad
frame into a :class:`~keyframe.errors.KeyframeError` whose code the ``error`` event carries:
``PAYLOAD_TOO_LARGE``, ``MALFORMED_JSON``, ``BODY_TOO_DEEP``, ``DUPLICATE_KEY``, ``UNKNOWN_ACTION``
or ``VALIDATION_ERROR``. The size is checked before anything is decoded and the nesting depth (at
most 32, as for REST bodies) before the JSON is parsed, so neither a huge nor a deeply nested frame
costs more than one linear scan.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, TypeAdapter, ValidationError

from keyframe.errors import InvalidInput, PayloadTooLarge
from keyframe.http.bodies import parse_json
from keyframe.reviews.schemas import CommentCreate, ReviewCreate
from keyframe.schemas import Identifier, RequestModel

MAX_MESSAGE_BYTES = 32 * 1024
"""API Gateway's WebSocket frame limit; larger messages are refused before parsing."""

ACTIONS = ("subscribe", "unsubscribe", "comment", "resolve", "review", "presence", "ping")

RoomName = Annotated[str, Field(min_length=1, max_length=80)]


class Message(RequestModel):
    """Fields every message may carry."""

    correlation_id: str | None = Field(default=None, min_length=1, max_length=128, pattern=r"^[\x21-\x7e]+$")


class SubscribeMessage(Message):
    """Join a room of your studio: its events reach this socket from now on."""

    action: Literal["subscribe"]
    room: RoomName


class UnsubscribeMessage(Message):
    """Leave a room."""

    action: Literal["unsubscribe"]
    room: RoomName


class CommentMessage(CommentCreate, Message):
    """Comment on a version (same fields as the REST body, plus the asset and version)."""

    action: Literal["comment"]
    asset_id: Identifier
    version: int = Field(ge=1)


class ResolveMessage(Message):
    """Resolve (or, with ``resolved: false``, reopen) a comment."""

    action: Literal["resolve"]
    comment_id: Identifier
    resolved: bool = True


class ReviewMessage(ReviewCreate, Message):
    """Approve or request changes on a version."""

    action: Literal["review"]
    asset_id: Identifier
    version: int = Field(ge=1)


class PresenceMessage(Message):
    """Tell a room you are here, and optionally at which frame."""

    action: Literal["presence"]
    room: RoomName
    frame: int | None = Field(default=None, ge=0)


class PingMessage(Message):
    """Keep-alive; answered with ``pong``."""

    action: Literal["ping"]


ClientMessage = Annotated[
    SubscribeMessage
    | UnsubscribeMessage
    | CommentMessage
    | ResolveMessage
    | ReviewMessage
    | PresenceMessage
    | PingMessage,
    Field(discriminator="action"),
]
MESSAGE_ADAPTER: TypeAdapter[Any] = TypeAdapter(ClientMessage)


def correlation_id_hint(raw: Any) -> str | None:
    """The ``correlationId`` of a frame even when the rest of it is invalid (for the error event)."""
    if isinstance(raw, dict):
        value = raw.get("correlationId")
        if isinstance(value, str) and 0 < len(value) <= 128 and value.isprintable():
            return value
    return None


def _field(loc: tuple[Any, ...]) -> str:
    # the first element of a discriminated-union location is the tag (e.g. "comment"); drop it
    parts = [str(p) for p in loc[1:]] if loc and str(loc[0]) in ACTIONS else [str(p) for p in loc]
    return ".".join(parts) or "message"


def validate_message(data: Any) -> Message:
    """Validate an already-decoded message.

    Raises
    ------
    InvalidInput
        ``UNKNOWN_ACTION`` (missing or unknown ``action``) or ``VALIDATION_ERROR`` (details name
        each field).
    """
    if not isinstance(data, dict):
        raise InvalidInput("A message is a JSON object with an 'action'", code="VALIDATION_ERROR")
    try:
        return MESSAGE_ADAPTER.validate_python(data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_context=False, include_input=False)
        if any(e["type"] in ("union_tag_invalid", "union_tag_not_found") for e in errors):
            raise InvalidInput(
                f"Unknown action; use one of: {', '.join(ACTIONS)}",
                code="UNKNOWN_ACTION",
                details={"action": str(data.get("action"))[:64], "actions": list(ACTIONS)},
            ) from None
        details = [{"field": _field(tuple(e["loc"])), "message": e["msg"], "type": e["type"]} for e in errors]
        fields = ", ".join(sorted({d["field"] for d in details}))
        raise InvalidInput(
            f"Invalid message: {fields}", code="VALIDATION_ERROR", details={"fields": details}
        ) from None


def decode(raw: str | bytes | None, *, max_bytes: int = MAX_MESSAGE_BYTES) -> Any:
    """Check the size of a frame and decode its JSON (not yet validated).

    The JSON is read as REST bodies are (:func:`keyframe.http.bodies.parse_json`): the depth is
    checked by one scan before parsing, repeated keys and ``NaN`` are refused.

    Raises
    ------
    PayloadTooLarge
        Over ``max_bytes`` bytes (UTF-8).
    InvalidInput
        ``MALFORMED_JSON`` (empty, not UTF-8 or not JSON), ``BODY_TOO_DEEP`` (more than 32 levels)
        or ``DUPLICATE_KEY``.
    """
    data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else (raw or b"")
    if len(data) > max_bytes:
        raise PayloadTooLarge(
            f"The message is {len(data)} bytes; the limit is {max_bytes}",
            details={"size": len(data), "limit": max_bytes},
        )
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput("The message is not valid JSON", code="MALFORMED_JSON") from None
    return parse_json(data)


def parse_message(raw: str | bytes | None, *, max_bytes: int = MAX_MESSAGE_BYTES) -> Message:
    """Size-check, decode and validate one frame into one of the action models."""
    return validate_message(decode(raw, max_bytes=max_bytes))
