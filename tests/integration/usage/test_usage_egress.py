"""``GET /studio/usage`` playback egress: an estimate counting each playback or download link issued
as one fetch of the bytes it points to (version files, derived proxies, render downloads and HLS
playback), per day, for the studio that issued them only."""

from __future__ import annotations

import json
from typing import Any

import boto3

from keyframe import clock
from keyframe.catalog.versions import FileInfo, mark_version_ready, publish_version
from keyframe.renders.models import RenderJobItem, job_pk, studio_jobs_key
from tests.support.environment import MEDIA_BUCKET
from tests.support.identity import Session, add_member, register_studio

MASTER = "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=2928000,RESOLUTION=1280x720\n720p/index.m3u8\n"
MASTER += "#EXT-X-STREAM-INF:BANDWIDTH=1528000,RESOLUTION=854x480\n480p/index.m3u8\n"
VARIANT = "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4.0,\nsegment_000.ts\n#EXT-X-ENDLIST\n"


def _body(response: Any, status: int) -> Any:
    assert response.status == status, response.body[:500]
    return json.loads(response.body)


def _put(key: str, content: bytes) -> None:
    boto3.client("s3").put_object(Bucket=MEDIA_BUCKET, Key=key, Body=content)


def _version(api: Any, admin: Session, size: int, proxy_size: int) -> str:
    """An asset with a ready version of ``size`` bytes whose proxy holds ``proxy_size``: its id."""
    token = admin.access_token
    project = _body(api.post("/projects", json={"name": "Egress", "code": "EG"}, token=token), 201)["id"]
    body = {"projectId": project, "name": "Hero", "type": "SHOT"}
    asset = _body(api.post("/assets", json=body, token=token), 201)["id"]
    key = f"studios/{admin.studio_id}/assets/{asset}/hero.mov"
    _put(key, b"o" * size)
    _put(key + ".mp4", b"p" * proxy_size)
    file = FileInfo(key=key, size=size, content_type="video/quicktime", file_name="hero.mov")
    number = publish_version(
        admin.studio_id, asset, created_by=admin.user_id, upload_id=None, file=file
    ).version
    mark_version_ready(admin.studio_id, asset, number, media={}, derived={"proxy": key + ".mp4"})
    return str(asset)


def _render(admin: Session, job_id: str, preset: str, outputs: dict[str, Any]) -> None:
    now = clock.now_iso()
    RenderJobItem(
        job_pk(admin.studio_id, job_id), job_id=job_id, studio_id=admin.studio_id, asset_id="asset-1",
        version=1, preset=preset, status="SUCCEEDED", lineage={}, frames={}, created_by=admin.user_id,
        created_at=now, updated_at=now, started_at=now, ended_at=now, outputs=outputs,
        gsi1pk=studio_jobs_key(admin.studio_id), gsi1sk=f"{now}#{job_id}",
    ).save()  # fmt: skip


def _hls(admin: Session, job_id: str, total_bytes: int) -> None:
    """A SUCCEEDED hls render of two renditions, ``total_bytes`` in all, its playlists in the bucket."""
    prefix = f"studios/{admin.studio_id}/renders/{job_id}/attempt-1/"
    _put(prefix + "master.m3u8", MASTER.encode())
    for rendition in ("720p", "480p"):
        _put(f"{prefix}{rendition}/index.m3u8", VARIANT.encode())
    outputs = {"prefix": prefix, "primary": prefix + "master.m3u8", "masterPlaylist": prefix + "master.m3u8",
               "keys": [prefix + "master.m3u8"], "fileCount": 7, "totalBytes": total_bytes,
               "renditions": [{"name": "720p"}, {"name": "480p"}]}  # fmt: skip
    _render(admin, job_id, "hls", outputs)


def test_egress_counts_the_bytes_behind_each_link_issued(api) -> None:
    # Given a studio with a version of 1000 bytes (its proxy 300), a review MP4 of 5000 bytes and an
    # HLS render of 9000 bytes in two renditions; and another studio doing the same
    admin = register_studio(api, studio_name="Egress Studio")
    other = register_studio(api, studio_name="Other Egress Studio")
    producer = add_member(api, admin, "PRODUCER")
    for session in (admin, other):
        asset = _version(api, session, 1000, 300)
        _render(session, "mp4-1", "review-mp4", {"prefix": "p/", "primary": "p/review.mp4", "keys": [],
                                                 "fileCount": 1, "totalBytes": 5000})  # fmt: skip
        _hls(session, "hls-1", 9000)
        # When members ask for links: the original twice, the proxy, the MP4 and the stream
        token = producer.access_token if session is admin else session.access_token
        for path in (
            f"/assets/{asset}/versions/1/download",
            f"/assets/{asset}/versions/1/download",
            f"/assets/{asset}/versions/1/derived/proxy",
            "/renders/mp4-1/download",
            "/renders/hls-1/playback",
        ):
            _body(api.get(path, token=token), 200)
    # Then the admin sees today's links and their bytes, the stream counting one rendition's share
    today = clock.now().date().isoformat()
    body = _body(api.get(f"/studio/usage?from={today}&to={today}", token=admin.access_token), 200)
    expected = 2 * 1000 + 300 + 5000 + 9000 // 2
    assert body["playbackEgress"] == {
        "bytes": expected,
        "links": 5,
        "byDay": [{"date": today, "bytes": expected, "links": 5}],
    }
