"""Socket refusals (issue 9.7): every refused message gets an ``error`` event, never silence; depth
and size are checked before the JSON is parsed; a sustained flood closes the socket after a last
``error`` event saying why (``CONNECTION_FLOODED``, close code 1008)."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

from keyframe import clock
from keyframe.live import connections
from tests.support.identity import register_studio


def _nested(levels: int) -> str:
    """``{"action": "ping", "x": [[[…]]]}`` with ``levels`` levels of arrays (about 2 KB for 1,000)."""
    return '{"action":"ping","x":' + "[" * levels + "]" * levels + "}"


def test_deeply_nested_and_duplicate_key_messages_get_error_events_and_the_socket_stays(api, live) -> None:
    # Given an open socket
    socket = live.connect(register_studio(api))
    # When it sends JSON nested 1,000 levels deep (2 KB), 33 levels deep, and an object with a
    # repeated key
    cases = {
        "BODY_TOO_DEEP": _nested(1000),
        "DUPLICATE_KEY": '{"action":"ping","action":"ping"}',
    }
    for code, raw in cases.items():
        reply = socket.send_raw(raw)
        # Then each gets an error event in the REST error shape, with a clear code
        assert reply["type"] == "error", raw[:40]
        assert reply["data"]["code"] == code
        assert reply["data"]["message"] and reply["data"]["correlationId"]
    assert socket.send_raw(_nested(33))["data"]["code"] == "BODY_TOO_DEEP"
    assert socket.send_raw(_nested(30))["data"]["code"] == "VALIDATION_ERROR"  # deep enough to parse
    # And the connection still works
    assert socket.send(action="ping")["type"] == "pong"
    assert connections.get_connection(socket.connection_id) is not None


def test_a_sustained_flood_closes_the_socket_after_an_error_event(api, live, connections_api, monkeypatch):
    # Given a limit of 3 messages a second, 3 seconds over it close a socket, and a frozen clock
    monkeypatch.setenv("LIVE_MAX_MESSAGES_PER_SECOND", "3")
    monkeypatch.setenv("LIVE_FLOOD_SECONDS", "3")
    now = [int(time.time()) + 0.2]
    monkeypatch.setattr(clock, "now", lambda: datetime.fromtimestamp(now[0], UTC))
    admin = register_studio(api)
    socket, bystander = live.connect(admin), live.connect(admin)
    # When it sends 5 messages in each of two seconds
    replies = []
    for _ in range(2):
        replies += [socket.send(action="ping") for _ in range(5)]
        now[0] += 1
    # Then every message is answered: 3 pongs and 2 TOO_MANY_REQUESTS a second, and it stays open
    assert [r["type"] for r in replies] == (["pong"] * 3 + ["error"] * 2) * 2
    assert {r["data"]["code"] for r in replies if r["type"] == "error"} == {"TOO_MANY_REQUESTS"}
    assert socket.connection_id not in connections_api.deleted
    # When it goes on over the limit in a third second
    third = [socket.send(action="ping") for _ in range(4)]
    # Then the first refusal of that second closes it: a last error event says why, pushed to the
    # socket before DeleteConnection, and its record is gone
    assert [r["type"] for r in third] == ["pong", "pong", "pong", "error"]
    flooded = third[-1]["data"]
    assert flooded["code"] == "CONNECTION_FLOODED"
    assert flooded["details"] == {"limit": 3, "seconds": 3, "retryAfter": 1, "closeCode": 1008}
    assert "closed" in flooded["message"]
    assert connections_api.received(socket.connection_id, "error")[-1]["data"] == flooded
    assert connections_api.deleted == [socket.connection_id]
    assert connections.get_connection(socket.connection_id) is None
    # And a later message on it is still answered (closed connection), while others go on
    assert socket.send(action="ping")["data"]["code"] in {"CONNECTION_CLOSED", "TOO_MANY_REQUESTS"}
    assert bystander.send(action="ping")["type"] == "pong"


def test_a_pause_between_bursts_is_not_a_flood(api, live, connections_api, monkeypatch) -> None:
    monkeypatch.setenv("LIVE_MAX_MESSAGES_PER_SECOND", "2")
    now = [float(int(time.time()))]
    monkeypatch.setattr(clock, "now", lambda: datetime.fromtimestamp(now[0], UTC))
    socket = live.connect(register_studio(api))
    for step in (1, 2, 1, 2):  # over the limit, a quiet second in between
        for _ in range(3):
            socket.send(action="ping")
        now[0] += step
    assert connections_api.deleted == []
    assert socket.send(action="ping")["type"] == "pong"


def test_every_message_of_a_burst_gets_exactly_one_reply(api, live) -> None:
    socket = live.connect(register_studio(api))
    for number in range(40):
        socket.send_raw(json.dumps({"action": "ping", "correlationId": f"m-{number}"}))
    assert len(socket.replies) == 40
    answered = [r.get("correlationId") or r["data"].get("correlationId") for r in socket.replies]
    assert answered == [f"m-{n}" for n in range(40)]
