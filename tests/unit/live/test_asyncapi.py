"""The live API's AsyncAPI document: generated from the code's models, committed, complete."""

from __future__ import annotations

import pytest

from keyframe.live import asyncapi, contract, messages


def test_the_committed_document_matches_the_code() -> None:
    # Given the document generated from the message, event and reply models
    generated = asyncapi.render(asyncapi.generate())
    # Then the committed copy is identical (run `make openapi` after changing the live API)
    assert asyncapi.COMMITTED.read_text() == generated, "asyncapi.json drifted: run `make openapi`"


def test_every_action_the_socket_accepts_is_described_with_its_fields() -> None:
    document = asyncapi.committed()
    received = document["operations"]["receiveActions"]
    names = {ref["$ref"].rsplit("/", 1)[1] for ref in received["messages"]}
    described = {document["components"]["messages"][n]["name"] for n in names}
    # Then the socket's actions are exactly the documented ones
    assert described == set(messages.ACTIONS)
    # And a comment message lists the REST body's fields plus its target, in camelCase
    comment = document["components"]["schemas"]["CommentMessage"]
    assert {"action", "assetId", "version", "body", "frame", "timecode", "parentId", "correlationId"} <= set(
        comment["properties"]
    )
    assert {"action", "assetId", "version", "body"} <= set(comment["required"])


def test_every_event_type_has_the_envelope_and_its_data_schema() -> None:
    document = asyncapi.committed()
    envelope = document["components"]["schemas"]["Envelope"]
    # Then the envelope is {type, room, seq, ts, correlationId, data}
    assert set(envelope["properties"]) == {"type", "room", "seq", "ts", "correlationId", "data"}
    sent = {
        document["components"]["messages"][ref["$ref"].rsplit("/", 1)[1]]["name"]
        for ref in document["operations"]["sendEvents"]["messages"]
    }
    assert {spec.type for spec in contract.EVENTS} <= sent
    assert {"subscribed", "unsubscribed", "pong", "ack", "error"} <= sent
    # And a comment event's data is the REST Comment, with the author's display name
    event = document["components"]["messages"]["AssetCommentedEvent"]["payload"]["allOf"][1]
    assert event["properties"]["type"] == {"const": "asset:commented"}
    comment = document["components"]["schemas"][event["properties"]["data"]["$ref"].rsplit("/", 1)[1]]
    assert {"commentId", "authorId", "authorName", "body", "frame"} <= set(comment["properties"])


def test_a_conforming_envelope_passes_and_undeclared_fields_fail() -> None:
    envelope = {
        "type": "presence:update",
        "room": "asset:a1",
        "seq": 3,
        "ts": "2026-12-04T10:00:00Z",
        "correlationId": None,
        "data": {"userId": "u1", "presenceId": "p1", "frame": 12},
    }
    contract.check_envelope(envelope)

    with pytest.raises(AssertionError, match="not in its model"):
        contract.check_envelope({**envelope, "data": {**envelope["data"], "secret": 1}})
    with pytest.raises(AssertionError, match=r"not in keyframe\.live\.contract\.EVENTS"):
        contract.check_envelope({**envelope, "type": "presence:dance"})
