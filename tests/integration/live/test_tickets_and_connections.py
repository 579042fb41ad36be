"""Connect tickets (single use, 60 s) and the connection records of $connect / $disconnect."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest

from keyframe import clock
from keyframe.live import connections
from tests.integration.live.support import WEBSOCKET_URL, Refused
from tests.support.identity import add_member, register_studio


def test_a_ticket_is_issued_to_any_member_with_a_ready_url(api, live) -> None:
    # Given a viewer (the least powerful role)
    admin = register_studio(api)
    viewer = add_member(api, admin, "VIEWER")
    # When they ask for a ticket
    response = api.post("/live/tickets", token=viewer.access_token)
    # Then they get one, valid about a minute, with the socket URL carrying it
    assert response.status == 201
    body = response.json()
    assert set(body) == {"ticket", "url", "expiresAt"}
    url = urlsplit(body["url"])
    assert body["url"].startswith(WEBSOCKET_URL + "?")
    assert parse_qs(url.query) == {"ticket": [body["ticket"]]}
    expires = datetime.fromisoformat(body["expiresAt"].replace("Z", "+00:00"))
    assert 55 <= (expires - datetime.now(UTC)).total_seconds() <= 61


def test_a_ticket_needs_an_access_token(api, live) -> None:
    assert api.post("/live/tickets").status == 401


def test_a_ticket_opens_one_socket_only(api, live) -> None:
    # Given a ticket
    admin = register_studio(api)
    ticket = live.ticket(admin)["ticket"]
    # When it is used once, the socket opens with the member's studio, user and role
    socket = live.handshake(ticket)
    assert socket.authorizer["studioId"] == admin.studio_id
    assert socket.authorizer["userId"] == admin.user_id
    assert socket.authorizer["role"] == "ADMIN"
    # And a second use is refused
    with pytest.raises(Refused):
        live.handshake(ticket)


@pytest.mark.parametrize("ticket", [None, "", "not-a-ticket", "x" * 300])
def test_a_missing_or_unknown_ticket_is_refused(api, live, ticket) -> None:
    with pytest.raises(Refused):
        live.handshake(ticket)


def test_an_expired_ticket_is_refused(api, live, monkeypatch) -> None:
    # Given a ticket issued now
    admin = register_studio(api)
    ticket = live.ticket(admin)["ticket"]

    # When it is presented 61 seconds later
    later = datetime.fromtimestamp(time.time() + 61, UTC)
    monkeypatch.setattr(clock, "now", lambda: later)
    # Then the handshake is refused
    with pytest.raises(Refused):
        live.handshake(ticket)


def test_a_member_removed_after_getting_a_ticket_cannot_connect(api, live) -> None:
    admin = register_studio(api)
    artist = add_member(api, admin, "ARTIST")
    ticket = live.ticket(artist)["ticket"]
    assert api.delete(f"/studio/members/{artist.user_id}", token=admin.access_token).status == 204
    with pytest.raises(Refused):
        live.handshake(ticket)


def test_connect_stores_the_connection_in_the_studio_room_and_disconnect_removes_it(api, live) -> None:
    # Given a director's socket
    admin = register_studio(api)
    director = add_member(api, admin, "DIRECTOR")
    socket = live.connect(director)
    # Then the connection is recorded with who it is, expiring within 2 hours, in the studio room
    record = connections.get_connection(socket.connection_id)
    assert record is not None
    assert (record.studio_id, record.user_id, record.role) == (
        director.studio_id,
        director.user_id,
        "DIRECTOR",
    )
    assert 7000 < record.ttl.timestamp() - time.time() <= 7200
    assert socket.connection_id in connections.room_connection_ids(admin.studio_id, "studio")
    assert connections.user_connection_ids(admin.studio_id, director.user_id) == [socket.connection_id]
    # When the client goes away
    socket.close()
    # Then the connection and its memberships are gone
    assert connections.get_connection(socket.connection_id) is None
    assert connections.rooms_of(socket.connection_id) == []
    assert socket.connection_id not in connections.room_connection_ids(admin.studio_id, "studio")


def test_a_second_disconnect_is_harmless(api, live) -> None:
    admin = register_studio(api)
    socket = live.connect(admin)
    socket.close()
    socket.close()
    assert connections.get_connection(socket.connection_id) is None
