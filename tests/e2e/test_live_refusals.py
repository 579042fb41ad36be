"""Socket refusals over a real WebSocket on the local stack (issue 9.7): a deeply nested message gets
an ``error`` event instead of dropping the connection (it used to close with 1006), and every message
of a burst is answered."""

from __future__ import annotations

import json
import time

import pytest

from tests.e2e.conftest import BaseUrlSession, LocalStackProcess
from tests.e2e.test_live import register

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]


def test_a_deeply_nested_message_gets_an_error_event_and_the_socket_stays_open(
    local_stack: LocalStackProcess,
) -> None:
    with BaseUrlSession(local_stack.http_url) as http:
        member = register(http, "Deep Frames")
        with member.socket() as socket:
            # When a 2 KB message nested 1,000 levels deep is sent
            raw = '{"action":"ping","correlationId":"deep-1","x":' + "[" * 1000 + "]" * 1000 + "}"
            socket.ws.send(raw)
            reply = json.loads(socket.ws.recv(timeout=10))
            # Then it is refused with an error event in the one error shape
            assert reply["type"] == "error"
            assert reply["data"]["code"] == "BODY_TOO_DEEP"
            assert reply["data"]["correlationId"]
            # And the socket is still open and answering
            assert socket.send(action="ping", correlationId="after")["type"] == "pong"


def test_every_message_of_a_burst_gets_a_reply(local_stack: LocalStackProcess) -> None:
    with BaseUrlSession(local_stack.http_url) as http:
        member = register(http, "Busy Frames")
        with member.socket() as socket:
            # When 60 messages are sent as fast as the client can (some well-formed, some not)
            sent = []
            for number in range(60):
                if number % 3 == 2:
                    socket.ws.send("{not json")
                    sent.append(None)
                else:
                    socket.ws.send(json.dumps({"action": "ping", "correlationId": f"b-{number}"}))
                    sent.append(f"b-{number}")
            # Then 60 replies arrive, in order: pongs, and error events for the refused ones
            replies = []
            deadline = time.monotonic() + 60
            while len(replies) < len(sent) and time.monotonic() < deadline:
                frame = json.loads(socket.ws.recv(timeout=max(0.1, deadline - time.monotonic())))
                if "seq" not in frame:
                    replies.append(frame)
            assert len(replies) == len(sent)
            for expected, reply in zip(sent, replies, strict=True):
                if expected is None:  # refused as malformed, or throttled first (every frame counts)
                    assert reply["type"] == "error"
                    assert reply["data"]["code"] in {"MALFORMED_JSON", "TOO_MANY_REQUESTS"}
                elif reply["type"] == "error":  # throttled: still answered, in the error shape
                    assert reply["data"]["code"] == "TOO_MANY_REQUESTS"
                    assert reply["data"]["correlationId"] == expected
                else:
                    assert reply == {**reply, "type": "pong", "correlationId": expected}
