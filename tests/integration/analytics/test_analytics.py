"""Analytics events on moto: what an analyst finds in the Firehose destination (S3) after members
use a review UI (``POST /analytics/events``), sign in, and the backend records its own events.

moto's Firehose writes each ``PutRecordBatch`` as one S3 object under ``events/`` (it has no dynamic
partitioning; the partitioned layout is checked by the file sink's tests and on the local stack).
Server records come from the outbox as the stream hands them (records built from the stored outbox
items in Lambda's shape, as ``tests/integration/outbox`` does).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from keyframe import clock
from keyframe.analytics import consumer, sink
from keyframe.outbox import stream
from keyframe.outbox.records import DomainEvent, OutboxItem, outbox_pk, write
from keyframe.renders.models import RenderChunkItem, RenderJobItem, chunk_sk, job_pk, studio_jobs_key
from keyframe.renders.schemas import RenderJob
from tests.support.environment import ANALYTICS_BUCKET
from tests.support.identity import Session, add_member, login, register_studio
from tests.support.world import moto_world

LIVE_CONTRACT = False  # server events below are stored in the outbox directly, with the real shapes


@dataclass(frozen=True)
class World:
    api: Any
    admin: Session
    viewer: Session
    other: Session


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    with moto_world() as api:
        admin = register_studio(api, studio_name="Analytics Studio")
        viewer = add_member(api, admin, "VIEWER")
        other = register_studio(api, studio_name="Other Studio")
        yield World(api, admin, viewer, other)


def recorded() -> list[dict[str, Any]]:
    """Every record in the Firehose destination, in the order the objects were written."""
    s3 = boto3.client("s3")
    found: list[dict[str, Any]] = []
    listing = s3.list_objects_v2(Bucket=ANALYTICS_BUCKET, Prefix="events/").get("Contents", [])
    for entry in sorted(listing, key=lambda e: (e["LastModified"], e["Key"])):
        body = s3.get_object(Bucket=ANALYTICS_BUCKET, Key=entry["Key"])["Body"].read().decode()
        found.extend(json.loads(line) for line in body.splitlines() if line)
    return found


def by_id(ids: list[str]) -> list[dict[str, Any]]:
    wanted = set(ids)
    return [record for record in recorded() if record["id"] in wanted]


def _now(seconds: float = 0) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")


def _playback(kind: str, position: float, **extra: Any) -> dict[str, Any]:
    return {
        "type": f"playback.{kind}",
        "occurredAt": _now(-5),
        "renderJobId": "render-0001",
        "sessionId": "play-1",
        "positionSeconds": position,
        **extra,
    }


def _error(response: Any, status: int) -> dict[str, Any]:
    assert response.status == status, response.body[:500]
    return json.loads(response.body)["error"]


def test_a_viewer_s_batch_is_accepted_and_recorded_under_the_token_s_studio_and_member(world: World) -> None:
    # Given a VIEWER playing a render and opening an asset
    events = [
        _playback("started", 0.0, id="evt-client-1"),
        _playback("progress", 10.0),
        _playback("ended", 42.5, properties={"watchedSeconds": 42.5, "rendition": "720p", "muted": False}),
        {"type": "asset.viewed", "occurredAt": _now(-1), "assetId": "asset-9", "projectId": "proj-1"},
    ]
    # When the UI sends them in one batch
    response = world.api.post("/analytics/events", json={"events": events}, token=world.viewer.access_token)
    # Then the answer is 202 with one id per event, the client's own id kept
    assert response.status == 202, response.body
    body = json.loads(response.body)
    assert body["accepted"] == 4 and len(body["ids"]) == 4 and body["ids"][0] == "evt-client-1"
    # And an analyst finds the four records, filed under the viewer's studio and user (the token's)
    records = by_id(body["ids"])
    assert [r["type"] for r in records] == [
        "playback.started",
        "playback.progress",
        "playback.ended",
        "asset.viewed",
    ]
    assert {(r["studio"], r["userId"], r["source"]) for r in records} == {
        (world.viewer.studio_id, world.viewer.user_id, "client")
    }
    ended = records[2]
    assert ended["positionSeconds"] == 42.5 and ended["renderJobId"] == "render-0001"
    assert ended["properties"] == {"watchedSeconds": 42.5, "rendition": "720p", "muted": False}
    assert records[3]["assetId"] == "asset-9" and records[3]["occurredAt"].endswith("Z")


def test_a_body_cannot_choose_the_studio_or_the_member(world: World) -> None:
    # Given a member who tries to file an event under another studio and user
    event = {**_playback("started", 0.0), "studio": world.other.studio_id, "userId": "someone-else"}
    # When it is sent
    error = _error(
        world.api.post("/analytics/events", json={"events": [event]}, token=world.admin.access_token), 400
    )
    # Then it is refused, naming the event's fields
    assert error["code"] == "VALIDATION_ERROR"
    assert {f["field"] for f in error["details"]["fields"]} == {"events.0.studio", "events.0.userId"}


def test_an_unknown_type_is_refused_naming_its_index_and_nothing_of_the_batch_is_recorded(
    world: World,
) -> None:
    # Given a batch whose fourth event has a type nobody documented
    events = [_playback("progress", float(n), id=f"unknown-batch-{n}") for n in range(3)]
    events.append({"type": "playback.rewound", "occurredAt": _now(), "renderJobId": "r"})
    # When it is sent
    error = _error(
        world.api.post("/analytics/events", json={"events": events}, token=world.admin.access_token), 400
    )
    # Then the answer names events.3.type in the documented FieldError shape
    assert error["code"] == "VALIDATION_ERROR"
    field = error["details"]["fields"][0]
    assert (
        field["field"] == "events.3.type" and field["in"] == "body" and "playback.started" in field["message"]
    )
    # And none of the batch was recorded
    assert by_id([f"unknown-batch-{n}" for n in range(3)]) == []


def test_a_batch_over_100_is_refused_naming_the_first_event_too_many(world: World) -> None:
    events = [_playback("progress", float(n), id=f"big-{n}") for n in range(101)]
    error = _error(
        world.api.post("/analytics/events", json={"events": events}, token=world.admin.access_token), 400
    )
    assert error["code"] == "VALIDATION_ERROR"
    assert error["details"]["fields"] == [
        {
            "field": "events.100",
            "message": "a batch holds at most 100 events; this one has 101",
            "type": "too_long",
            "in": "body",
        }
    ]
    assert by_id(["big-0"]) == []


@pytest.mark.parametrize(
    ("event", "field"),
    [
        ({"type": "playback.started", "occurredAt": _now()}, "events.0"),  # about nothing
        ({"type": "asset.viewed", "occurredAt": _now()}, "events.0"),  # no assetId
        (
            {"type": "asset.viewed", "occurredAt": "2026-12-05T06:00:00", "assetId": "a"},
            "events.0.occurredAt",
        ),
        ({"type": "asset.viewed", "occurredAt": _now(-8 * 86400), "assetId": "a"}, "events.0.occurredAt"),
        ({"type": "asset.viewed", "occurredAt": _now(3600), "assetId": "a"}, "events.0.occurredAt"),
        ({"type": "asset.viewed", "occurredAt": _now(), "assetId": "../etc"}, "events.0.assetId"),
        ({**_playback("seeked", -1.0)}, "events.0.positionSeconds"),
        ({**_playback("seeked", 1.0), "id": "evt_0123"}, "events.0.id"),  # a server event's id
        ({**_playback("seeked", 1.0), "properties": {"x": "y" * 257}}, "events.0.properties"),
        ({**_playback("seeked", 1.0), "properties": {"nested": {"a": 1}}}, "events.0.properties"),
        ({**_playback("seeked", 1.0), "properties": {f"k{n}": n for n in range(21)}}, "events.0.properties"),
    ],
)
def test_odd_events_are_refused_naming_the_field(world: World, event: dict[str, Any], field: str) -> None:
    error = _error(
        world.api.post("/analytics/events", json={"events": [event]}, token=world.admin.access_token), 400
    )
    assert error["code"] == "VALIDATION_ERROR"
    assert field in {f["field"] for f in error["details"]["fields"]}, error


def test_an_empty_batch_and_no_token_are_refused(world: World) -> None:
    assert (
        _error(world.api.post("/analytics/events", json={"events": []}, token=world.admin.access_token), 400)[
            "details"
        ]["fields"][0]["field"]
        == "events"
    )
    assert (
        _error(world.api.post("/analytics/events", json={"events": [_playback("started", 0)]}), 401)["code"]
        == "UNAUTHENTICATED"
    )


def test_a_member_over_the_rate_limit_gets_429_with_retry_after(world: World, monkeypatch) -> None:
    from keyframe import settings

    # Given a limit of 5 events a minute per member
    monkeypatch.setenv("ANALYTICS_EVENTS_PER_MINUTE", "5")
    settings.reset()
    member = add_member(world.api, world.admin, "ARTIST")
    colleague = add_member(world.api, world.admin, "VIEWER")
    try:
        batch = {"events": [_playback("progress", float(n)) for n in range(3)]}
        # When the member sends 3 events, then 3 more in the same minute
        first = world.api.post("/analytics/events", json=batch, token=member.access_token)
        second = world.api.post("/analytics/events", json=batch, token=member.access_token)
        # And another member sends 3
        others = world.api.post("/analytics/events", json=batch, token=colleague.access_token)
    finally:
        monkeypatch.delenv("ANALYTICS_EVENTS_PER_MINUTE")
        settings.reset()
    # Then the first is accepted, the second refused whole with a wait, and the other member is not held
    assert first.status == 202 and others.status == 202
    error = _error(second, 429)
    assert error["code"] == "TOO_MANY_REQUESTS" and error["details"]["limit"] == "analytics-events-per-minute"
    assert 1 <= int(second.headers["Retry-After"]) <= 60


def test_a_sign_in_is_recorded(world: World) -> None:
    session = login(world.api, world.viewer.email)
    signed_in = [
        r for r in recorded() if r["type"] == "member:signed-in" and r["userId"] == world.viewer.user_id
    ]
    assert signed_in and signed_in[-1]["studio"] == session.studio_id
    assert signed_in[-1]["source"] == "server" and signed_in[-1]["properties"] == {"method": "password"}


# ------------------------------------------------------------------------ server events (outbox)


def _stream_batch(studio_id: str) -> dict[str, Any]:
    items = list(OutboxItem.query(outbox_pk(studio_id)))
    return {
        "Records": [
            {"eventName": "INSERT", "dynamodb": {"SequenceNumber": str(n), "NewImage": item.serialize()}}
            for n, item in enumerate(items, start=1)
        ]
    }


@pytest.fixture
def analytics_consumer() -> Iterator[None]:
    stream.register("analytics", consumer.consume)
    try:
        yield
    finally:
        stream.unregister("analytics")


def _render(status: str, **extra: Any) -> dict[str, Any]:
    return {
        "renderJobId": "rj-1",
        "assetId": "asset-1",
        "projectId": "proj-1",
        "version": 2,
        "preset": "hls",
        "status": status,
        "createdBy": "user-r",
        "startedAt": "2026-12-05T06:00:00.000Z",
        "endedAt": "2026-12-05T06:01:30.000Z" if status != "RUNNING" else None,
        **extra,
    }


def test_server_events_are_derived_from_the_outbox_with_the_event_id(
    world: World, analytics_consumer
) -> None:
    # Given a studio's stored domain events: an upload, a render running then done, a decision, a
    # comment, and a change analytics does not keep
    studio = "studio-server-events"
    stored = [
        DomainEvent.new(
            studio,
            "upload:completed",
            {
                "uploadId": "up-1",
                "assetId": "asset-1",
                "fileName": "sh020.mov",
                "size": 7340032,
                "status": "COMPLETED",
                "actorId": "user-u",
            },
        ),
        DomainEvent.new(studio, "render:status", _render("RUNNING")),
        DomainEvent.new(studio, "render:status", _render("SUCCEEDED")),
        DomainEvent.new(
            studio,
            "asset:approved",
            {
                "reviewId": "rv-1",
                "assetId": "asset-1",
                "version": 2,
                "projectId": "proj-1",
                "decision": "APPROVED",
                "reviewerId": "user-d",
                "reviewerRole": "DIRECTOR",
            },
        ),
        DomainEvent.new(
            studio,
            "asset:commented",
            {
                "commentId": "c-1",
                "assetId": "asset-1",
                "version": 2,
                "projectId": "proj-1",
                "authorId": "user-a",
                "frame": 12,
                "parentId": None,
            },
        ),
        DomainEvent.new(studio, "project:created", {"id": "proj-2"}),
    ]
    for event in stored:
        write(event)
    # When the stream hands them to the consumers
    assert stream.handle(_stream_batch(studio)) == {"batchItemFailures": []}
    # Then an analyst finds one server record per kept event, with the event's id and time
    records = {r["id"]: r for r in recorded() if r["studio"] == studio}
    upload, running, render, decision, comment, project = (records.get(e.id) for e in stored)
    assert running is None and project is None
    assert upload["type"] == "upload:completed" and upload["source"] == "server"
    assert upload["userId"] == "user-u" and upload["properties"]["bytes"] == 7340032
    assert upload["occurredAt"] == stored[0].occurred_at
    assert render["properties"] == {
        "status": "SUCCEEDED",
        "preset": "hls",
        "seconds": 90.0,
        "vcpuSeconds": 180.0,
    }
    assert render["renderJobId"] == "rj-1" and render["userId"] == "user-r"
    assert decision["properties"]["decision"] == "APPROVED" and decision["userId"] == "user-d"
    assert decision["version"] == 2
    assert comment["properties"] == {"commentId": "c-1", "frame": 12, "reply": False}


def test_a_finished_scene_render_s_record_has_the_vcpu_seconds_usage_counts(
    world: World, analytics_consumer
) -> None:
    # Given a scene render of the admin's studio that ran 150 s today: two chunks of its last
    # attempt ran 60 s and 30 s on a chunk's 2 vCPUs
    studio = world.admin.studio_id
    day = clock.now().date().isoformat()
    at = f"{day}T09:00:"
    job = RenderJobItem(
        job_pk(studio, "scene-analytics"), job_id="scene-analytics", studio_id=studio, asset_id="asset-s",
        version=1, preset="scene-frames", status="SUCCEEDED",
        lineage={"assetId": "asset-s", "version": 1, "key": "k"}, frames={"startFrame": 0, "endFrame": 20},
        created_by="user-s", created_at=f"{at}00.000Z", updated_at=f"{day}T09:02:30.000Z",
        started_at=f"{at}00.000Z", ended_at=f"{day}T09:02:30.000Z", gsi1pk=studio_jobs_key(studio),
        gsi1sk=f"{at}00.000Z#scene-analytics",
        scene={"frames": 20, "renderer": "blender"},
    )  # fmt: skip
    job.save()
    for index, (started, ended) in enumerate([("05", f"{day}T09:01:05.000Z"), ("10", f"{at}40.000Z")]):
        RenderChunkItem(
            job.pk, chunk_sk(index), index=index, frame_start=index * 10 + 1, frame_end=index * 10 + 10,
            frames=10, frames_done=10, started_at=f"{at}{started}.000Z", ended_at=ended, status="SUCCEEDED",
            updated_at=ended,
        ).save()  # fmt: skip
    # When its SUCCEEDED status is stored in the outbox and the stream hands it to analytics
    event = DomainEvent.new(studio, "render:status", RenderJob.of(job).to_json())
    write(event)
    assert stream.handle(_stream_batch(studio)) == {"batchItemFailures": []}
    # Then the analyst's record and the producer's usage figure agree: (60 + 30) x 2 vCPU-seconds
    [record] = by_id([event.id])
    usage = world.api.get(f"/studio/usage?from={day}&to={day}", token=world.admin.access_token)
    assert usage.status == 200, usage.body[:300]
    figure = json.loads(usage.body)["rendersByPreset"]["scene-frames"]
    assert record["properties"]["vcpuSeconds"] == figure["vcpuSeconds"] == 180.0
    assert record["properties"]["seconds"] == 150.0 and record["renderJobId"] == "scene-analytics"


def test_a_sink_outage_loses_nothing_the_stream_hands_the_event_again(
    world: World, analytics_consumer, monkeypatch
) -> None:
    # Given Firehose refusing every record
    studio = "studio-sink-outage"
    event = DomainEvent.new(
        studio, "upload:completed", {"uploadId": "up-2", "assetId": "a", "size": 10, "actorId": "u"}
    )
    write(event)
    real = sink._put_chunk

    def refused(stream_name: str, chunk: list[bytes]) -> None:
        raise sink.SinkError("Firehose refused 1 analytics records 3 times")

    monkeypatch.setattr(sink, "_put_chunk", refused)
    # When the stream hands the event
    failed = stream.handle(_stream_batch(studio))
    # Then the record is reported failed (the stream keeps it) and nothing is recorded
    assert failed == {"batchItemFailures": [{"itemIdentifier": "1"}]}
    assert by_id([event.id]) == []
    # When Firehose is back and the stream hands it again
    monkeypatch.setattr(sink, "_put_chunk", real)
    assert stream.handle(_stream_batch(studio)) == {"batchItemFailures": []}
    # Then the analyst finds it once
    assert [r["type"] for r in by_id([event.id])] == ["upload:completed"]


def test_records_firehose_refuses_are_sent_again(world: World, monkeypatch) -> None:
    # Given Firehose refusing the second record of a batch once
    client = sink._firehose(None)
    real = client.put_record_batch
    calls: list[int] = []

    def flaky(**kwargs: Any) -> dict[str, Any]:
        calls.append(len(kwargs["Records"]))
        if len(calls) == 1:
            return {
                "FailedPutCount": 1,
                "RequestResponses": [{"RecordId": "1"}, {"ErrorCode": "ServiceUnavailableException"}],
            }
        return real(**kwargs)

    monkeypatch.setattr(client, "put_record_batch", flaky)
    records = [
        {"id": f"retry-{n}", "studio": "s", "occurredAt": _now(), "type": "asset.viewed"} for n in range(2)
    ]
    # When both are put
    sink.put(records)
    # Then only the refused one was sent again, and both are recorded (the first once)
    assert calls == [2, 1]
    assert sorted(r["id"] for r in by_id(["retry-0", "retry-1"])) == ["retry-1"]


def test_ids_of_another_studio_are_filed_under_the_sender_s_studio(world: World) -> None:
    # Given studio B's ADMIN naming something with an id of studio A (ids are checked in shape only:
    # the route is fire-and-forget and does no catalog lookup)
    event = {"id": "cross-studio-1", "type": "asset.viewed", "occurredAt": _now(), "assetId": "asset-of-a"}
    # When B sends it
    response = world.api.post("/analytics/events", json={"events": [event]}, token=world.other.access_token)
    # Then it is accepted and filed under B's studio and member: nothing lands in studio A's records
    assert response.status == 202, response.body
    [record] = by_id(["cross-studio-1"])
    assert (record["studio"], record["userId"]) == (world.other.studio_id, world.other.user_id)
    assert record["studio"] != world.admin.studio_id


def test_the_largest_batch_allowed_fits_the_api_s_body_limit_and_is_accepted(world: World) -> None:
    # Given 100 events, each with 20 properties of 40-character keys and 256-character values
    properties = {f"k{n:02d}".ljust(40, "x"): "v" * 256 for n in range(20)}
    events = [
        {**_playback("progress", float(n), id=f"largest-{n}", sessionId="s" * 64), "properties": properties}
        for n in range(100)
    ]
    body = json.dumps({"events": events})
    assert len(body.encode()) < 1_048_576  # MAX_BODY_BYTES
    # When it is sent by a member who has sent nothing yet this minute
    member = add_member(world.api, world.admin, "VIEWER")
    response = world.api.post("/analytics/events", json={"events": events}, token=member.access_token)
    # Then all 100 are accepted and recorded whole
    assert response.status == 202, response.body[:300]
    recorded_now = by_id([f"largest-{n}" for n in range(100)])
    assert len(recorded_now) == 100 and recorded_now[0]["properties"] == properties
