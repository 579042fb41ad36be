"""The outbox: an event stored with its change is delivered once the fault that stopped it clears.

The stream records are built from the stored outbox items in Lambda's shape (moto's in-process mode
does not serve DynamoDB Streams reads; the local stack's poller reads the real stream, tests/e2e).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from keyframe.events import deliverers, publisher
from keyframe.outbox import stream
from keyframe.outbox.records import DomainEvent, OutboxItem, add_to, outbox_pk
from keyframe.storage.transactions import Transaction

LIVE_CONTRACT = False  # small made-up payloads of real event types


@pytest.fixture
def sockets(aws, monkeypatch) -> Iterator[list[tuple[str, dict[str, Any]]]]:
    """What a socket deliverer received, and the rooms consumer of the stream registered."""
    monkeypatch.setattr(publisher, "INLINE_GRACE_SECONDS", 0.0)  # no inline attempt races these tests
    received: list[tuple[str, dict[str, Any]]] = []

    def deliver(studio_id: str, envelopes: list[dict[str, Any]]) -> None:
        received.extend((studio_id, envelope) for envelope in envelopes)

    deliverers.register_deliverer(deliver)
    stream.register("rooms", publisher.publish)
    try:
        yield received
    finally:
        deliverers.unregister_deliverer(deliver)
        stream.unregister("rooms")


def _stream_records(studio_id: str) -> list[dict[str, Any]]:
    """The outbox INSERTs of ``studio_id`` as DynamoDB Streams hands them to Lambda (oldest first)."""
    return [
        {"eventName": "INSERT", "dynamodb": {"SequenceNumber": str(n), "NewImage": item.serialize()}}
        for n, item in enumerate(OutboxItem.query(outbox_pk(studio_id)), start=1)
    ]


def test_room_log_failing_after_the_commit_delivers_the_event_once_the_fault_clears(sockets, monkeypatch):
    # Given the live table refuses writes right after the change committed
    real_append = publisher._append

    def broken(event, rooms):
        raise RuntimeError("live table unavailable")

    monkeypatch.setattr(publisher, "_append", broken)
    # When a change announces its event
    delivered = publisher.emit("studio-a", "project:created", {"projectId": "p1"}, rooms=["studio"])
    # Then nothing reached a socket and the room log is empty, but the event is in the outbox
    assert delivered == [] and sockets == []
    assert publisher.room_events("studio-a", "studio") == []
    [record] = _stream_records("studio-a")
    # When the fault clears and the stream hands the record to the consumer
    monkeypatch.setattr(publisher, "_append", real_append)
    assert stream.handle({"Records": [record]}) == {"batchItemFailures": []}
    # Then the socket received it with seq 1 and the room log holds it
    assert [(s, e["type"], e["seq"], e["data"]) for s, e in sockets] == [
        ("studio-a", "project:created", 1, {"projectId": "p1"})
    ]
    assert [e["seq"] for e in publisher.room_events("studio-a", "studio")] == [1]


def test_a_redelivered_record_keeps_its_seq_and_is_not_posted_twice(sockets):
    # Given an event delivered inline
    [first] = publisher.emit("studio-a", "asset:created", {"assetId": "a1"}, rooms=["studio"])
    # When the stream hands the same record afterwards (at least once), twice
    records = _stream_records("studio-a")
    stream.handle({"Records": records})
    stream.handle({"Records": records})
    # Then sockets saw it once, with the seq it got first, and the room numbers nothing twice
    assert [e["seq"] for _, e in sockets] == [first["seq"]] == [1]
    assert len(publisher.room_events("studio-a", "studio")) == 1


def test_a_consumer_crash_mid_batch_loses_nothing_and_repeats_nothing(sockets, monkeypatch):
    # Given three events stored but not yet delivered (rooms unavailable at commit time)
    real_append = publisher._append
    monkeypatch.setattr(publisher, "_append", lambda event, rooms: (_ for _ in ()).throw(OSError("down")))
    for i in range(3):
        publisher.emit("studio-a", "asset:updated", {"i": i}, rooms=["studio", "asset:a1"])
    monkeypatch.setattr(publisher, "_append", real_append)
    records = _stream_records("studio-a")
    # And a consumer that fails on the second event once
    failures = {"left": 1}

    def flaky(event: DomainEvent) -> None:
        if event.data["i"] == 1 and failures["left"]:
            failures["left"] -= 1
            raise RuntimeError("webhook queue unavailable")

    stream.register("flaky", flaky)
    try:
        # When the batch is handled: the second record is reported, the first is done
        answer = stream.handle({"Records": records})
        assert answer == {"batchItemFailures": [{"itemIdentifier": "2"}]}
        # And the stream hands the failed record and those after it again
        assert stream.handle({"Records": records[1:]}) == {"batchItemFailures": []}
    finally:
        stream.unregister("flaky")
    # Then each room got every event once, in order, numbered 1, 2, 3
    by_room: dict[str, list[tuple[int, int]]] = {}
    for _, envelope in sockets:
        by_room.setdefault(envelope["room"], []).append((envelope["seq"], envelope["data"]["i"]))
    assert by_room == {"studio": [(1, 0), (2, 1), (3, 2)], "asset:a1": [(1, 0), (2, 1), (3, 2)]}


def test_an_event_in_the_change_transaction_is_stored_with_it_or_not_at_all(aws):
    # Given a change and its event in one transaction whose condition fails
    event = DomainEvent.new("studio-a", "project:created", {"projectId": "p1"}, rooms=["studio"])
    existing = DomainEvent.new("studio-a", "project:created", {"projectId": "p0"}, rooms=["studio"])
    existing.item().save()
    tx = Transaction()
    add_to(tx, event)
    tx.put("change", existing.item(), condition=OutboxItem.pk.does_not_exist())  # already there: fails
    # When it commits, Then it is cancelled and the event is not stored either
    with pytest.raises(Exception, match="cancelled"):
        tx.commit()
    assert [r["dynamodb"]["NewImage"]["eventId"]["S"] for r in _stream_records("studio-a")] == [existing.id]


def test_an_event_envelope_is_the_webhook_payload(aws):
    event = DomainEvent.new("s1", "asset:commented", {"commentId": "c1"}, subject="comment/c1")
    assert set(event.envelope()) == {"id", "type", "studio", "occurredAt", "subject", "data"}
    assert event.envelope()["id"].startswith("evt_")


def test_presence_is_not_stored_in_the_outbox(aws):
    publisher.emit("studio-a", "presence:join", {"userId": "u"}, rooms=["asset:a1"])
    assert _stream_records("studio-a") == []


def test_a_staged_event_commits_and_is_announced_with_its_change_or_not_at_all(sockets):
    # Given a change whose condition fails, with its event staged on the same transaction
    existing = DomainEvent.new("studio-a", "project:created", {"projectId": "p0"}, rooms=["studio"])
    existing.item().save()
    tx = Transaction().put("change", existing.item(), condition=OutboxItem.pk.does_not_exist())
    publisher.stage(tx, "studio-a", "project:updated", {"projectId": "p0"}, rooms=["studio"])
    # When it commits, Then nothing is stored nor announced
    with pytest.raises(Exception, match="cancelled"):
        tx.commit()
    assert len(_stream_records("studio-a")) == 1 and sockets == []
    # Given the same with a change that succeeds
    other = DomainEvent.new("studio-b", "project:created", {"projectId": "p9"}, rooms=["studio"])
    tx = Transaction().put("change", other.item())
    staged = publisher.stage(tx, "studio-a", "project:updated", {"projectId": "p0"}, rooms=["studio"])
    assert sockets == []  # nothing announced before the commit
    tx.commit()
    # Then the event is stored and announced once, after the commit
    assert [r["dynamodb"]["NewImage"]["eventId"]["S"] for r in _stream_records("studio-a")][-1] == staged.id
    assert [(e["type"], e["seq"]) for _, e in sockets] == [("project:updated", 1)]


class _Killed(BaseException):
    """The consumer process dying mid-batch (not an exception the handler can report)."""


def test_a_consumer_process_dying_mid_batch_loses_nothing_and_numbers_nothing_twice(sockets, monkeypatch):
    # Given three events stored but not yet delivered (rooms unavailable at commit time)
    real_append = publisher._append
    monkeypatch.setattr(publisher, "_append", lambda event, rooms: (_ for _ in ()).throw(OSError("down")))
    for i in range(3):
        publisher.emit("studio-a", "asset:updated", {"i": i}, rooms=["studio"])
    monkeypatch.setattr(publisher, "_append", real_append)
    records = _stream_records("studio-a")
    # And a process that dies after the rooms got the second event, before the batch was answered
    dies = {"left": 1}

    def dying(event: DomainEvent) -> None:
        if event.data["i"] == 1 and dies["left"]:
            dies["left"] -= 1
            raise _Killed

    stream.register("dying", dying)
    try:
        with pytest.raises(_Killed):
            stream.handle({"Records": records})
        # When Lambda hands the whole batch again (no answer came back)
        assert stream.handle({"Records": records}) == {"batchItemFailures": []}
    finally:
        stream.unregister("dying")
    # Then the socket saw each event once, numbered 1, 2, 3 in order
    assert [(e["seq"], e["data"]["i"]) for _, e in sockets] == [(1, 0), (2, 1), (3, 2)]
    assert [e["seq"] for e in publisher.room_events("studio-a", "studio")] == [1, 2, 3]


def _reads_before_the_inline_commit(monkeypatch, rooms: set[str]) -> None:
    """The stream consumer's first marker read of each of ``rooms`` finds nothing (as if it read
    before the inline publisher's transaction committed); later reads see the table."""
    real_marker = publisher._marker
    stale = set(rooms)

    def read(event: DomainEvent, room: str) -> Any:
        if room in stale:
            stale.discard(room)
            return None
        return real_marker(event, room)

    monkeypatch.setattr(publisher, "_marker", read)


def test_a_consumer_that_raced_the_inline_publisher_numbers_no_room_twice(sockets, monkeypatch):
    # Given an event numbered and delivered inline in two rooms (one transaction for both)
    rooms = ["studio", "asset:a1"]
    publisher.emit("studio-a", "asset:updated", {"i": 0}, rooms=rooms)
    [record] = _stream_records("studio-a")
    # When a consumer that read the markers before that commit hands the record on
    _reads_before_the_inline_commit(monkeypatch, set(rooms))
    assert stream.handle({"Records": [record]}) == {"batchItemFailures": []}
    # Then each room holds the event once, with its inline seq, and no socket got it twice
    for room in rooms:
        assert [e["seq"] for e in publisher.room_events("studio-a", room)] == [1]
    assert [(e["room"], e["seq"]) for _, e in sockets] == [("studio", 1), ("asset:a1", 1)]


def test_a_consumer_that_raced_in_one_room_keeps_its_seq_there_and_numbers_the_other(sockets, monkeypatch):
    # Given an event the inline attempt numbered and delivered in the studio room only
    real_append = publisher._append
    monkeypatch.setattr(
        publisher, "_append", lambda event, rooms: real_append(event, [r for r in rooms if r == "studio"])
    )
    publisher.emit("studio-a", "asset:updated", {"i": 0}, rooms=["studio", "asset:a1"])
    monkeypatch.setattr(publisher, "_append", real_append)
    [record] = _stream_records("studio-a")
    # When a consumer that read the studio marker before that commit hands the record on
    _reads_before_the_inline_commit(monkeypatch, {"studio"})
    assert stream.handle({"Records": [record]}) == {"batchItemFailures": []}
    # Then the studio room keeps its one copy, the asset room gets one, and each socket post happened once
    assert [e["seq"] for e in publisher.room_events("studio-a", "studio")] == [1]
    [asset_copy] = publisher.room_events("studio-a", "asset:a1")
    assert [e["room"] for _, e in sockets] == ["studio", "asset:a1"]
    assert sockets[1][1]["seq"] == asset_copy["seq"]
