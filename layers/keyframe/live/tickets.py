"""Single-use connect tickets: how a browser opens a socket without putting a token in a URL.

``POST /live/tickets`` (with the access token in the ``Authorization`` header) returns a random
ticket valid :data:`~keyframe.live.settings.LiveSettings.LIVE_TICKET_TTL_SECONDS` (60 s), bound to
the caller's studio, user and role. The socket connects with ``…/live?ticket=…``; the ``$connect``
authorizer consumes it with a conditional delete, so a second use (a replay from a log, a proxy, the
browser history) is refused. Only ``sha256(ticket)`` is stored.
"""

from __future__ import annotations

import hashlib
import math
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from pynamodb.exceptions import DeleteError

from keyframe import clock
from keyframe.errors import Unauthenticated
from keyframe.identity.permissions import Principal, Role
from keyframe.live.models import TICKET_SK, TicketItem, ticket_pk
from keyframe.live.settings import LiveSettings
from keyframe.settings import load

TICKET_BYTES = 32
"""Entropy of a ticket (256 bits, 43 URL-safe characters)."""


@dataclass(frozen=True)
class IssuedTicket:
    """A ticket as given to the client once (the clear text is never stored)."""

    ticket: str
    expires_at: datetime


def hash_ticket(ticket: str) -> str:
    """The stored form of a ticket: its SHA-256 as 64 lowercase hex characters.

    A ticket has 256 bits of entropy, so a plain (unsalted, fast) hash is enough: nobody can guess
    a preimage, and the table never holds a usable ticket.
    """
    return hashlib.sha256(ticket.encode("utf-8")).hexdigest()


def issue(principal: Principal) -> IssuedTicket:
    """Create a ticket for ``principal`` (live table: put ``TICKET#{hash}``).

    Returns
    -------
    IssuedTicket
        The clear ticket and its expiry (UTC, whole seconds).
    """
    settings = load(LiveSettings)
    ticket = secrets.token_urlsafe(TICKET_BYTES)
    expires = math.ceil(clock.epoch()) + settings.LIVE_TICKET_TTL_SECONDS
    TicketItem(
        ticket_pk(hash_ticket(ticket)),
        TICKET_SK,
        studio_id=principal.studio_id,
        user_id=principal.user_id,
        role=principal.role.value,
        expires_at=expires,
        ttl=datetime.fromtimestamp(expires + 60, UTC),
    ).save(condition=TicketItem.pk.does_not_exist())
    return IssuedTicket(ticket, datetime.fromtimestamp(expires, UTC))


def consume(ticket: str | None) -> Principal:
    """Check and consume ``ticket``: valid once, before its expiry (live table: get + conditional delete).

    Raises
    ------
    Unauthenticated
        Missing, malformed, unknown, expired or already used ticket.
    """
    if not ticket or len(ticket) > 256 or not ticket.isascii():
        raise Unauthenticated("A connect ticket is required")
    key = ticket_pk(hash_ticket(ticket))
    try:
        item = TicketItem.get(key, TICKET_SK, consistent_read=True)
    except TicketItem.DoesNotExist as exc:
        raise Unauthenticated("Unknown or used ticket") from exc
    try:
        # exactly one of any number of concurrent handshakes with this ticket gets past this delete
        item.delete(condition=TicketItem.pk.exists())
    except DeleteError as exc:
        if exc.cause_response_code == "ConditionalCheckFailedException":
            raise Unauthenticated("Unknown or used ticket") from exc
        raise
    if item.expires_at <= clock.epoch():
        raise Unauthenticated("The ticket has expired")
    try:
        role = Role(item.role)
    except ValueError as exc:
        raise Unauthenticated("The ticket is not valid") from exc
    return Principal(studio_id=item.studio_id, user_id=item.user_id, role=role)
