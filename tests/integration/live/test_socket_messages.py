"""Socket actions: rooms, presence, ping, bad input, throttling; the connection always stays."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import pytest

from keyframe import clock
from keyframe.live import connections
from tests.integration.live.support import make_version
from tests.support.identity import add_member, register_studio


def test_subscribing_to_an_asset_room_announces_presence_to_its_members(api, live) -> None:
    # Given a director already watching an asset, and an artist of the same studio
    admin = register_studio(api)
    target = make_version(admin)
    director = live.connect(add_member(api, admin, "DIRECTOR"))
    artist_session = add_member(api, admin, "ARTIST")
    artist = live.connect(artist_session)
    room = f"asset:{target.asset_id}"
    assert director.send(action="subscribe", room=room)["type"] == "subscribed"
    # When the artist subscribes to the asset room
    reply = artist.send(action="subscribe", room=room, correlationId="sub-1")
    # Then the artist is told the room's last seq, and the director sees the artist join
    assert reply["type"] == "subscribed"
    assert reply["correlationId"] == "sub-1"
    assert reply["data"]["room"] == room
    joins = director.received("presence:join")
    assert [j["data"]["userId"] for j in joins][-1] == artist_session.user_id
    assert reply["data"]["lastSeq"] == joins[-1]["seq"]
    assert "presenceId" in joins[-1]["data"] and artist.connection_id not in json.dumps(joins)
    # When the artist reports a frame, then leaves the room
    assert artist.send(action="presence", room=room, frame=1012)["type"] == "ack"
    assert artist.send(action="unsubscribe", room=room)["type"] == "unsubscribed"
    # Then the director sees the update and the leave, in seq order
    updates = director.received("presence:update")
    assert updates[-1]["data"] == {**joins[-1]["data"], "frame": 1012}
    leave = director.received("presence:leave")[-1]
    assert leave["data"]["userId"] == artist_session.user_id
    seqs = [e["seq"] for e in director.received() if e["room"] == room]
    assert seqs == sorted(seqs) and len(seqs) == len(set(seqs))


def test_a_project_room_of_the_studio_can_be_joined(api, live) -> None:
    admin = register_studio(api)
    target = make_version(admin)
    socket = live.connect(admin)
    reply = socket.send(action="subscribe", room=f"project:{target.project_id}")
    assert reply["type"] == "subscribed"


def test_a_room_of_another_studio_is_refused_as_not_found(api, live) -> None:
    # Given an asset and a project of studio B
    other = register_studio(api, studio_name="Other")
    foreign = make_version(other)
    # When a member of studio A subscribes to them
    member = register_studio(api)
    socket = live.connect(member)
    foreign_rooms = (f"asset:{foreign.asset_id}", f"project:{foreign.project_id}", f"user:{other.user_id}")
    for room in (*foreign_rooms, "asset:does-not-exist"):
        reply = socket.send(action="subscribe", room=room, correlationId="c-1")
        # Then each is refused as not found, and nothing was joined
        assert reply == {
            "type": "error",
            "data": {
                "code": "NOT_FOUND",
                "message": "Room not found",
                "details": {"room": room},
                "correlationId": "c-1",
            },
        }
    # (the connection is in the studio room and its member's own room only, from connect)
    assert [m.room for m in connections.rooms_of(socket.connection_id)] == [
        "studio",
        f"user:{member.user_id}",
    ]
    # And the connection stays usable
    assert socket.send(action="ping")["type"] == "pong"


def test_bad_rooms_and_rules(api, live) -> None:
    socket = live.connect(register_studio(api))
    assert socket.send(action="subscribe", room="shot:1")["data"]["code"] == "INVALID_ROOM"
    assert socket.send(action="unsubscribe", room="studio")["data"]["code"] == "INVALID_ROOM"
    assert socket.send(action="presence", room="asset:nope", frame=1)["data"]["code"] == "NOT_SUBSCRIBED"
    assert socket.send(action="subscribe", room="studio")["type"] == "subscribed"


def test_bad_input_gets_an_error_event_and_the_connection_stays(api, live) -> None:
    # Given an open socket
    socket = live.connect(register_studio(api))
    # When it sends garbage, an unknown action, an invalid message and a frame over 32 KB
    cases = {
        "MALFORMED_JSON": "{not json",
        "UNKNOWN_ACTION": json.dumps({"action": "teleport", "correlationId": "abc"}),
        "VALIDATION_ERROR": json.dumps({"action": "comment", "assetId": "a1", "version": 1}),
        "PAYLOAD_TOO_LARGE": json.dumps({"action": "ping", "pad": "x" * 33_000}),
    }
    for code, raw in cases.items():
        reply = socket.send_raw(raw)
        # Then each gets an error event whose data is the API's error body, with its code
        assert set(reply) == {"type", "data"} and reply["type"] == "error", raw[:40]
        assert reply["data"]["code"] == code
        assert reply["data"]["message"]
        assert set(reply["data"]) <= {"code", "message", "details", "correlationId"}
        assert reply["data"]["correlationId"]
    # And the client's correlation id comes back; without one, API Gateway's request id does
    assert socket.replies[1]["data"]["correlationId"] == "abc"
    assert socket.replies[0]["data"]["correlationId"] == socket.contexts[0]["requestId"]
    assert [d["field"] for d in socket.replies[2]["data"]["details"]["fields"]] == ["body"]
    # And the connection still works
    pong = socket.send(action="ping", correlationId="p-1")
    assert pong["type"] == "pong" and pong["correlationId"] == "p-1"
    assert connections.get_connection(socket.connection_id) is not None


def test_more_than_the_limit_per_second_is_throttled(api, live, monkeypatch) -> None:
    # Given a limit of 3 messages a second and a frozen clock
    monkeypatch.setenv("LIVE_MAX_MESSAGES_PER_SECOND", "3")
    now = [int(time.time()) + 0.2]
    monkeypatch.setattr(clock, "now", lambda: datetime.fromtimestamp(now[0], UTC))
    socket = live.connect(register_studio(api))
    # When 5 messages arrive within the same second
    replies = [socket.send(action="ping") for _ in range(5)]
    # Then the first 3 are answered and the rest throttled with TOO_MANY_REQUESTS
    assert [r["type"] for r in replies] == ["pong", "pong", "pong", "error", "error"]
    assert replies[3]["data"]["code"] == "TOO_MANY_REQUESTS"
    assert replies[3]["data"]["details"] == {"limit": 3, "retryAfter": 1}
    assert replies[3]["data"]["correlationId"]
    # And in the next second the connection may speak again
    now[0] += 1
    assert socket.send(action="ping")["type"] == "pong"


def test_the_throttle_counts_each_connection_apart(api, live, monkeypatch) -> None:
    monkeypatch.setenv("LIVE_MAX_MESSAGES_PER_SECOND", "1")
    frozen = datetime.fromtimestamp(int(time.time()), UTC)
    monkeypatch.setattr(clock, "now", lambda: frozen)
    admin = register_studio(api)
    first, second = live.connect(admin), live.connect(admin)
    assert first.send(action="ping")["type"] == "pong"
    assert second.send(action="ping")["type"] == "pong"
    assert first.send(action="ping")["data"]["code"] == "TOO_MANY_REQUESTS"


def test_a_message_on_a_connection_whose_record_is_gone_is_refused(api, live) -> None:
    socket = live.connect(register_studio(api))
    connections.close_connection(socket.connection_id)
    reply = socket.send(action="ping")
    assert reply["data"]["code"] == "CONNECTION_CLOSED"


@pytest.mark.parametrize("role", ["VIEWER"])
def test_a_viewer_may_watch_but_not_comment(api, live, role) -> None:
    admin = register_studio(api)
    target = make_version(admin)
    viewer = live.connect(add_member(api, admin, role))
    assert viewer.send(action="subscribe", room=f"asset:{target.asset_id}")["type"] == "subscribed"
    reply = viewer.send(action="comment", assetId=target.asset_id, version=target.version, body="hm")
    assert reply["data"]["code"] == "FORBIDDEN"
