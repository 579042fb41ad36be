"""The render container and the state machine's tasks against moto, with real FFmpeg on a tiny clip.

The worker (``keyframe.renders.worker.run``) is what Batch runs; here it runs in-process on the job a
real API request created, then the real task handlers finish the job as the state machine would.
"""

from __future__ import annotations

import hashlib
import signal
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
import requests

from keyframe import clock
from keyframe.events.publisher import room_events
from keyframe.media.probe import probe
from keyframe.renders import playback, playlists, service, storage, worker, worker_writes
from keyframe.renders.models import RenderStatus
from tests.integration.renders.conftest import (
    Spy,
    Target,
    invoke_task,
    make_clip,
    publish,
    set_env,
    task_event,
)
from tests.support.environment import MEDIA_BUCKET
from tests.support.identity import Session


def _request(api: Any, session: Session, asset_id: str, body: dict[str, Any]) -> dict[str, Any]:
    response = api.post(f"/assets/{asset_id}/renders", json=body, token=session.access_token)
    assert response.status == 202, response.body
    return response.json()


def _finalize(session: Session, job_id: str) -> Any:
    return invoke_task(
        "render-finalize", task_event("finalize", studioId=session.studio_id, renderJobId=job_id)
    )


def _keys(prefix: str) -> dict[str, str]:
    s3 = boto3.client("s3")
    listing = s3.list_objects_v2(Bucket=MEDIA_BUCKET, Prefix=prefix).get("Contents", [])
    return {
        o["Key"][len(prefix) :]: s3.head_object(Bucket=MEDIA_BUCKET, Key=o["Key"])["ContentType"]
        for o in listing
    }


def _expiry(url: str) -> datetime:
    """When S3 stops serving a presigned URL: its signing time ``X-Amz-Date`` + ``X-Amz-Expires``."""
    query = parse_qs(urlsplit(url).query)
    signed = datetime.strptime(query["X-Amz-Date"][0], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    return signed + timedelta(seconds=int(query["X-Amz-Expires"][0]))


def _iso(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def _playback_links(master_url: str) -> list[str]:
    """The master's URL, every variant playlist's and every segment's, as a player fetches them."""
    variants = playlists.parse_master(requests.get(master_url, timeout=10).text)
    links = [master_url]
    for variant in variants:
        links.append(variant.uri)
        links += [uri for uri, _ in playlists.segments(requests.get(variant.uri, timeout=10).text)]
    return links


def test_an_hls_render_runs_to_succeeded_and_plays_through_presigned_playlists(
    api: Any, admin: Session, target: Target, runs: Spy, tmp_path: Path
) -> None:
    # Given a QUEUED HLS job of a 2 s 720p clip
    job = _request(api, admin, target.asset_id, {"preset": "hls"})
    job_id = job["renderJobId"]
    # When the container runs it, then the state machine finalizes it
    assert worker.run(admin.studio_id, job_id, 1) == worker.EXIT_OK
    running = api.get(f"/renders/{job_id}", token=admin.access_token).json()
    assert (running["status"], running["progress"], running["tries"]) == ("RUNNING", 100, 1)
    assert _finalize(admin, job_id) == {"status": "SUCCEEDED"}
    # Then the job SUCCEEDED with two renditions under attempt-1, never above the 720p source
    done = api.get(f"/renders/{job_id}", token=admin.access_token).json()
    prefix = f"studios/{admin.studio_id}/renders/{job_id}/attempt-1/"
    assert done["status"] == "SUCCEEDED" and done["endedAt"] and done["startedAt"]
    outputs = done["outputs"]
    assert outputs["prefix"] == prefix and outputs["masterPlaylist"] == prefix + "master.m3u8"
    assert [(r["name"], r["width"], r["height"]) for r in outputs["renditions"]] == [
        ("720p", 1280, 720),
        ("480p", 854, 480),
    ]
    assert all(r["bandwidth"] > 0 for r in outputs["renditions"])
    assert done["logs"]["logStreamName"] == "keyframe-dev-render/default/0f1e2d3c4b5a69788796a5b4c3d2e1f0"
    stored = _keys(prefix)
    assert stored["master.m3u8"] == "application/vnd.apple.mpegurl"
    assert stored["720p/segment_000.ts"] == "video/mp2t"
    assert outputs["fileCount"] == len(stored)
    # And the slot is free, the events told the story, progress never went down
    assert service.active_renders(admin.studio_id) == 0
    events = room_events(admin.studio_id, f"asset:{target.asset_id}")
    statuses = [e["data"]["status"] for e in events if e["type"] == "render:status"]
    assert statuses == ["QUEUED", "RUNNING", "SUCCEEDED"]
    progress = [e["data"]["progress"] for e in events if e["type"] == "render:progress"]
    assert progress == sorted(progress) and progress[-1] == 100

    # When playback is asked for
    link = api.get(f"/renders/{job_id}/playback", token=admin.access_token).json()
    # Then the master, its variant playlists and their segments are all presigned, expiring together
    master_text = requests.get(link["url"], timeout=10).text
    variants = playlists.parse_master(master_text)
    assert len(variants) == 2 and all(v.uri.startswith("https://") for v in variants)
    variant_text = requests.get(variants[0].uri, timeout=10).text
    segments = playlists.segments(variant_text)
    assert abs(sum(duration for _, duration in segments) - 2.0) <= 0.5
    expires_at = _iso(link["expiresAt"])
    assert all(abs((_expiry(u) - expires_at).total_seconds()) <= 1 for u in _playback_links(link["url"]))
    # And a segment fetched through those links decodes
    segment = tmp_path / "segment.ts"
    segment.write_bytes(requests.get(segments[0][0], timeout=10).content)
    decoded = probe(str(segment))
    assert decoded.width == 1280 and decoded.has_audio


def test_a_review_copy_with_trim_burn_in_and_watermark_downloads_with_range(
    api: Any, admin: Session, target: Target, runs: Spy, tmp_path: Path
) -> None:
    # Given a review copy of frames [12, 36) with every burn-in and the viewer watermark
    body = {
        "preset": "review-mp4",
        "options": {
            "startFrame": 12,
            "endFrame": 36,
            "burnIn": {"frameNumber": True, "assetName": True, "version": True},
            "watermark": True,
        },
    }
    job_id = _request(api, admin, target.asset_id, body)["renderJobId"]
    # When it runs and is finalized
    assert worker.run(admin.studio_id, job_id, 1) == worker.EXIT_OK
    assert _finalize(admin, job_id) == {"status": "SUCCEEDED"}
    # Then the download link serves an attachment, byte ranges included
    link = api.get(f"/renders/{job_id}/download", token=admin.access_token).json()
    assert link["contentType"] == "video/mp4"
    whole = requests.get(link["url"], timeout=10)
    assert whole.status_code == 200
    assert "attachment" in whole.headers.get("Content-Disposition", "")
    part = requests.get(link["url"], headers={"Range": "bytes=0-99"}, timeout=10)
    assert part.status_code == 206 and len(part.content) == 100
    # And it holds exactly the 24 trimmed frames, with the index up front (faststart)
    copy = tmp_path / "review.mp4"
    copy.write_bytes(whole.content)
    info = probe(str(copy))
    assert info.frame_count == 24 and (info.width, info.height) == (1280, 720)
    assert whole.content.find(b"moov") < whole.content.find(b"mdat")
    # And an MP4 is not streamed
    assert api.get(f"/renders/{job_id}/playback", token=admin.access_token).status == 409


def test_a_filmstrip_is_one_tiled_image(api: Any, admin: Session, target: Target, runs: Spy) -> None:
    job_id = _request(api, admin, target.asset_id, {"preset": "filmstrip", "options": {"frames": 4}})[
        "renderJobId"
    ]
    assert worker.run(admin.studio_id, job_id, 1) == worker.EXIT_OK
    assert _finalize(admin, job_id) == {"status": "SUCCEEDED"}
    job = service.get_job(admin.studio_id, job_id)
    assert job.outputs is not None and job.outputs.primary.endswith("/filmstrip.jpg")
    assert [(r.width, r.height) for r in job.outputs.renditions] == [(4 * 320, 180)]
    assert api.get(f"/renders/{job_id}/download", token=admin.access_token).status == 200


def test_a_corrupt_input_fails_the_try_and_the_attempt_ends_failed_with_the_reason(
    api: Any, admin: Session, runs: Spy, clip_media: dict[str, Any]
) -> None:
    # Given a READY version whose stored bytes are not media
    broken = publish(admin, b"\x00not a video at all" * 512, clip_media)
    job_id = _request(api, admin, broken.asset_id, {"preset": "hls"})["renderJobId"]
    # When the container runs / Then it exits 2 (retried by Batch) and records why
    assert worker.run(admin.studio_id, job_id, 1) == worker.EXIT_INPUT
    assert service.load_job(admin.studio_id, job_id).last_error["code"] == "INPUT_UNREADABLE"
    # When Batch gives up and the state machine's Catch runs MarkFailed
    event = task_event("mark_failed_batch_job", studioId=admin.studio_id, renderJobId=job_id)
    assert invoke_task("render-mark-failed", event) == {"status": "FAILED"}
    # Then the job is FAILED with the worker's reason, Batch's logs, and its slot back
    failed = api.get(f"/renders/{job_id}", token=admin.access_token).json()
    assert failed["status"] == "FAILED" and failed["error"]["code"] == "INPUT_UNREADABLE"
    assert failed["logs"]["batchAttempt"] == 3 and failed["logs"]["logStreamName"].endswith("/a3")
    assert service.active_renders(admin.studio_id) == 0


def test_a_source_that_changed_since_publishing_fails_its_checksum(
    api: Any, admin: Session, target: Target, runs: Spy
) -> None:
    job_id = _request(api, admin, target.asset_id, {"preset": "filmstrip"})["renderJobId"]
    boto3.client("s3").put_object(Bucket=MEDIA_BUCKET, Key=target.key, Body=b"tampered")
    assert worker.run(admin.studio_id, job_id, 1) == worker.EXIT_INPUT
    item = service.load_job(admin.studio_id, job_id)
    assert item.last_error["code"] == "INPUT_CHECKSUM_MISMATCH"
    # And the lineage keeps the declared checksum, unverified: the tampered bytes are not recorded
    assert item.lineage["sha256"] == target.sha256 and not item.lineage.get("sha256Verified")
    # And when Batch gives up, the job ends FAILED with that reason
    event = task_event("mark_failed_batch_job", studioId=admin.studio_id, renderJobId=job_id)
    assert invoke_task("render-mark-failed", event) == {"status": "FAILED"}
    assert service.load_job(admin.studio_id, job_id).error["code"] == "INPUT_CHECKSUM_MISMATCH"


def test_the_container_does_nothing_for_a_cancelled_job(
    api: Any, admin: Session, target: Target, runs: Spy
) -> None:
    job_id = _request(api, admin, target.asset_id, {"preset": "hls"})["renderJobId"]
    assert api.delete(f"/renders/{job_id}", token=admin.access_token).status == 200
    assert worker.run(admin.studio_id, job_id, 1) == worker.EXIT_OK
    item = service.load_job(admin.studio_id, job_id)
    assert (item.state, int(item.tries), item.outputs) == (RenderStatus.CANCELLED, 0, None)
    # And the state machine's tasks leave a cancelled job cancelled, with its slot given back once
    assert _finalize(admin, job_id) == {"status": "CANCELLED"}
    event = task_event("mark_failed_batch_job", studioId=admin.studio_id, renderJobId=job_id)
    assert invoke_task("render-mark-failed", event) == {"status": "CANCELLED"}
    assert service.active_renders(admin.studio_id) == 0


def test_a_cancel_during_the_render_kills_ffmpeg_and_removes_outputs(
    api: Any, admin: Session, runs: Spy, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Given a running render of a 10 s clip whose first progress update finds the job cancelled
    long_clip = make_clip(tmp_path / "long.mp4", size="640x360", seconds=10.0)
    source = publish(admin, long_clip.read_bytes(), probe(str(long_clip)).model_dump(by_alias=True))
    job_id = _request(api, admin, source.asset_id, {"preset": "hls"})["renderJobId"]
    uploads: list[Any] = []

    def no_upload(*args: Any) -> tuple[int, int]:
        uploads.append(args)
        return 0, 0

    monkeypatch.setattr(storage, "upload_folder", no_upload)
    report = worker_writes.report_progress
    seen: list[subprocess.Popen[str]] = []

    def cancel_then_report(studio_id: str, job: str, attempt: int, update: Any) -> bool:
        api.delete(f"/renders/{job}", token=admin.access_token)
        return report(studio_id, job, attempt, update)

    monkeypatch.setattr(worker_writes, "report_progress", cancel_then_report)
    original_run = worker.FfmpegRun.run

    def remember(self: worker.FfmpegRun) -> None:
        try:
            original_run(self)
        finally:
            if self.process is not None:
                seen.append(self.process)

    monkeypatch.setattr(worker.FfmpegRun, "run", remember)
    # When the container runs
    code = worker.run(admin.studio_id, job_id, 1)
    # Then it stopped cleanly: FFmpeg was killed mid-run, nothing was uploaded, the job stays CANCELLED
    assert code == worker.EXIT_OK
    assert seen and seen[0].returncode == -signal.SIGKILL
    assert uploads == []
    assert _keys(f"studios/{admin.studio_id}/renders/{job_id}/") == {}
    assert service.load_job(admin.studio_id, job_id).state is RenderStatus.CANCELLED


def test_a_container_without_drawtext_refuses_burn_in_without_retrying(
    api: Any, admin: Session, target: Target, runs: Spy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(worker, "drawtext_available", lambda ffmpeg, font="": False)
    body = {"preset": "review-mp4", "options": {"burnIn": {"frameNumber": True}}}
    job_id = _request(api, admin, target.asset_id, body)["renderJobId"]
    assert worker.run(admin.studio_id, job_id, 1) == worker.EXIT_FATAL
    assert service.load_job(admin.studio_id, job_id).last_error["code"] == "UNSUPPORTED_OPTION"


def test_finalize_without_outputs_fails_the_job(api: Any, admin: Session, target: Target, runs: Spy) -> None:
    job_id = _request(api, admin, target.asset_id, {"preset": "hls"})["renderJobId"]
    worker_writes.begin_try(admin.studio_id, job_id, 1, batch_job_id="b-1", batch_attempt=1)
    assert _finalize(admin, job_id) == {"status": "FAILED"}
    assert service.load_job(admin.studio_id, job_id).error["code"] == "NO_OUTPUTS"


MASTER = """#EXTM3U
#EXT-X-VERSION:3
#EXT-X-STREAM-INF:BANDWIDTH=2928000,RESOLUTION=1280x720
720p/index.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=1528000,RESOLUTION=854x480
480p/index.m3u8
"""
VARIANT = """#EXTM3U
#EXT-X-VERSION:3
#EXT-X-TARGETDURATION:4
#EXT-X-PLAYLIST-TYPE:VOD
#EXTINF:4.000000,
segment_000.ts
#EXTINF:4.000000,
segment_001.ts
#EXTINF:2.000000,
segment_002.ts
#EXT-X-ENDLIST
"""


def test_every_playback_link_expires_at_the_expires_at_the_api_promises(
    api: Any, admin: Session, target: Target, runs: Spy, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The emulator does not enforce presigned-URL expiry (moto serves expired links); S3 does, refusing
    a link after its signing time ``X-Amz-Date`` plus ``X-Amz-Expires``. So this checks exactly those
    signed values: every link of the rewritten playlists (master, variants, segments) expires at the
    ``expiresAt`` of the answer, even when the playlists take seconds to rewrite, and ``expiresAt`` is
    no later than now + ``RENDER_PLAYBACK_TTL_SECONDS``."""
    # Given a SUCCEEDED HLS render (two renditions of three segments) and a 10-minute playback TTL
    set_env(monkeypatch, RENDER_PLAYBACK_TTL_SECONDS=600)
    job_id = _request(api, admin, target.asset_id, {"preset": "hls"})["renderJobId"]
    prefix = f"studios/{admin.studio_id}/renders/{job_id}/attempt-1/"
    s3 = boto3.client("s3")
    s3.put_object(Bucket=MEDIA_BUCKET, Key=prefix + "master.m3u8", Body=MASTER.encode())
    for rendition in ("720p", "480p"):
        s3.put_object(Bucket=MEDIA_BUCKET, Key=f"{prefix}{rendition}/index.m3u8", Body=VARIANT.encode())
    worker_writes.begin_try(admin.studio_id, job_id, 1, batch_job_id=None, batch_attempt=None)
    outputs = {"prefix": prefix, "keys": [prefix + "master.m3u8"], "primary": prefix + "master.m3u8",
               "masterPlaylist": prefix + "master.m3u8"}  # fmt: skip
    assert worker_writes.record_outputs(admin.studio_id, job_id, 1, outputs)
    assert _finalize(admin, job_id) == {"status": "SUCCEEDED"}
    # And reading a variant playlist is slow (its links are signed over a second after the first ones)
    read = playback._get_text

    def slow_variant(bucket: str, key: str) -> str:
        if key.endswith("480p/index.m3u8"):
            time.sleep(1.5)
        return read(bucket, key)

    monkeypatch.setattr(playback, "_get_text", slow_variant)
    # When playback is asked for
    asked = datetime.now(UTC)
    link = api.get(f"/renders/{job_id}/playback", token=admin.access_token).json()
    answered = datetime.now(UTC)
    # Then expiresAt is the TTL from the request, never later than now + TTL
    expires_at = _iso(link["expiresAt"])
    assert asked + timedelta(seconds=599) <= expires_at <= answered + timedelta(seconds=600)
    # And every link a player follows (1 master + 2 variants + 6 segments) expires then, within a second
    links = _playback_links(link["url"])
    assert len(links) == 9
    assert [abs((_expiry(url) - expires_at).total_seconds()) <= 1 for url in links] == [True] * 9


def _hls_job(api: Any, admin: Session, target: Target) -> str:
    job_id = _request(api, admin, target.asset_id, {"preset": "hls"})["renderJobId"]
    prefix = f"studios/{admin.studio_id}/renders/{job_id}/attempt-1/"
    s3 = boto3.client("s3")
    s3.put_object(Bucket=MEDIA_BUCKET, Key=prefix + "master.m3u8", Body=MASTER.encode())
    for rendition in ("720p", "480p"):
        s3.put_object(Bucket=MEDIA_BUCKET, Key=f"{prefix}{rendition}/index.m3u8", Body=VARIANT.encode())
    worker_writes.begin_try(admin.studio_id, job_id, 1, batch_job_id=None, batch_attempt=None)
    outputs = {"prefix": prefix, "keys": [prefix + "master.m3u8"], "primary": prefix + "master.m3u8",
               "masterPlaylist": prefix + "master.m3u8"}  # fmt: skip
    assert worker_writes.record_outputs(admin.studio_id, job_id, 1, outputs)
    assert _finalize(admin, job_id) == {"status": "SUCCEEDED"}
    return job_id


def test_a_review_session_is_renewed_without_rewriting_the_playlists(
    api: Any, admin: Session, target: Target, runs: Spy, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a SUCCEEDED HLS render, a 4-hour review session, and a count of playlists written
    set_env(monkeypatch, RENDER_PLAYBACK_TTL_SECONDS=4 * 3600)
    job_id = _hls_job(api, admin, target)
    written: list[str] = []
    put = playback._put_playlist
    monkeypatch.setattr(
        playback, "_put_playlist", lambda b, k, t, ttl: (written.append(k), put(b, k, t, ttl))
    )
    # When a reviewer opens it, then a client renews it a little later
    first = api.get(f"/renders/{job_id}/playback", token=admin.access_token).json()
    assert len(written) == 3  # the master and two variant playlists
    renewed = api.get(f"/renders/{job_id}/playback", token=admin.access_token).json()
    # Then the renewal answers the same session (same expiry, hours away) and rewrote nothing
    assert len(written) == 3
    assert renewed["expiresAt"] == first["expiresAt"]
    assert urlsplit(renewed["url"]).path == urlsplit(first["url"]).path
    hours_left = (_iso(renewed["expiresAt"]) - datetime.now(UTC)).total_seconds() / 3600
    assert 3.9 < hours_left <= 4
    # And every link of the renewed master still expires at that moment and serves its playlist
    links = _playback_links(renewed["url"])
    assert len(links) == 9
    assert all(abs((_expiry(url) - _iso(renewed["expiresAt"])).total_seconds()) <= 1 for url in links)

    # When the session has less than the TTL minus a quarter hour left (time moves on)
    later = time.time() + playback.renew_step(4 * 3600) + 5
    monkeypatch.setattr(clock, "now", lambda: datetime.fromtimestamp(later, UTC))
    fresh = api.get(f"/renders/{job_id}/playback", token=admin.access_token).json()
    # Then a new session is written, expiring a full TTL after the call
    assert len(written) == 6
    assert _iso(fresh["expiresAt"]) > _iso(first["expiresAt"])


def test_a_succeeded_job_names_the_sha256_of_its_input_even_when_the_upload_declared_none(
    api: Any, admin: Session, runs: Spy, clip: Path, clip_media: dict[str, Any]
) -> None:
    # Given a READY version whose upload declared no checksum
    source = publish(admin, clip.read_bytes(), clip_media, declare_sha256=False)
    job = _request(api, admin, source.asset_id, {"preset": "filmstrip", "options": {"frames": 2}})
    assert job["lineage"].get("sha256") is None and job["lineage"]["sha256Verified"] is False
    # When the container renders it and the state machine finalizes it
    assert worker.run(admin.studio_id, job["renderJobId"], 1) == worker.EXIT_OK
    assert _finalize(admin, job["renderJobId"]) == {"status": "SUCCEEDED"}
    # Then its lineage holds the SHA-256 of exactly the bytes that went in, computed by the container
    lineage = api.get(f"/renders/{job['renderJobId']}", token=admin.access_token).json()["lineage"]
    assert lineage["sha256"] == hashlib.sha256(clip.read_bytes()).hexdigest()
    assert lineage["sha256Verified"] is True
    assert (lineage["key"], lineage["version"]) == (source.key, source.version)
