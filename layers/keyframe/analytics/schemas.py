"""The client events ``POST /analytics/events`` accepts (camelCase on the wire).

A batch is 1 to :data:`MAX_BATCH` events. Each event names its type from :class:`ClientEventType`
(an unknown type is a 400 naming the event's index: ``events.3.type``), when it happened
(``occurredAt``, with a time zone, at most :data:`MAX_AGE` old and :data:`MAX_SKEW` ahead of the
server's clock), optionally its own ``id`` (to deduplicate a batch sent twice) and the ids it is about,
and up to :data:`MAX_PROPERTIES` free ``properties`` (short keys, scalar values).

The studio and the member are never in the body: they come from the access token. Ids are checked
in shape only (the route does no catalog lookups: it is fire-and-forget); an id of another studio
cannot leak anything, since the record is filed under the caller's own studio.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AwareDatetime, Field, StringConstraints, field_validator, model_validator

from keyframe import clock
from keyframe.schemas import ApiModel, RequestModel

MAX_BATCH = 100
"""Events per request."""
MAX_PROPERTIES = 20
"""Keys of one event's ``properties``."""
MAX_PROPERTY_TEXT = 256
"""Characters of one string property value."""
MAX_AGE = timedelta(days=7)
"""The oldest ``occurredAt`` accepted (a client that was offline longer drops its queue)."""
MAX_SKEW = timedelta(minutes=5)
"""How far ahead of the server's clock ``occurredAt`` may be (client clocks drift)."""
MAX_POSITION_SECONDS = 7 * 24 * 3600.0
"""The largest playback position (a week of footage), as ``PUT /me/playback``."""

SERVER_ID_PREFIX = "evt_"
"""Ids of domain events (server records); a client id may not start with it, so it never shadows one."""
_ID = r"^[A-Za-z0-9_-]+$"
EntityId = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=_ID)]
"""A project, asset, version, render job or session id: 1-64 of ``A-Z a-z 0-9 _ -``."""
PropertyKey = Annotated[
    str, StringConstraints(min_length=1, max_length=40, pattern=r"^[A-Za-z][A-Za-z0-9_]*$")
]
PropertyValue = Annotated[str, StringConstraints(max_length=MAX_PROPERTY_TEXT)] | int | float | bool


class ClientEventType(StrEnum):
    """What a review UI reports (the documented enum; any other type is refused).

    ``playback.started`` / ``progress`` (a heartbeat, every 10 s or so) / ``paused`` / ``seeked``
    / ``ended`` / ``quality-changed`` (HLS rendition) / ``error``: need ``renderJobId``, or
    ``assetId`` and ``version``, and carry ``positionSeconds``. ``asset.viewed``, ``graph.viewed``,
    ``annotation.drawn`` and ``version.compared`` (with ``version``) need ``assetId``.
    ``page.viewed``: any other screen (``properties.route``: the UI's route name, not a URL).
    """

    PLAYBACK_STARTED = "playback.started"
    """Playback of a render (or of a version's preview: ``assetId`` and ``version``) began;
    ``positionSeconds`` where it began."""
    PLAYBACK_PROGRESS = "playback.progress"
    """A heartbeat while playing (every 10 s or so); ``positionSeconds`` reached."""
    PLAYBACK_PAUSED = "playback.paused"
    """The viewer paused at ``positionSeconds``."""
    PLAYBACK_SEEKED = "playback.seeked"
    """The viewer jumped to ``positionSeconds`` (``properties.fromSeconds`` where from)."""
    PLAYBACK_ENDED = "playback.ended"
    """Playback reached the end (or the viewer closed the player) at ``positionSeconds``."""
    PLAYBACK_QUALITY_CHANGED = "playback.quality-changed"
    """The player switched HLS rendition (``properties.height``, ``properties.bitrate``)."""
    PLAYBACK_ERROR = "playback.error"
    """The player failed (``properties.code``, ``properties.message``)."""
    ASSET_VIEWED = "asset.viewed"
    """An asset's page was opened (``assetId`` required)."""
    VERSION_COMPARED = "version.compared"
    """Two versions of an asset were shown side by side (``assetId``, ``version`` and
    ``properties.otherVersion``)."""
    GRAPH_VIEWED = "graph.viewed"
    """An asset's dependency graph was opened (``assetId`` required)."""
    ANNOTATION_DRAWN = "annotation.drawn"
    """The viewer drew on a frame before commenting (``assetId``; ``properties.frame``)."""
    PAGE_VIEWED = "page.viewed"
    """Any other screen of the UI (``properties.route``: the UI's route name, not a URL)."""


PLAYBACK_TYPES: frozenset[ClientEventType] = frozenset(
    t for t in ClientEventType if t.value.startswith("playback.")
)
"""Types about playing something: ``renderJobId``, or ``assetId`` with ``version``, is required."""
ASSET_TYPES: frozenset[ClientEventType] = frozenset(
    {
        ClientEventType.ASSET_VIEWED,
        ClientEventType.GRAPH_VIEWED,
        ClientEventType.ANNOTATION_DRAWN,
        ClientEventType.VERSION_COMPARED,
    }
)
"""Types about one asset: ``assetId`` is required."""


class ClientEvent(RequestModel):
    """One event a client saw happen (see the module docstring for the rules)."""

    id: EntityId | None = Field(
        default=None,
        description="your id for this event (e.g. a UUID; not starting with evt_): a batch sent twice "
        "is deduplicated by it; the server makes one when absent",
    )
    type: ClientEventType
    occurred_at: AwareDatetime = Field(
        description="when it happened, ISO-8601 with a time zone; at most 7 days old and 5 minutes ahead"
    )
    session_id: EntityId | None = Field(
        default=None, description="the client's playback or page session (groups a viewing's events)"
    )
    project_id: EntityId | None = None
    asset_id: EntityId | None = None
    version: int | None = Field(default=None, ge=1, le=1_000_000, description="the asset's version number")
    render_job_id: EntityId | None = None
    position_seconds: float | None = Field(
        default=None, ge=0, le=MAX_POSITION_SECONDS, allow_inf_nan=False,
        description="playback position in seconds from the start (playback.* types)",
    )  # fmt: skip
    properties: dict[PropertyKey, PropertyValue] = Field(
        default_factory=dict,
        max_length=MAX_PROPERTIES,
        # the document says what the validator does: keys outside the pattern are refused too
        json_schema_extra={"additionalProperties": False},
        description=f"up to {MAX_PROPERTIES} more facts: keys of letters, digits and _ (40 at most), values "
        f"strings of at most {MAX_PROPERTY_TEXT} characters, numbers or booleans",
    )

    @field_validator("id")
    @classmethod
    def _not_a_server_id(cls, value: str | None) -> str | None:
        if value is not None and value.startswith(SERVER_ID_PREFIX):
            raise ValueError(f"must not start with {SERVER_ID_PREFIX!r} (the ids of server events)")
        return value

    @field_validator("occurred_at")
    @classmethod
    def _recent(cls, value: datetime) -> datetime:
        now = clock.now()
        if value < now - MAX_AGE:
            raise ValueError("is more than 7 days old")
        if value > now + MAX_SKEW:
            raise ValueError("is more than 5 minutes in the future")
        return value

    @field_validator("properties", mode="before")
    @classmethod
    def _scalars(cls, value: Any) -> Any:
        """One clear error per bad value (``events.N.properties``, naming the key), not one per type."""
        if not isinstance(value, dict):
            return value
        for key, item in value.items():
            if isinstance(item, str):
                if len(item) > MAX_PROPERTY_TEXT:
                    raise ValueError(f"property {key!r} is longer than {MAX_PROPERTY_TEXT} characters")
            elif isinstance(item, float) and not math.isfinite(item):
                raise ValueError(f"property {key!r} is not a finite number")
            elif not isinstance(item, (int, float, bool)):
                raise ValueError(f"property {key!r} must be a string, a number or a boolean")
        return value

    @model_validator(mode="after")
    def _about_something(self) -> ClientEvent:
        if self.type in PLAYBACK_TYPES and not (self.render_job_id or (self.asset_id and self.version)):
            raise ValueError(f"{self.type.value} needs renderJobId, or assetId and version")
        if self.type in ASSET_TYPES and not self.asset_id:
            raise ValueError(f"{self.type.value} needs assetId")
        return self


class ClientEventBatch(RequestModel):
    """``POST /analytics/events``: 1 to 100 events, in the order they happened."""

    events: list[ClientEvent] = Field(
        min_length=1,
        json_schema_extra={"maxItems": MAX_BATCH},
        description=f"1 to {MAX_BATCH} events; a longer batch is refused whole (400 naming "
        f"events.{MAX_BATCH}, the first event too many)",
    )


class AcceptedEvents(ApiModel):
    """202: the events will be recorded (fire-and-forget: nothing to poll)."""

    accepted: int = Field(description="how many events of the batch were accepted (all of them)")
    ids: list[str] = Field(description="each event's id, in the batch's order (yours or the server's)")
