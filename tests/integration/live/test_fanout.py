"""Fan-out: room delivery, studio isolation, 410 clean-up, member removal closes sockets, catch-up."""

from __future__ import annotations

from keyframe.events import publisher
from keyframe.live import connections
from tests.integration.live.support import make_version
from tests.support.identity import add_member, register_studio


def _progress(percent: int) -> dict[str, object]:
    """A ``render:progress`` event's data as the AsyncAPI contract describes it."""
    return {"renderJobId": "job-1", "assetId": "asset-1", "attempt": 1, "progress": percent, "fps": 24.0}


def _project() -> dict[str, object]:
    """A ``project:created`` event's data as the AsyncAPI contract describes it."""
    at = "2026-12-04T12:00:00Z"
    return {
        "id": "p",
        "name": "Pilot",
        "code": "PLT",
        "fps": 24.0,
        "startFrame": 1001,
        "createdBy": "u",
        "createdAt": at,
        "updatedAt": at,
    }


def test_an_event_reaches_every_connection_of_its_room_and_no_other(api, live) -> None:
    # Given 20 sockets in an asset room, one socket of the studio outside it, one of another studio
    admin = register_studio(api)
    target = make_version(admin)
    room = f"asset:{target.asset_id}"
    inside = [live.connect(admin) for _ in range(20)]
    for socket in inside:
        socket.send(action="subscribe", room=room)
    outside = live.connect(admin)
    stranger = live.connect(register_studio(api, studio_name="Other"))
    # When an event is emitted to the room
    (envelope,) = publisher.emit(admin.studio_id, "render:progress", _progress(40), rooms=[room])
    # Then each socket of the room gets it exactly once, and nobody else
    for socket in inside:
        assert socket.received("render:progress") == [envelope]
    assert outside.received("render:progress") == []
    assert stranger.received() == []


def test_studio_events_never_cross_studios(api, live) -> None:
    # Given two studios, each with a socket (both in their own "studio" room)
    first, second = register_studio(api), register_studio(api, studio_name="Other")
    mine, theirs = live.connect(first), live.connect(second)
    # When studio 1 emits to its studio room
    publisher.emit(first.studio_id, "project:created", _project(), rooms=["studio"])
    # Then only studio 1's socket receives it
    assert [e["type"] for e in mine.received()] == ["project:created"]
    assert theirs.received("project:created") == []


def test_a_gone_connection_is_removed_and_its_rooms_told(api, live, connections_api) -> None:
    # Given two sockets in an asset room, one of whose client vanished without a close frame
    admin = register_studio(api)
    target = make_version(admin)
    room = f"asset:{target.asset_id}"
    alive, dead = live.connect(admin), live.connect(admin)
    alive.send(action="subscribe", room=room)
    dead.send(action="subscribe", room=room)
    connections_api.gone.add(dead.connection_id)
    # When the next event is delivered (PostToConnection answers 410 for it)
    publisher.emit(admin.studio_id, "render:progress", _progress(10), rooms=[room])
    # Then its connection and memberships are removed
    assert connections.get_connection(dead.connection_id) is None
    assert dead.connection_id not in connections.room_connection_ids(admin.studio_id, room)
    # And the room is told it left; the live socket still gets events
    assert alive.received("render:progress")
    assert alive.received("presence:leave")[-1]["data"]["userId"] == admin.user_id


def test_removing_a_member_closes_their_sockets(api, live, connections_api) -> None:
    # Given an artist with two open sockets and the admin with one
    admin = register_studio(api)
    artist = add_member(api, admin, "ARTIST")
    artist_sockets = [live.connect(artist), live.connect(artist)]
    admin_socket = live.connect(admin)
    # When the admin removes the artist
    assert api.delete(f"/studio/members/{artist.user_id}", token=admin.access_token).status == 204
    # Then both artist sockets are closed and forgotten; they got no event after their removal
    assert sorted(connections_api.deleted) == sorted(s.connection_id for s in artist_sockets)
    for socket in artist_sockets:
        assert connections.get_connection(socket.connection_id) is None
        assert socket.received("member:removed") == []
    # And the admin's socket stays and hears about the removal
    assert admin_socket.received("member:removed")[-1]["data"]["userId"] == artist.user_id
    assert connections.get_connection(admin_socket.connection_id) is not None


def test_changing_a_role_closes_the_members_sockets(api, live, connections_api) -> None:
    admin = register_studio(api)
    artist = add_member(api, admin, "ARTIST")
    socket = live.connect(artist)
    response = api.patch(
        f"/studio/members/{artist.user_id}", json={"role": "DIRECTOR"}, token=admin.access_token
    )
    assert response.status == 200
    assert connections_api.deleted == [socket.connection_id]
    # And a new ticket carries the new role
    assert live.connect(artist).authorizer["role"] == "DIRECTOR"


def test_catch_up_returns_what_a_client_missed(api, live) -> None:
    # Given a client that saw the asset room up to some seq, then dropped
    admin = register_studio(api)
    target = make_version(admin)
    room = f"asset:{target.asset_id}"
    socket = live.connect(admin)
    last_seen = socket.send(action="subscribe", room=room)["data"]["lastSeq"]
    socket.close()
    # When three events happen while it is away
    missed = [
        publisher.emit(admin.studio_id, "render:progress", _progress(p), rooms=[room])[0]
        for p in (10, 50, 90)
    ]
    # Then the catch-up endpoint (':' URL-encoded) returns its own leave and those three, in order
    response = api.get(f"/rooms/asset%3A{target.asset_id}/events?after={last_seen}", token=admin.access_token)
    assert response.status == 200
    body = response.json()
    assert [e["type"] for e in body["items"]] == ["presence:leave"] + ["render:progress"] * 3
    assert body["items"][1:] == missed
    assert [e["seq"] for e in body["items"]] == list(range(last_seen + 1, last_seen + 5))
    assert body["room"] == room
    assert body["lastSeq"] == missed[-1]["seq"]
    assert (body["hasMore"], body["gap"]) == (False, False)
    # And paging works with limit and after
    page = api.get(f"/rooms/{room}/events?after={last_seen + 1}&limit=2", token=admin.access_token).json()
    assert page["items"] == missed[:2]
    assert page["hasMore"] is True


def test_catch_up_only_reads_rooms_of_your_studio(api, live) -> None:
    other = register_studio(api, studio_name="Other")
    foreign = make_version(other)
    publisher.emit(other.studio_id, "render:progress", _progress(1), rooms=[f"asset:{foreign.asset_id}"])
    me = register_studio(api)
    response = api.get(f"/rooms/asset%3A{foreign.asset_id}/events", token=me.access_token)
    assert response.status == 404
    assert api.get("/rooms/shot%3A1/events", token=me.access_token).status == 400
    assert api.get("/rooms/studio/events", token=me.access_token).json()["items"] == [
        e for e in publisher.room_events(me.studio_id, "studio")
    ]
    assert api.get("/rooms/studio/events").status == 401
