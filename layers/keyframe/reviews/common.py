"""What comments (:mod:`~keyframe.reviews.comments`) and decisions (:mod:`~keyframe.reviews.decisions`)
share: the version they are about, the rooms of their events, the author's display name and the
domain event committed with each change.
"""

from __future__ import annotations

from typing import Any

from keyframe.catalog import versions
from keyframe.events.rooms import STUDIO_ROOM, asset_room, project_room
from keyframe.identity.models import USER_SK, UserItem, get_or_none, user_pk
from keyframe.observability import logger
from keyframe.outbox.records import DomainEvent


def rooms_of(project_id: str, asset_id: str, *, studio: bool = False) -> list[str]:
    """The rooms of a change to ``asset_id``: the asset's and the project's (and ``studio``'s)."""
    rooms = [asset_room(asset_id), project_room(project_id)]
    return [*rooms, STUDIO_ROOM] if studio else rooms


def version_of(studio_id: str, asset_id: str, version: int) -> Any:
    """The catalog's version (NotFound when the asset or version is not in the studio)."""
    return versions.get_version(studio_id, asset_id, version)


def display_name(user_id: str) -> str | None:
    """The user's display name (one GetItem on the tenants table), kept on the comment so listings
    and live events show the author without another request; ``None`` if the account is gone."""
    user = get_or_none(UserItem, user_pk(user_id), USER_SK)
    return user.display_name if user else None


def domain_event(
    studio_id: str, event_type: str, data: dict[str, Any], rooms: list[str], *, subject: str
) -> DomainEvent:
    """A domain event of this request (its correlation id), to commit with the change."""
    return DomainEvent.new(
        studio_id, event_type, data, rooms=rooms, subject=subject, correlation_id=logger.get_correlation_id()
    )
