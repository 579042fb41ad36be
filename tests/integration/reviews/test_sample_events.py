"""The sample events in ``events/reviews`` are answered by the real ``reviews-api`` handler.

Each sample carries the authorizer context API Gateway adds (the sample DIRECTOR of the sample
studio); once the studio is seeded (:func:`~tests.integration.live.support.seed_sample_studio`) every
one of them must succeed with the body a client expects. They run in one session, in the order a
client would send them (the seeding is the slow part).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from keyframe.local import lambdas
from keyframe.registry import REPO_ROOT
from tests.integration.live.support import SampleStudio, seed_sample_studio

SAMPLES = REPO_ROOT / "events" / "reviews"

Check = Callable[[SampleStudio, dict[str, str], dict[str, Any]], None]


def _list_comments(studio: SampleStudio, headers: dict[str, str], body: dict[str, Any]) -> None:
    # the seeded comment, with the timecode of frame 1042 (24 fps, first frame 1001)
    assert [c["commentId"] for c in body["items"]] == [studio.comment_id]
    assert body["items"][0]["timecode"] == "00:00:01:17" and body["nextCursor"] is None


def _create_comment(studio: SampleStudio, headers: dict[str, str], body: dict[str, Any]) -> None:
    # a reply at frame 1060 to the seeded comment on version 3
    assert headers["x-correlation-id"] == "sample-comment-0001"
    assert (body["assetId"], body["version"], body["authorId"]) == (studio.asset_id, 3, studio.user_id)
    assert (body["frame"], body["timecode"]) == (1060, "00:00:02:11")
    assert body["parentId"] == studio.comment_id and body["threadId"] == studio.comment_id


def _update_comment(studio: SampleStudio, headers: dict[str, str], body: dict[str, Any]) -> None:
    assert body["commentId"] == studio.comment_id
    assert (body["resolved"], body["resolvedBy"]) == (True, studio.user_id)


def _decide(studio: SampleStudio, headers: dict[str, str], body: dict[str, Any]) -> None:
    assert (body["decision"], body["note"]) == ("CHANGES_REQUESTED", "Softer rim light on the left")
    assert (body["reviewerId"], body["reviewerRole"], body["version"]) == (studio.user_id, "DIRECTOR", 3)


def _create_ticket(studio: SampleStudio, headers: dict[str, str], body: dict[str, Any]) -> None:
    assert set(body) == {"ticket", "url", "expiresAt"}
    assert body["url"].endswith(f"?ticket={body['ticket']}")


def _room_events(studio: SampleStudio, headers: dict[str, str], body: dict[str, Any]) -> None:
    # a client that saw up to seq 3 gets every later event of the asset room, in order, no gap
    assert body["room"] == f"asset:{studio.asset_id}"
    seqs = [e["seq"] for e in body["items"]]
    assert seqs and seqs == list(range(4, body["lastSeq"] + 1))
    types = [e["type"] for e in body["items"]]
    assert {"asset:commented", "comment:resolved", "asset:changes-requested"} <= set(types)
    assert (body["hasMore"], body["gap"]) == (False, False)


SESSION: list[tuple[str, int, Check]] = [
    ("list_comments", 200, _list_comments),
    ("create_comment", 201, _create_comment),
    ("update_comment", 200, _update_comment),
    ("decide", 201, _decide),
    ("create_ticket", 201, _create_ticket),
    ("room_events", 200, _room_events),
]
"""Each sample, the status it must get and what its body must show, in the order they run."""


def test_the_session_covers_every_sample() -> None:
    assert sorted(name for name, _, _ in SESSION) == sorted(p.stem for p in SAMPLES.glob("*.json"))


def test_every_sample_is_answered(aws, connections_api) -> None:
    # Given the sample studio seeded
    studio = seed_sample_studio()
    for name, status, check in SESSION:
        # When the handler answers the sample
        result = lambdas.invoke("reviews-api", studio.load(SAMPLES / f"{name}.json"))
        # Then it succeeds with the expected body
        body = json.loads(result["body"])
        assert result["statusCode"] == status, (name, body)
        headers = {k.lower(): v for k, v in (result.get("headers") or {}).items()}
        headers |= {k.lower(): v[-1] for k, v in (result.get("multiValueHeaders") or {}).items() if v}
        check(studio, headers, body)
