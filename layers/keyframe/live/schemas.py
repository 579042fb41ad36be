"""Response shapes of the live REST routes."""

from __future__ import annotations

from typing import Any

from keyframe.schemas import ApiModel


class TicketResponse(ApiModel):
    """A single-use connect ticket; ``url`` is ready to open (it already carries ``?ticket=``)."""

    ticket: str
    url: str
    expires_at: str


class RoomEvents(ApiModel):
    """Events of a room after a sequence number, oldest first.

    ``lastSeq`` is the room's latest sequence number; ``hasMore`` says another call (with
    ``after`` = the last item's ``seq``) returns more; ``gap`` says some events after ``after``
    are no longer kept (24 h): reload the state instead of replaying.
    """

    room: str
    items: list[dict[str, Any]]
    last_seq: int
    has_more: bool
    gap: bool
