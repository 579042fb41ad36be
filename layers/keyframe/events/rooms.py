"""Room names: the one place that spells them.

An event goes to rooms of its studio: ``studio`` (every connection of the studio),
``project:{projectId}`` and ``asset:{assetId}``. A room name carries no studio id; the publisher
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
