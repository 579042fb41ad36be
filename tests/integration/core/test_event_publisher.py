"""The one publisher: per-room sequence numbers, storage for catch-up, studio isolation."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from keyframe.events import deliverers, publisher

LIVE_CONTRACT = False  # made-up event types exercise the publisher itself (tests/integration/conftest.py)


def test_each_room_counts_its_own_sequence(aws) -> None:
    # When one event goes to two rooms and another to one of them
    first = publisher.emit("studio-a", "asset:created", {"assetId": "a1"}, rooms=["studio", "asset:a1"])
    second = publisher.emit("studio-a", "asset:updated", {"assetId": "a1"}, rooms=["studio"])
    # Then each room numbers its events 1, 2, ...
    assert [(e["room"], e["seq"]) for e in first] == [("studio", 1), ("asset:a1", 1)]
    assert second[0]["seq"] == 2
    assert set(first[0]) == {"type", "room", "seq", "ts", "correlationId", "data"}


def test_concurrent_emits_get_distinct_consecutive_seq(aws) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda i: publisher.emit("s", "t", {"i": i}, rooms=["studio"]), range(20)))
    seqs = sorted(r[0]["seq"] for r in results)
    assert seqs == list(range(1, 21))


def test_catch_up_returns_what_was_missed_and_nothing_of_other_studios(aws) -> None:
    for i in range(5):
        publisher.emit("studio-a", "comment", {"i": i}, rooms=["asset:x"])
    publisher.emit("studio-b", "comment", {"i": 99}, rooms=["asset:x"])
    missed = publisher.room_events("studio-a", "asset:x", after=2)
    assert [e["seq"] for e in missed] == [3, 4, 5]
    assert all(e["data"]["i"] != 99 for e in missed)


def test_a_failing_deliverer_never_loses_the_event(aws) -> None:
    def broken(studio_id, envelopes):
        raise RuntimeError("socket gone")

    deliverers.register_deliverer(broken)
    try:
        publisher.emit("studio-a", "x", {}, rooms=["studio"])
    finally:
        deliverers.unregister_deliverer(broken)
    assert len(publisher.room_events("studio-a", "studio")) == 1
