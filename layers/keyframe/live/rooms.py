"""Rooms as clients name them, and the rule that a room is always inside the caller's studio.

Rooms are ``studio`` (every connection of the studio), ``project:{projectId}``,
``asset:{assetId}`` and ``user:{userId}`` (one member's own room: each of their connections joins it
on connect; their notifications go there). A room name carries no studio id: it is always read
inside the caller's studio (keys ``STUDIO#{studioId}#ROOM…``), and :func:`ensure_room` checks that
the project or asset exists there, so another studio's project or asset answers NOT_FOUND exactly
like one that does not exist; a user room is the caller's own or NOT_FOUND.
The names themselves are spelled once, in :mod:`keyframe.events.rooms`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote

from keyframe.catalog import assets, projects
from keyframe.errors import InvalidInput, NotFound
from keyframe.events.publisher import RoomCounter, room_key
from keyframe.events.rooms import STUDIO_ROOM

USER_KIND = "user"
PRESENCE_KINDS = frozenset({"project", "asset"})
"""Rooms a connection subscribes to and leaves, with presence; ``studio`` and its ``user`` room are
joined on connect and kept until it closes."""
ROOM_PATTERN = re.compile(r"^(?:studio|(?P<kind>project|asset|user):(?P<id>[A-Za-z0-9_-]{1,64}))$")
"""``studio``, ``project:{id}``, ``asset:{id}`` or ``user:{id}`` (ids of letters, digits, ``_``, ``-``)."""


@dataclass(frozen=True)
class Room:
    """A parsed room name: ``kind`` is ``studio``, ``project``, ``asset`` or ``user``; ``id`` is empty
    for studio."""

    name: str
    kind: str
    id: str


def parse_room(name: str) -> Room:
    """Parse a room name (a URL-encoded one too: ``asset%3Aabc`` is ``asset:abc``).

    Raises
    ------
    InvalidInput
        Not one of the three room forms (code ``INVALID_ROOM``).
    """
    decoded = unquote(name) if "%" in name else name
    match = ROOM_PATTERN.match(decoded)
    if not match:
        raise InvalidInput(
            "A room is 'studio', 'project:{projectId}', 'asset:{assetId}' or 'user:{userId}'",
            code="INVALID_ROOM",
            details={"room": decoded[:100]},
        )
    if decoded == STUDIO_ROOM:
        return Room(STUDIO_ROOM, STUDIO_ROOM, "")
    return Room(decoded, match["kind"], match["id"])


def ensure_room(studio_id: str, name: str, *, user_id: str) -> Room:
    """Parse ``name`` and check that the caller ``user_id`` may read it in ``studio_id``: its project
    or asset exists in the studio (catalog table), or it is the caller's own user room.

    Raises
    ------
    InvalidInput
        Malformed room name.
    NotFound
        ``NOT_FOUND``: the project or asset is not in the studio (another studio's ids land here too),
        or the user room is someone else's.
    """
    room = parse_room(name)
    if room.kind == USER_KIND and room.id != user_id:
        raise NotFound("Room not found", details={"room": room.name})
    try:
        if room.kind == "project":
            projects.load_project(studio_id, room.id)
        elif room.kind == "asset":
            assets.load_asset(studio_id, room.id)
    except NotFound as exc:
        raise NotFound("Room not found", details={"room": room.name}) from exc
    return room


def last_seq(studio_id: str, room: str) -> int:
    """The latest ``seq`` given in ``room`` of ``studio_id`` (0 when nothing was ever emitted there)."""
    try:
        return int(RoomCounter.get(room_key(studio_id, room), "COUNTER", consistent_read=True).last_seq)
    except RoomCounter.DoesNotExist:
        return 0
