"""Outbound webhooks on the local stack, to a receiver on 127.0.0.1: signed, retried, replayed.

The stack runs the whole path: a comment or a decision commits its event in the outbox, the stack's
stream poller hands it to ``outbox-stream`` (webhooks consumer: one delivery per endpoint, queued on
moto's SQS), the stack's queue poller hands the message to ``webhooks-deliver``, which signs and posts.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from standardwebhooks.webhooks import Webhook

from tests.e2e.conftest import BaseUrlSession, LocalStackProcess
from tests.e2e.test_live import invite, new_asset, register, upload_png, wait_until_ready
from tests.integration.webhooks.receiver import Receiver
from tests.unit.media.samples import ffmpeg_sample, video_clip

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e-features")]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def png(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return ffmpeg_sample("png", tmp_path_factory.mktemp("webhooks") / "frame_0001.png")


def _by_type(receiver: Receiver, secret: str, wanted: set[str], timeout: float = 60) -> dict[str, dict]:
    """Verified payloads by type, once every wanted type arrived."""
    deadline = time.monotonic() + timeout
    found: dict[str, dict] = {}
    while time.monotonic() < deadline and not wanted <= set(found):
        for got in list(receiver.received):
            payload = Webhook(secret).verify(got.body, got.headers)
            found.setdefault(payload["type"], payload)
        time.sleep(0.2)
    return found


@pytest.mark.slow  # a long scenario
def test_a_comment_and_an_approval_arrive_signed_even_after_the_receiver_was_down_and_replay_works(
    local_stack: LocalStackProcess, http: BaseUrlSession, receiver: Receiver, png: Path
) -> None:
    # Given a studio with a READY version and an endpoint for comments and approvals
    admin = register(http, "Webhook Studio")
    director = invite(admin, "DIRECTOR")
    _, asset_id = new_asset(admin)
    upload_png(admin, asset_id, png)
    assert wait_until_ready(admin, asset_id)["status"] == "READY"
    created = admin.post(
        "/studio/webhooks", {"url": receiver.url, "eventTypes": ["asset:commented", "asset:approved"]}
    )
    secret, webhook_id = created["secret"], created["webhookId"]
    # When the receiver is down (answers 503) while the director comments
    receiver.status = 503
    comment = director.post(f"/assets/{asset_id}/versions/1/comments", {"body": "Hold the blink"})
    deadline = time.monotonic() + 30
    while not receiver.received and time.monotonic() < deadline:
        time.sleep(0.2)
    assert receiver.received, "the first attempt never came"
    # And it comes back, and the director approves
    receiver.status = 200
    director.post(f"/assets/{asset_id}/versions/1/review", {"decision": "APPROVED"})
    # Then both arrive, signed, verified by the standardwebhooks library (the comment on a retry)
    found = _by_type(receiver, secret, {"asset:commented", "asset:approved"})
    assert found["asset:commented"]["data"]["commentId"] == comment["commentId"]
    assert found["asset:approved"]["data"]["reviewStatus"] == "APPROVED"
    # And the delivery log shows the failed attempt and the success (it is written once the
    # receiver's 200 is back, a moment after the receiver saw the request)
    deadline = time.monotonic() + 30
    while True:
        deliveries = admin.get(f"/studio/webhooks/{webhook_id}/deliveries")["items"]
        commented = next(d for d in deliveries if d["eventType"] == "asset:commented")
        if commented["status"] != "PENDING" or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert commented["status"] == "SUCCEEDED"
    assert commented["attempts"][0].get("statusCode") == 503
    # When the comment's delivery is replayed, Then it arrives once more with the same webhook-id
    before = len(receiver.received)
    admin.post(f"/studio/webhooks/{webhook_id}/deliveries/{commented['deliveryId']}/replay", expect=202)
    deadline = time.monotonic() + 30
    while len(receiver.received) == before and time.monotonic() < deadline:
        time.sleep(0.2)
    assert receiver.received[-1].headers["webhook-id"] == found["asset:commented"]["id"]


@pytest.mark.slow  # a render then a delivery; tests/integration/webhooks signs and delivers
def test_a_finished_render_arrives_signed(
    local_stack: LocalStackProcess, http: BaseUrlSession, receiver: Receiver, tmp_path: Path
) -> None:
    # Given a READY version of a tiny clip (1 s, 320x240, no sound) and an endpoint for render status
    admin = register(http, "Render Webhook Studio")
    _, asset_id = new_asset(admin)
    clip = video_clip(tmp_path / "tiny.mp4", seconds=1.0, size="320x240", audio=False)
    upload_png(admin, asset_id, clip, content_type="video/mp4")
    assert wait_until_ready(admin, asset_id)["status"] == "READY"
    secret = admin.post("/studio/webhooks", {"url": receiver.url, "eventTypes": ["render:status"]})["secret"]
    # When a two-frame filmstrip is rendered
    job = admin.post(
        f"/assets/{asset_id}/renders",
        {"preset": "filmstrip", "version": 1, "options": {"frames": 2}},
        expect=202,
    )
    # Then its SUCCEEDED status arrives, signed, verified by the standardwebhooks library
    deadline = time.monotonic() + 90
    finished: dict | None = None
    while finished is None and time.monotonic() < deadline:
        for got in list(receiver.received):
            payload = Webhook(secret).verify(got.body, got.headers)
            if payload["data"]["status"] in ("SUCCEEDED", "FAILED"):
                finished = payload
        time.sleep(0.2)
    assert finished is not None, [g.body[:200] for g in receiver.received]
    assert finished["type"] == "render:status" and finished["data"]["status"] == "SUCCEEDED"
    assert finished["data"]["renderJobId"] == job["renderJobId"]
    assert finished["data"]["outputs"]
