"""REST routes of live review: connect tickets and room catch-up (function ``reviews-api``)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path, Query

from keyframe import clock
from keyframe.http.auth import authorize
from keyframe.http.contract import answers
from keyframe.identity.permissions import Permission
from keyframe.live.schemas import RoomEvents, TicketResponse
from keyframe.live.settings import TicketSettings
from keyframe.settings import load

router = Router()

RoomName = Annotated[
    str,
    Path(
        min_length=1,
        max_length=120,
        description="studio, project:{id}, asset:{id} or user:{yourUserId} (':' may be %3A)",
    ),
]


@router.post(
    "/live/tickets",
    status_code=201,
    tags=["live"],
    summary="A single-use 60 s ticket to open the socket",
    operation_id="createLiveTicket",
    openapi_extensions=answers(),
)
def create_ticket() -> TicketResponse:
    """201 with ``{ticket, url, expiresAt}``: open ``url`` (``…/live?ticket=…``) within a minute.

    The ticket is bound to your studio, user and role and works once; access tokens never go in a URL.
    """
    from keyframe.live import tickets

    principal = authorize(Permission.LIVE_CONNECT)
    issued = tickets.issue(principal)
    base = load(TicketSettings).LIVE_WEBSOCKET_URL
    separator = "&" if "?" in base else "?"
    return TicketResponse(
        ticket=issued.ticket,
        url=f"{base}{separator}{urlencode({'ticket': issued.ticket})}",
        expires_at=clock.iso_seconds(issued.expires_at),
    )


@router.get(
    "/rooms/<room>/events",
    tags=["live"],
    summary="Catch up: a room's events after a sequence number",
    operation_id="listRoomEvents",
    openapi_extensions=answers(
        "ASSET_NOT_FOUND",
        "INVALID_ROOM",
        "NOT_FOUND",
        "PROJECT_NOT_FOUND",
    ),
)
def room_events(
    room: RoomName,
    after: Annotated[int, Query(ge=0, description="the last seq you received")] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> RoomEvents:
    """Events of the room with ``seq > after``, oldest first (kept 24 h). 404 for another studio's room
    or another member's user room."""
    from keyframe.events import publisher
    from keyframe.live import rooms

    principal = authorize(Permission.LIVE_CONNECT)
    found = rooms.ensure_room(principal.studio_id, room, user_id=principal.user_id)
    items = publisher.room_events(principal.studio_id, found.name, after=after, limit=limit + 1)
    has_more = len(items) > limit
    items = items[:limit]
    last_seq = rooms.last_seq(principal.studio_id, found.name)
    first_kept = items[0]["seq"] if items else last_seq + 1
    return RoomEvents(
        room=found.name,
        items=items,
        last_seq=last_seq,
        has_more=has_more,
        gap=first_kept > after + 1 and last_seq > after,
    )
