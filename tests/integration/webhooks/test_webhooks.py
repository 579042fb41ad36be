"""Outbound webhooks through the API and the delivery queue (moto), to a receiver on 127.0.0.1."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import boto3
import pytest
from standardwebhooks.webhooks import Webhook

from keyframe import clock, settings
from keyframe.outbox.records import DomainEvent
from keyframe.webhooks import dispatch
from tests.integration.webhooks.receiver import Receiver
from tests.support.identity import add_member, register_studio

LIVE_CONTRACT = True


@pytest.fixture
def queue(aws, monkeypatch) -> str:
    """The delivery queue, and the local stack's settings (http to 127.0.0.1, 1 s retries)."""
    url = boto3.client("sqs").create_queue(QueueName="webhook-deliveries")["QueueUrl"]
    monkeypatch.setenv("WEBHOOK_QUEUE_URL", url)
    monkeypatch.setenv("WEBHOOK_ALLOW_LOCAL_HTTP", "true")
    monkeypatch.setenv("WEBHOOK_RETRY_BASE_SECONDS", "1")
    monkeypatch.setenv("WEBHOOK_TIMEOUT_SECONDS", "2")
    settings.reset()
    return url


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver().start()
    yield server
    server.stop()


def _messages(queue_url: str) -> list[dict[str, Any]]:
    """Every message on the queue now (delays ignored: moto's delay is honoured, so read twice)."""
    sqs = boto3.client("sqs")
    found = []
    for _ in range(3):
        answer = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
        for m in answer.get("Messages", []):
            found.append(json.loads(m["Body"]))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])
    return found


def _create(api, admin, url: str, **extra: Any) -> dict[str, Any]:
    answer = api.post("/studio/webhooks", json={"url": url, **extra}, token=admin.access_token)
    assert answer.status == 201, answer.body
    return answer.json()


def test_an_admin_manages_endpoints_and_sees_the_secret_once(api, queue, receiver):
    admin = register_studio(api)
    created = _create(api, admin, receiver.url, eventTypes=["asset:commented", "asset:approved"])
    assert created["secret"].startswith("whsec_") and created["active"] is True
    webhook_id = created["webhookId"]
    # The secret is never shown again
    listed = api.get("/studio/webhooks", token=admin.access_token).json()["items"]
    assert [w["webhookId"] for w in listed] == [webhook_id] and "secret" not in listed[0]
    one = api.get(f"/studio/webhooks/{webhook_id}", token=admin.access_token).json()
    assert "secret" not in one and one["eventTypes"] == ["asset:commented", "asset:approved"]
    # Change, rotate, delete
    patched = api.patch(f"/studio/webhooks/{webhook_id}", json={"active": False}, token=admin.access_token)
    assert patched.status == 200 and patched.json()["active"] is False
    rotated = api.post(f"/studio/webhooks/{webhook_id}/rotate-secret", token=admin.access_token).json()
    assert rotated["secret"] != created["secret"] and rotated["previousSecretExpiresAt"]
    assert api.delete(f"/studio/webhooks/{webhook_id}", token=admin.access_token).status == 204
    assert api.get(f"/studio/webhooks/{webhook_id}", token=admin.access_token).status == 404
    # And each change is in the activity log
    actions = [e["action"] for e in api.get("/activity", token=admin.access_token).json()["items"]]
    assert {"webhook:created", "webhook:updated", "webhook:secret-rotated", "webhook:deleted"} <= set(actions)


def test_only_admins_of_the_studio_reach_its_endpoints(api, queue, receiver):
    admin = register_studio(api)
    webhook_id = _create(api, admin, receiver.url)["webhookId"]
    director = add_member(api, admin, "DIRECTOR")
    assert api.get("/studio/webhooks", token=director.access_token).status == 403
    other = register_studio(api)
    assert api.get(f"/studio/webhooks/{webhook_id}", token=other.access_token).json()["error"]["code"] == (
        "WEBHOOK_NOT_FOUND"
    )
    assert api.delete(f"/studio/webhooks/{webhook_id}", token=other.access_token).status == 404


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("http://93.184.216.34/hooks", "WEBHOOK_URL_NOT_HTTPS"),
        ("https://10.0.0.8/hooks", "WEBHOOK_URL_PRIVATE"),
        ("https://169.254.169.254/latest", "WEBHOOK_URL_PRIVATE"),
    ],
)
def test_a_refused_url_is_a_400_naming_it_and_nothing_is_stored(api, queue, url, code):
    admin = register_studio(api)
    answer = api.post("/studio/webhooks", json={"url": url}, token=admin.access_token)
    assert answer.status == 400 and answer.json()["error"]["code"] == code
    assert api.get("/studio/webhooks", token=admin.access_token).json()["items"] == []


def test_the_endpoint_quota_refuses_before_storing(api, queue, receiver, monkeypatch):
    monkeypatch.setenv("WEBHOOK_ENDPOINTS_PER_STUDIO", "2")
    settings.reset()
    admin = register_studio(api)
    _create(api, admin, receiver.url)
    _create(api, admin, receiver.url)
    refused = api.post("/studio/webhooks", json={"url": receiver.url}, token=admin.access_token)
    assert refused.status == 429 and refused.json()["error"]["code"] == "WEBHOOK_ENDPOINTS_QUOTA_EXCEEDED"
    assert len(api.get("/studio/webhooks", token=admin.access_token).json()["items"]) == 2


def _event(studio_id: str, event_type: str = "asset:commented") -> DomainEvent:
    return DomainEvent.new(studio_id, event_type, {"commentId": "c1"}, rooms=["studio"], subject="comment/c1")


def test_an_event_arrives_signed_once_per_endpoint_and_again_only_on_replay(api, queue, receiver):
    # Given an endpoint for comments only
    admin = register_studio(api)
    created = _create(api, admin, receiver.url, eventTypes=["asset:commented"])
    # When the outbox hands a comment event twice (at least once) and an approval once
    event = _event(admin.studio_id)
    dispatch.consume(event)
    dispatch.consume(event)
    dispatch.consume(_event(admin.studio_id, "asset:approved"))
    messages = _messages(queue)
    assert len(messages) == 1  # one delivery, for the one wanted type
    # And the queue consumer sends it
    assert dispatch.attempt(messages[0]) == "SUCCEEDED"
    # Then the receiver got the envelope, signed; the library verifies it with the secret
    [got] = receiver.received
    payload = Webhook(created["secret"]).verify(got.body, got.headers)
    assert payload["id"] == event.id == got.headers["webhook-id"]
    assert set(payload) == {"id", "type", "studio", "occurredAt", "subject", "data"}
    # And the delivery log says so
    webhook_id = created["webhookId"]
    [delivery] = api.get(f"/studio/webhooks/{webhook_id}/deliveries", token=admin.access_token).json()[
        "items"
    ]
    assert delivery["status"] == "SUCCEEDED" and delivery["attempts"][0]["statusCode"] == 200
    # When it is replayed, Then it is sent once more, marked as a replay
    replay = f"/studio/webhooks/{webhook_id}/deliveries/{delivery['deliveryId']}/replay"
    assert api.post(replay, token=admin.access_token).status == 202
    [message] = _messages(queue)
    assert dispatch.attempt(message) == "SUCCEEDED"
    assert len(receiver.received) == 2 and receiver.received[1].headers["webhook-id"] == event.id
    [delivery] = api.get(f"/studio/webhooks/{webhook_id}/deliveries", token=admin.access_token).json()[
        "items"
    ]
    assert [a.get("replay", False) for a in delivery["attempts"]] == [False, True]


@pytest.mark.parametrize("failure", ["status", "hang", "drop"])
def test_a_failing_receiver_is_retried_with_backoff_and_the_log_says_why(api, queue, receiver, failure):
    # Given a receiver that answers 500, hangs past the timeout, or closes the connection
    receiver.status, receiver.hang_seconds, receiver.drop = {
        "status": (500, 0.0, False), "hang": (200, 3.0, False), "drop": (200, 0.0, True)
    }[failure]  # fmt: skip
    admin = register_studio(api)
    created = _create(api, admin, receiver.url)
    event = _event(admin.studio_id)
    dispatch.consume(event)
    [message] = _messages(queue)
    # When the attempt fails
    assert dispatch.attempt(message) == "RETRYING"
    # Then the delivery records it, with a next attempt 0.5-1 s later (base 1 s, jitter)
    path = f"/studio/webhooks/{created['webhookId']}/deliveries"
    [delivery] = api.get(path, token=admin.access_token).json()["items"]
    [attempt] = delivery["attempts"]
    assert delivery["status"] == "PENDING" and delivery["nextAttemptAt"]
    if failure == "status":
        assert attempt["statusCode"] == 500 and attempt["error"] == "answered 500"
    else:
        assert attempt.get("statusCode") is None and attempt["error"]
    # When the receiver recovers and the retry message comes
    receiver.status, receiver.hang_seconds, receiver.drop = 200, 0.0, False
    time.sleep(1.2)  # the retry's DelaySeconds (rounded up to 1 s)
    [retry] = _messages(queue)
    assert dispatch.attempt(retry) == "SUCCEEDED"
    [delivery] = api.get(path, token=admin.access_token).json()["items"]
    assert delivery["status"] == "SUCCEEDED" and delivery["attemptCount"] == 2
    # And every receipt carries the one event id, so a receiver that dedupes by webhook-id acts once
    # (a hung receiver may still finish the attempt that timed out)
    assert {r.headers["webhook-id"] for r in receiver.received} == {event.id}


def test_a_redirect_is_a_failed_attempt_and_its_target_is_never_contacted(api, queue, receiver):
    # Given a receiver that answers 307 to another address (in the cloud a private one would be
    # refused at creation; a redirect is only seen when delivering, so it is never followed)
    target = Receiver().start()
    try:
        receiver.status, receiver.location = 307, target.url
        admin = register_studio(api)
        created = _create(api, admin, receiver.url)
        dispatch.consume(_event(admin.studio_id))
        [message] = _messages(queue)
        # When the delivery is attempted
        assert dispatch.attempt(message) == "RETRYING"
        # Then the attempt failed with the 307 in the log, and nothing reached the redirect's target
        path = f"/studio/webhooks/{created['webhookId']}/deliveries"
        [delivery] = api.get(path, token=admin.access_token).json()["items"]
        [attempt] = delivery["attempts"]
        assert delivery["status"] == "PENDING"
        assert attempt["statusCode"] == 307 and attempt["error"] == "answered 307"
        assert len(receiver.received) == 1 and target.received == []
    finally:
        target.stop()


def test_an_endpoint_failing_for_the_whole_window_is_disabled_with_an_event_and_an_activity_entry(
    api, queue, receiver, monkeypatch
):
    receiver.status = 503
    admin = register_studio(api)
    created = _create(api, admin, receiver.url)
    dispatch.consume(_event(admin.studio_id))
    [message] = _messages(queue)
    assert dispatch.attempt(message) == "RETRYING"
    # When the next failure comes after the 24 h window
    later = clock.now() + timedelta(hours=24, seconds=1)
    monkeypatch.setattr(clock, "now", lambda: later)
    assert dispatch.attempt(message) == "FAILED"
    # Then the endpoint is off, says why, and the studio was told
    one = api.get(f"/studio/webhooks/{created['webhookId']}", token=admin.access_token).json()
    assert one["active"] is False and "failed since" in one["disabledReason"]
    monkeypatch.undo()
    actions = [e["action"] for e in api.get("/activity", token=admin.access_token).json()["items"]]
    assert "webhook:disabled" in actions
    # And no new event is sent to it (only the retry queued before it was disabled may be there)
    dispatch.consume(_event(admin.studio_id))
    assert [m for m in _messages(queue) if m["deliveryId"] != message["deliveryId"]] == []


def test_a_test_ping_is_queued_and_signed(api, queue, receiver):
    admin = register_studio(api)
    created = _create(api, admin, receiver.url)
    answer = api.post(f"/studio/webhooks/{created['webhookId']}/test", token=admin.access_token)
    assert answer.status == 202 and answer.json()["eventType"] == "webhook:ping"
    [message] = _messages(queue)
    assert dispatch.attempt(message) == "SUCCEEDED"
    payload = Webhook(created["secret"]).verify(receiver.received[0].body, receiver.received[0].headers)
    assert payload["type"] == "webhook:ping" and payload["data"] == {"webhookId": created["webhookId"]}
