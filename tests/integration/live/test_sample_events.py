"""The sample events in ``events/live`` drive the real WebSocket handlers through a whole session.

Authorizer (consumes the sample ticket), ``$connect``, every sample message in the order a client
sends them, then ``$disconnect``: each must succeed once the sample studio is seeded
(:func:`~tests.integration.live.support.seed_sample_studio`).
"""

from __future__ import annotations

import json

import pytest

from keyframe import registry
from keyframe.live import connections
from keyframe.local import lambdas
from keyframe.registry import REPO_ROOT
from tests.integration.live.support import SAMPLE_STUDIO, SAMPLE_USER, seed_sample_studio

SAMPLES = REPO_ROOT / "events" / "live"
CONNECTION_ID = "L0SM9cOFvHcCIhw="
MESSAGES = ["subscribe", "presence", "comment", "resolve", "review", "ping"]
"""Every ``message_*.json``, in the order a client would send them."""


def test_the_session_covers_every_sample() -> None:
    assert {p.stem for p in SAMPLES.glob("*.json")} == {
        "authorizer",
        "connect",
        "disconnect",
        *(f"message_{m}" for m in MESSAGES),
    }


def test_the_samples_play_a_whole_session(aws, connections_api) -> None:
    # Given the sample studio, its director and the director's unused ticket
    studio = seed_sample_studio()
    # When API Gateway runs the $connect authorizer with the sample ticket
    authorizer_event = studio.load(SAMPLES / "authorizer.json")
    policy = lambdas.invoke(registry.WEBSOCKET_AUTHORIZER, authorizer_event)
    # Then it allows, with the ticket's studio, user and role
    assert policy["policyDocument"]["Statement"][0]["Effect"] == "Allow"
    assert policy["context"] == {"studioId": SAMPLE_STUDIO, "userId": SAMPLE_USER, "role": "DIRECTOR"}
    # And the ticket is spent: the same handshake again is refused
    with pytest.raises(Exception, match="Unauthorized"):
        lambdas.invoke(registry.WEBSOCKET_AUTHORIZER, authorizer_event)

    # When $connect runs, the connection is stored
    assert lambdas.invoke(registry.WEBSOCKET_ROUTES["$connect"], studio.load(SAMPLES / "connect.json")) == {
        "statusCode": 200
    }
    assert connections.get_connection(CONNECTION_ID) is not None

    # When each sample message arrives
    replies = {}
    for name in MESSAGES:
        result = lambdas.invoke(
            registry.WEBSOCKET_ROUTES["$default"], studio.load(SAMPLES / f"message_{name}.json")
        )
        assert result["statusCode"] == 200
        replies[name] = json.loads(result["body"])
    # Then each gets its reply, none an error
    assert {name: reply["type"] for name, reply in replies.items()} == {
        "subscribe": "subscribed",
        "presence": "ack",
        "comment": "ack",
        "resolve": "ack",
        "review": "ack",
        "ping": "pong",
    }
    assert replies["subscribe"]["correlationId"] == "sample-subscribe-0001"
    assert replies["subscribe"]["data"]["room"] == f"asset:{studio.asset_id}"
    comment = replies["comment"]["data"]["comment"]
    assert (comment["frame"], comment["timecode"], comment["version"]) == (1042, "00:00:01:17", 3)
    assert comment["annotation"]["shapes"][0]["type"] == "ellipse"
    resolved = replies["resolve"]["data"]["comment"]
    assert (resolved["commentId"], resolved["resolved"]) == (studio.comment_id, True)
    review = replies["review"]["data"]["review"]
    assert (review["decision"], review["reviewerRole"]) == ("APPROVED", "DIRECTOR")
    # And the socket itself heard the room's events (the comment it posted, among others)
    heard = {e["type"] for e in connections_api.received(CONNECTION_ID)}
    assert {"asset:commented", "comment:resolved", "asset:approved"} <= heard

    # When $disconnect runs, the connection is gone
    result = lambdas.invoke(
        registry.WEBSOCKET_ROUTES["$disconnect"], studio.load(SAMPLES / "disconnect.json")
    )
    assert result == {"statusCode": 200}
    assert connections.get_connection(CONNECTION_ID) is None
