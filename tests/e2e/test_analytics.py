"""Analytics on the local stack: what lands in ``.keyframe/analytics/studio=<id>/date=<day>/events.jsonl``.

One cheap check of the whole path over HTTP: a VIEWER's batch (route -> file sink), and a server
event from a real upload (the upload's outbox event -> the stack's stream poller -> ``outbox-stream``
-> the analytics consumer -> the same files).
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import BaseUrlSession, LocalStackProcess
from tests.e2e.test_live import PASSWORD, invite, new_asset, register, upload_png
from tests.unit.media.samples import ffmpeg_sample

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e-features")]


def _records(local_stack: LocalStackProcess, studio_id: str) -> list[dict[str, Any]]:
    """Every record of the studio in the stack's analytics files (all days)."""
    folder = local_stack.state_dir / "analytics" / f"studio={studio_id}"
    return [
        json.loads(line)
        for path in sorted(folder.glob("date=*/events.jsonl"))
        for line in path.read_text().splitlines()
    ]


@pytest.mark.slow  # a whole upload and pipeline run
def test_a_viewer_s_batch_and_a_real_upload_land_in_the_local_analytics_files(
    local_stack: LocalStackProcess, http: BaseUrlSession, tmp_path: Path
) -> None:
    # Given a studio with a VIEWER
    admin = register(http, "Analytics Studio")
    viewer = invite(admin, "VIEWER")
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    # When the viewer's player sends a batch over HTTP
    accepted = viewer.post(
        "/analytics/events",
        {
            "events": [
                {"id": "e2e-play-1", "type": "playback.started", "occurredAt": now,
                 "assetId": "a1", "version": 1, "positionSeconds": 0},
                {"id": "e2e-view-1", "type": "asset.viewed", "occurredAt": now, "assetId": "a1"},
            ]
        },
        expect=202,
    )  # fmt: skip
    assert accepted == {"accepted": 2, "ids": ["e2e-play-1", "e2e-view-1"]}
    # Then both are in today's file of the studio, filed under the viewer
    day = now[:10]
    path = local_stack.state_dir / "analytics" / f"studio={admin.studio_id}" / f"date={day}" / "events.jsonl"
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    client = [r for r in lines if r["source"] == "client"]
    assert [(r["id"], r["type"], r["userId"]) for r in client] == [
        ("e2e-play-1", "playback.started", viewer.user_id),
        ("e2e-view-1", "asset.viewed", viewer.user_id),
    ]
    # When the admin uploads a file
    png = ffmpeg_sample("png", tmp_path / "frame_0001.png")
    _, asset_id = new_asset(admin)
    upload_id = upload_png(admin, asset_id, png)
    # Then its upload:completed server record arrives through the outbox stream, with the bytes
    deadline = time.monotonic() + 30
    uploads: list[dict[str, Any]] = []
    while not uploads and time.monotonic() < deadline:
        uploads = [r for r in _records(local_stack, admin.studio_id) if r["type"] == "upload:completed"]
        time.sleep(0.2)
    assert uploads, local_stack.log_tail()
    (upload,) = uploads
    assert upload["source"] == "server" and upload["id"].startswith("evt_")
    assert upload["userId"] == admin.user_id and upload["assetId"] == asset_id
    assert upload["properties"] == {"uploadId": upload_id, "bytes": png.stat().st_size}


def test_a_sign_in_over_http_is_recorded_in_the_local_files(
    local_stack: LocalStackProcess, http: BaseUrlSession
) -> None:
    # Given a studio's owner who signs in with their password
    email = f"analytics-{uuid.uuid4().hex[:10]}@example.com"
    body = {"studioName": "Sign-in Studio", "email": email, "password": PASSWORD, "displayName": "Ada"}
    registered = http.post("/auth/register", json=body)
    assert registered.status_code == 201, registered.text
    signed_in = http.post("/auth/login", json={"email": email, "password": PASSWORD})
    assert signed_in.status_code == 200, signed_in.text
    # Then the sign-in is a server record of the studio, for that user
    studio_id, user_id = signed_in.json()["studio"]["studioId"], signed_in.json()["user"]["userId"]
    [record] = [r for r in _records(local_stack, studio_id) if r["type"] == "member:signed-in"]
    assert (record["userId"], record["source"]) == (user_id, "server")
    assert record["properties"] == {"method": "password"}
