"""Ticket hashing, room names, and the fan-out's pure helpers."""

from __future__ import annotations

import hashlib

import pytest
from botocore.exceptions import ClientError

from keyframe.errors import InvalidInput, TooManyRequests
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


def test_member_events_name_the_members_whose_sockets_close() -> None:
    envelopes = [
        {"type": "member:removed", "room": "studio", "data": {"userId": "u1"}},
        {"type": "member:role-changed", "room": "studio", "data": {"userId": "u2"}},
        {"type": "member:joined", "room": "studio", "data": {"userId": "u3"}},
        {"type": "asset:commented", "room": "asset:a", "data": {"userId": "u4"}},
    ]
    assert fanout._member_ids(envelopes) == {"u1", "u2"}


def test_presence_ids_hide_connection_ids() -> None:
    assert presence.presence_id("conn-1") == presence.presence_id("conn-1")
    assert presence.presence_id("conn-1") != presence.presence_id("conn-2")
    assert "conn" not in presence.presence_id("conn-1")


def test_error_events_carry_code_message_correlation_and_retry() -> None:
    event = sockets.error_event(TooManyRequests("slow down", retry_after=1, details={"limit": 20}), "corr-1")
    assert event == {
        "type": "error",
        "data": {
            "code": "TOO_MANY_REQUESTS",
            "message": "slow down",
            "correlationId": "corr-1",
            "details": {"limit": 20},
            "retryAfter": 1,
        },
    }
