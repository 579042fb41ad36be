"""Comment request rules and the sort keys that order comments by frame, time and thread."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from keyframe.reviews.models import reply_sk, thread_of, thread_sk
from keyframe.reviews.schemas import CommentCreate, CommentUpdate, ReviewCreate


def test_timecode_is_normalised_and_frame_kept() -> None:
    body = CommentCreate.model_validate({"body": "ok", "frame": 0, "timecode": " 00:00:00:00 "})
    assert (body.frame, body.timecode) == (0, "00:00:00:00")


def test_an_empty_body_or_unknown_field_is_refused() -> None:
    with pytest.raises(ValidationError):
        CommentCreate.model_validate({"body": "   "})
    with pytest.raises(ValidationError):
        CommentCreate.model_validate({"body": "x", "authorId": "me"})


def test_a_patch_must_change_something() -> None:
    with pytest.raises(ValidationError):
        CommentUpdate.model_validate({})
    assert CommentUpdate.model_validate({"resolved": True}).resolved is True


def test_only_two_decisions_exist() -> None:
    assert ReviewCreate.model_validate({"decision": "CHANGES_REQUESTED"}).decision == "CHANGES_REQUESTED"
    with pytest.raises(ValidationError):
        ReviewCreate.model_validate({"decision": "REJECTED"})


def test_sort_keys_order_by_frame_then_time_with_replies_after_their_thread() -> None:
    # Given threads at frames 10 and 2 and one without a frame, and replies to the frame-10 thread
    t1 = "2026-01-01T00:00:01.000000Z"
    t2 = "2026-01-01T00:00:02.000000Z"
    t3 = "2026-01-01T00:00:03.000000Z"
    at_10 = thread_sk(10, t1, "a" * 32)
    at_2 = thread_sk(2, t2, "b" * 32)
    later_at_10 = thread_sk(10, t3, "c" * 32)
    no_frame = thread_sk(None, t1, "d" * 32)
    reply = reply_sk(at_10, t3, "e" * 32)
    reply_to_reply = reply_sk(thread_of(reply), "2026-01-01T00:00:04.000000Z", "f" * 32)
    # When sorted as DynamoDB sorts sort keys (by bytes)
    ordered = sorted([no_frame, later_at_10, reply_to_reply, at_2, reply, at_10])
    # Then frame 2, then frame 10 with its replies in time order, then the later frame-10 thread, then none
    assert ordered == [at_2, at_10, reply, reply_to_reply, later_at_10, no_frame]
    assert thread_of(reply_to_reply) == at_10
