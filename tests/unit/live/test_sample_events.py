"""The sample events in ``events/live`` are valid inputs of the live handlers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from keyframe.live.messages import ACTIONS, parse_message
from keyframe.registry import REPO_ROOT

SAMPLES = REPO_ROOT / "events" / "live"


@pytest.mark.parametrize("path", sorted(SAMPLES.glob("message_*.json")), ids=lambda p: p.stem)
def test_every_sample_message_is_a_valid_action(path: Path) -> None:
    event = json.loads(path.read_text())
    message = parse_message(event["body"])
    assert path.stem == f"message_{message.action}"
    assert event["requestContext"]["eventType"] == "MESSAGE"
    assert {"studioId", "userId", "role"} <= set(event["requestContext"]["authorizer"])


def test_there_is_a_sample_for_every_action() -> None:
    assert {p.stem.removeprefix("message_") for p in SAMPLES.glob("message_*.json")} == set(ACTIONS) - {
        "unsubscribe"
    }


def test_the_authorizer_sample_carries_a_ticket_and_no_token() -> None:
    event = json.loads((SAMPLES / "authorizer.json").read_text())
    assert event["type"] == "REQUEST" and event["methodArn"].endswith("/$connect")
    assert event["queryStringParameters"]["ticket"]
    assert "Authorization" not in event["headers"]
