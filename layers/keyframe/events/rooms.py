"""Room names: the one place that spells them.

An event goes to rooms of its studio: ``studio`` (every connection of the studio),
``project:{projectId}``, ``asset:{assetId}`` and ``user:{userId}`` (one member's sockets: their
notifications). A room name carries no studio id; the publisher
keys every room by studio (``STUDIO#{studioId}#ROOM#{room}``). Producers build names with these
helpers; :mod:`keyframe.live.rooms` parses the names clients send.
"""

from __future__ import annotations

STUDIO_ROOM = "studio"
"""The room every connection of a studio is in."""


def project_room(project_id: str) -> str:
    """``project:{projectId}``."""
    return f"project:{project_id}"


def asset_room(asset_id: str) -> str:
    """``asset:{assetId}``."""
    return f"asset:{asset_id}"


def user_room(user_id: str) -> str:
    """``user:{userId}``: one member's own room (every socket of theirs joins it on connect)."""
    return f"user:{user_id}"
