"""Socket message validation: every action, the 32 KB limit, unknown actions, bad JSON."""

from __future__ import annotations

import json

import pytest

from keyframe.errors import InvalidInput, PayloadTooLarge
from keyframe.live import messages
from keyframe.live.messages import (
    CommentMessage,
    PingMessage,
    PresenceMessage,
    ResolveMessage,
    ReviewMessage,
    SubscribeMessage,
    UnsubscribeMessage,
    parse_message,
)

VALID = [
    ({"action": "subscribe", "room": "asset:a1"}, SubscribeMessage),
    ({"action": "unsubscribe", "room": "project:p1"}, UnsubscribeMessage),
    (
        {
            "action": "comment",
            "assetId": "a1",
            "version": 2,
            "body": "Eyes pop at the cut",
            "frame": 1012,
            "timecode": "00:00:00:11",
            "parentId": "c0ffee",
            "annotation": {"shapes": [{"type": "arrow", "points": [[0, 0], [10, 10]]}]},
        },
        CommentMessage,
    ),
    ({"action": "resolve", "commentId": "c1"}, ResolveMessage),
    (
        {"action": "review", "assetId": "a1", "version": 1, "decision": "APPROVED", "note": "ship it"},
        ReviewMessage,
    ),
    ({"action": "presence", "room": "asset:a1", "frame": 12}, PresenceMessage),
    ({"action": "ping", "correlationId": "req-1"}, PingMessage),
]


@pytest.mark.parametrize(("payload", "model"), VALID, ids=[p["action"] for p, _ in VALID])
def test_every_action_parses_into_its_model(payload, model) -> None:
    # When a well-formed message of each action is parsed
    parsed = parse_message(json.dumps(payload))
    # Then it becomes that action's model
    assert isinstance(parsed, model)
    assert parsed.action == payload["action"]


def test_comment_fields_are_the_rest_body_rules() -> None:
    parsed = parse_message(
        json.dumps(
            {
                "action": "comment",
                "assetId": "a1",
                "version": 1,
                "body": "  trim me  ",
                "timecode": "00:01:00;02",
            }
        )
    )
    assert isinstance(parsed, CommentMessage)
    assert parsed.body == "trim me"
    assert parsed.timecode == "00:01:00;02"
    assert parsed.frame is None


def test_resolve_defaults_to_resolving() -> None:
    parsed = parse_message('{"action": "resolve", "commentId": "c1"}')
    assert isinstance(parsed, ResolveMessage)
    assert parsed.resolved is True


@pytest.mark.parametrize(
    "payload",
    [
        {"action": "fly"},
        {"room": "studio"},
        {"action": None},
    ],
)
def test_unknown_or_missing_action_is_refused_with_unknown_action(payload) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_message(json.dumps(payload))
    assert caught.value.code == "UNKNOWN_ACTION"
    assert "subscribe" in caught.value.details["actions"]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"action": "subscribe"}, "room"),
        ({"action": "comment", "assetId": "a1", "version": 1}, "body"),
        ({"action": "comment", "assetId": "a1", "version": 0, "body": "x"}, "version"),
        ({"action": "comment", "assetId": "a1", "version": 1, "body": "x", "frame": -1}, "frame"),
        ({"action": "comment", "assetId": "a1", "version": 1, "body": "x", "timecode": "1:2:3"}, "timecode"),
        (
            {"action": "comment", "assetId": "a1", "version": 1, "body": "x", "timecode": "00:61:00:00"},
            "timecode",
        ),
        ({"action": "comment", "assetId": "a/../b", "version": 1, "body": "x"}, "assetId"),
        ({"action": "review", "assetId": "a1", "version": 1, "decision": "MAYBE"}, "decision"),
        ({"action": "presence", "room": "asset:a1", "frame": -5}, "frame"),
        ({"action": "ping", "extra": True}, "extra"),
        ({"action": "resolve"}, "commentId"),
    ],
)
def test_invalid_fields_are_named(payload, field) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_message(json.dumps(payload))
    assert caught.value.code == "VALIDATION_ERROR"
    assert field in {d["field"] for d in caught.value.details["fields"]}


def test_an_annotation_over_16_kib_is_refused() -> None:
    big = {"shapes": [{"type": "path", "d": "M0 0 " + "L1 1 " * 3400}]}
    payload = {"action": "comment", "assetId": "a1", "version": 1, "body": "x", "annotation": big}
    raw = json.dumps(payload)
    assert len(raw) < messages.MAX_MESSAGE_BYTES  # under the frame limit, over the annotation limit
    with pytest.raises(InvalidInput) as caught:
        parse_message(raw)
    assert [d["field"] for d in caught.value.details["fields"]] == ["annotation"]


def test_a_frame_over_32_kib_is_refused_before_parsing() -> None:
    # Given a message one byte over the limit
    filler = "x" * messages.MAX_MESSAGE_BYTES
    raw = json.dumps({"action": "ping", "pad": filler})
    # Then it is refused as too large (not as an unknown field)
    with pytest.raises(PayloadTooLarge) as caught:
        parse_message(raw)
    assert caught.value.details["limit"] == 32 * 1024


def test_exactly_32_kib_is_accepted_size_wise() -> None:
    base = '{"action":"ping","correlationId":"'
    raw = base + "a" * (messages.MAX_MESSAGE_BYTES - len(base) - 2) + '"}'
    assert len(raw.encode()) == messages.MAX_MESSAGE_BYTES
    with pytest.raises(InvalidInput) as caught:  # the size passes; the 128-char id rule fails
        parse_message(raw)
    assert caught.value.code == "VALIDATION_ERROR"


@pytest.mark.parametrize("raw", ["", "not json", "{", b"\xff\xfe", None])
def test_malformed_json_is_refused(raw) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_message(raw)
    assert caught.value.code == "MALFORMED_JSON"


@pytest.mark.parametrize("raw", ["[]", "42", '"ping"'])
def test_json_that_is_not_an_object_is_refused(raw) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_message(raw)
    assert caught.value.code == "VALIDATION_ERROR"


def test_correlation_id_hint_survives_an_invalid_message() -> None:
    assert messages.correlation_id_hint({"action": "fly", "correlationId": "abc"}) == "abc"
    assert messages.correlation_id_hint({"correlationId": "x" * 200}) is None
    assert messages.correlation_id_hint(["not", "a", "dict"]) is None
