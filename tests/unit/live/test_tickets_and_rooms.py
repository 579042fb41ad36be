"""Ticket hashing, room names, and the fan-out's pure helpers."""

from __future__ import annotations

import hashlib

import pytest
from botocore.exceptions import ClientError

from keyframe.errors import InvalidInput, TooManyRequests
from keyframe.http.errors import error_body
from keyframe.identity import revocation
from keyframe.live import fanout, presence, sockets
from keyframe.live.rooms import parse_room
from keyframe.live.tickets import hash_ticket


def test_a_ticket_is_stored_as_its_sha256() -> None:
    # Given a ticket / When hashed / Then the stored form is its SHA-256 hex, never the ticket
    ticket = "s3cr3t-ticket"
    stored = hash_ticket(ticket)
    assert stored == hashlib.sha256(b"s3cr3t-ticket").hexdigest()
    assert len(stored) == 64 and ticket not in stored


def test_different_tickets_hash_differently_and_stably() -> None:
    assert hash_ticket("a") == hash_ticket("a")
    assert hash_ticket("a") != hash_ticket("b")


@pytest.mark.parametrize(
    ("name", "kind", "ident"),
    [
        ("studio", "studio", ""),
        ("project:3f2a-1", "project", "3f2a-1"),
        ("asset:abc_DEF-9", "asset", "abc_DEF-9"),
        ("asset%3Aabc", "asset", "abc"),
        ("project%3aP1", "project", "P1"),
    ],
)
def test_room_names_parse(name, kind, ident) -> None:
    room = parse_room(name)
    assert (room.kind, room.id) == (kind, ident)


@pytest.mark.parametrize(
    "name",
    ["", "studio:1", "asset:", "asset:a b", "shot:1", "asset:a:b", "STUDIO", "asset:" + "a" * 65, "x%3"],
)
def test_bad_room_names_are_refused(name) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_room(name)
    assert caught.value.code == "INVALID_ROOM"


def _client_error(code: str, status: int) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": status}}, "Op"
    )


def test_gone_is_recognised_by_code_or_status() -> None:
    assert fanout.is_gone(_client_error("GoneException", 410))
    assert fanout.is_gone(_client_error("Whatever", 410))
    assert not fanout.is_gone(_client_error("LimitExceededException", 429))


def test_identity_closes_a_members_sockets_through_every_registered_closer(monkeypatch) -> None:
    # Given the fan-out's closer and one that fails, registered the way handlers register them
    monkeypatch.setattr(revocation, "_closers", [])
    closed: list[tuple[str, str]] = []

    def broken(studio_id: str, user_id: str) -> None:
        raise RuntimeError("socket API down")

    revocation.register_socket_closer(broken)
    revocation.register_socket_closer(lambda studio_id, user_id: closed.append((studio_id, user_id)))
    # When identity closes a removed member's sockets (an explicit call, not a rule of delivery)
    revocation.close_member_sockets("s1", "u1")
    # Then every closer was asked, a failing one did not stop the others
    assert closed == [("s1", "u1")]
    # And delivery itself names no member events any more
    assert not hasattr(fanout, "MEMBER_EVENTS")


def test_presence_ids_hide_connection_ids() -> None:
    assert presence.presence_id("conn-1") == presence.presence_id("conn-1")
    assert presence.presence_id("conn-1") != presence.presence_id("conn-2")
    assert "conn" not in presence.presence_id("conn-1")


def test_error_events_carry_the_api_error_body_with_retry_after_in_details(monkeypatch) -> None:
    # Given a throttled message whose correlation id the handler has set
    monkeypatch.setattr(sockets.logger, "get_correlation_id", lambda: "corr-1")
    error = TooManyRequests("slow down", retry_after=1, details={"limit": 20})
    # When it becomes an error event
    event = sockets.error_event(error)
    # Then its data is exactly the REST error body, retryAfter inside details
    assert event == {
        "type": "error",
        "data": {
            "code": "TOO_MANY_REQUESTS",
            "message": "slow down",
            "details": {"limit": 20, "retryAfter": 1},
            "correlationId": "corr-1",
        },
    }
    assert (
        event["data"] == error_body("TOO_MANY_REQUESTS", "slow down", {"limit": 20, "retryAfter": 1})["error"]
    )


def test_an_error_event_without_details_has_no_details_but_always_a_correlation_id() -> None:
    # Given no correlation id set yet (a cold handler)
    sockets.logger.set_correlation_id(None)
    # When an error event is built
    event = sockets.error_event(InvalidInput("nope", code="INVALID_ROOM"))
    # Then it names code and message, no details, and a fresh correlation id
    assert set(event["data"]) == {"code", "message", "correlationId"}
    assert event["data"]["correlationId"]
    assert sockets.error_event(TooManyRequests("wait", retry_after=3))["data"]["details"] == {"retryAfter": 3}


def test_handlers_take_the_correlation_id_from_the_client_or_the_request() -> None:
    # Given a message event from API Gateway
    event = {"requestContext": {"requestId": "req-1", "messageId": "msg-1"}}
    # When / Then the client's id wins, else the request id, else the message id, else a new one
    assert sockets.set_correlation_id(event, "client-1") == "client-1"
    assert sockets.logger.get_correlation_id() == "client-1"
    assert sockets.set_correlation_id(event) == "req-1"
    assert sockets.set_correlation_id({"requestContext": {"messageId": "msg-1"}}) == "msg-1"
    assert sockets.set_correlation_id({}) not in {"client-1", "req-1", "msg-1", ""}
