"""Events left to the outbox (the uploads API's complete): stored as always, not announced, marked."""

from __future__ import annotations

from keyframe.events import publisher
from keyframe.outbox.records import from_stream_record
from keyframe.storage.transactions import Transaction


def _stream_record(tx: Transaction) -> dict:
    [(_, put)] = tx._puts
    return {"eventName": "INSERT", "dynamodb": {"SequenceNumber": "1", "NewImage": put["Item"]}}


def test_an_event_staged_within_the_block_is_stored_marked_and_not_announced() -> None:
    tx = Transaction()
    with publisher.left_to_the_outbox():
        event = publisher.stage(tx, "s1", "upload:completed", {"uploadId": "u1"}, rooms=["studio"])
    assert len(tx) == 1 and tx._after_commit == []  # the outbox put, no inline attempt
    assert event.inline is False
    assert tx._puts[0][1]["Item"]["inline"] == {"BOOL": False}
    assert from_stream_record(_stream_record(tx)).inline is False  # the stream sees the mark


def test_outside_the_block_an_event_is_announced_after_the_commit_and_not_marked() -> None:
    tx = Transaction()
    event = publisher.stage(tx, "s1", "upload:completed", {"uploadId": "u1"}, rooms=["studio"])
    assert len(tx) == 1 and len(tx._after_commit) == 1
    assert event.inline is True and "inline" not in tx._puts[0][1]["Item"]
    assert from_stream_record(_stream_record(tx)).inline is True


def test_an_ephemeral_event_within_the_block_is_still_announced() -> None:
    tx = Transaction()
    with publisher.left_to_the_outbox():
        publisher.stage(tx, "s1", "presence:join", {"userId": "u1"}, rooms=["studio"])
    assert len(tx) == 0 and len(tx._after_commit) == 1  # no outbox for it: announced at once
