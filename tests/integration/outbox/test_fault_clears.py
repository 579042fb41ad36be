"""Issue 13, done when: the room-log write fails after the change committed -> once the fault clears
the event still reaches sockets, webhooks AND analytics; nothing is lost, nothing doubled.

The change is stored with its event in the outbox (``publisher.emit``: the event item is written,
then the inline publish meets the broken room log). The stream records are built from the stored
outbox items in Lambda's shape and handed to the three consumers the ``outbox-stream`` function
registers (rooms, webhooks, analytics), in that order; the webhook is then sent from its queue message
as ``webhooks-deliver`` does, to a receiver on 127.0.0.1; analytics go to moto's Firehose (-> S3).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from standardwebhooks.webhooks import Webhook

from keyframe import settings
from keyframe.analytics import consumer as analytics
from keyframe.events import deliverers, publisher
from keyframe.outbox import stream
from keyframe.outbox.records import OutboxItem, outbox_pk
from keyframe.webhooks import dispatch
from tests.integration.webhooks.receiver import Receiver
from tests.support.environment import ANALYTICS_BUCKET
from tests.support.identity import register_studio

LIVE_CONTRACT = False  # the comment event is emitted directly, with the data a comment carries


@pytest.fixture
def wired(aws, monkeypatch) -> Iterator[tuple[list[dict[str, Any]], Receiver, str]]:
    """Sockets (what a deliverer received), a webhook receiver and the delivery queue's URL, with
    the consumers of ``functions/outbox_stream`` registered."""
    monkeypatch.setattr(publisher, "INLINE_GRACE_SECONDS", 0.0)
    queue = boto3.client("sqs").create_queue(QueueName="webhook-deliveries-fault")["QueueUrl"]
    monkeypatch.setenv("WEBHOOK_QUEUE_URL", queue)
    monkeypatch.setenv("WEBHOOK_ALLOW_LOCAL_HTTP", "true")
    settings.reset()
    sockets: list[dict[str, Any]] = []

    def deliver(_studio_id: str, envelopes: list[dict[str, Any]]) -> None:
        sockets.extend(envelopes)

    deliverers.register_deliverer(deliver)
    stream.register("rooms", publisher.publish)
    stream.register("webhooks", dispatch.consume)
    stream.register("analytics", analytics.consume)
    receiver = Receiver().start()
    try:
        yield sockets, receiver, queue
    finally:
        receiver.stop()
        for name in ("rooms", "webhooks", "analytics"):
            stream.unregister(name)
        deliverers.unregister_deliverer(deliver)
        settings.reset()


def _stream_records(studio_id: str) -> dict[str, Any]:
    return {
        "Records": [
            {"eventName": "INSERT", "dynamodb": {"SequenceNumber": str(n), "NewImage": item.serialize()}}
            for n, item in enumerate(OutboxItem.query(outbox_pk(studio_id)), start=1)
        ]
    }


def _queued(queue: str) -> list[dict[str, Any]]:
    sqs = boto3.client("sqs")
    found = []
    for _ in range(2):
        for m in sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", []):
            found.append(json.loads(m["Body"]))
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=m["ReceiptHandle"])
    return found


def _analytics(event_id: str) -> list[dict[str, Any]]:
    s3 = boto3.client("s3")
    found = []
    for entry in s3.list_objects_v2(Bucket=ANALYTICS_BUCKET, Prefix="events/").get("Contents", []):
        body = s3.get_object(Bucket=ANALYTICS_BUCKET, Key=entry["Key"])["Body"].read().decode()
        found.extend(r for r in map(json.loads, body.splitlines()) if r["id"] == event_id)
    return found


def test_a_room_log_fault_after_the_commit_delays_sockets_webhooks_and_analytics_and_loses_nothing(
    api, wired, monkeypatch
) -> None:
    sockets, receiver, queue = wired
    # Given a studio with an endpoint for comments
    admin = register_studio(api, studio_name="Fault Studio")
    created = api.post(
        "/studio/webhooks",
        json={"url": receiver.url, "eventTypes": ["asset:commented"]},
        token=admin.access_token,
    )
    assert created.status == 201, created.body
    secret = created.json()["secret"]
    studio_seq = max(e["seq"] for e in publisher.room_events(admin.studio_id, "studio"))
    del sockets[:]  # the registration's and the endpoint's events, delivered inline
    # And a room log (live table) that refuses every write
    real_append = publisher._append

    def broken(event: Any, rooms: list[str]) -> Any:
        raise RuntimeError("live table unavailable")

    monkeypatch.setattr(publisher, "_append", broken)
    # When a comment commits with its event
    comment = {
        "commentId": "c-fault", "assetId": "a-fault", "version": 1, "projectId": "p-fault",
        "authorId": admin.user_id, "body": "Hold the blink", "frame": 12, "parentId": None,
    }  # fmt: skip
    rooms = ["studio", "asset:a-fault"]
    assert publisher.emit(admin.studio_id, "asset:commented", comment, rooms=rooms) == []
    # And the stream hands the stored event while the fault lasts
    batch = {"Records": _stream_records(admin.studio_id)["Records"][-1:]}
    [record] = batch["Records"]
    event_id = record["dynamodb"]["NewImage"]["eventId"]["S"]
    assert stream.handle(batch) == {
        "batchItemFailures": [{"itemIdentifier": record["dynamodb"]["SequenceNumber"]}]
    }
    # Then nobody has it yet: no socket, no webhook, no analytics record, nothing in the room log
    assert sockets == [] and _queued(queue) == [] and receiver.received == []
    assert _analytics(event_id) == [] and publisher.room_events(admin.studio_id, "asset:a-fault") == []
    assert max(e["seq"] for e in publisher.room_events(admin.studio_id, "studio")) == studio_seq
    # When the fault clears and the stream hands it again (twice: at least once)
    monkeypatch.setattr(publisher, "_append", real_append)
    assert stream.handle(batch) == {"batchItemFailures": []}
    assert stream.handle(batch) == {"batchItemFailures": []}
    # Then each room's sockets got it once, numbered next in its room
    assert sorted((e["room"], e["seq"], e["type"], e["data"]["commentId"]) for e in sockets) == [
        ("asset:a-fault", 1, "asset:commented", "c-fault"),
        ("studio", studio_seq + 1, "asset:commented", "c-fault"),
    ]
    # And one webhook delivery was queued; sent, it arrives signed and verifies
    [message] = _queued(queue)
    assert dispatch.attempt(message) == "SUCCEEDED"
    [got] = receiver.received
    payload = Webhook(secret).verify(got.body, got.headers)
    assert payload["id"] == event_id and payload["type"] == "asset:commented"
    assert payload["data"]["commentId"] == "c-fault"
    # And the analyst finds the server record of the comment, with the event's id
    recorded = _analytics(event_id)
    assert recorded and {r["type"] for r in recorded} == {"asset:commented"}
    assert recorded[0]["properties"] == {"commentId": "c-fault", "frame": 12, "reply": False}
