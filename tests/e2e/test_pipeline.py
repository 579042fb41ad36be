"""The asset pipeline end to end on the local stack: real Step Functions (moto's interpreter), the real
task handlers, the media worker as a Batch job with real FFmpeg, everything spoken to over HTTP.

A client registers a studio, creates a project and an asset through the catalog API, uploads files
with presigned multipart PUTs through the uploads API and watches the pipeline through
``GET /assets/{assetId}/uploads/{uploadId}`` and ``GET /assets/{assetId}/versions/{version}/pipeline``.
Clips are short (2 s 720p) to keep the module well under a minute of pipeline time.
"""

from __future__ import annotations

import hashlib
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import pytest

from keyframe.media.ffmpeg import ffmpeg_exe
from tests.e2e.conftest import BaseUrlSession, LocalStackProcess
from tests.unit.media.samples import ffmpeg_sample, truncate, video_clip

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

PASSWORD = "correct-horse-battery-staple"
PIPELINE_TIMEOUT_SECONDS = 90


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class Studio:
    """A signed-in admin with a project and an asset, talking to the stack over HTTP."""

    def __init__(self, http: BaseUrlSession, stack: LocalStackProcess) -> None:
        self.http, self.stack = http, stack
        email = f"pipeline-{uuid.uuid4().hex[:10]}@example.com"
        registered = http.post(
            "/auth/register",
            json={
                "studioName": "Pipeline Studio",
                "email": email,
                "password": PASSWORD,
                "displayName": "Ada",
            },
        )
        assert registered.status_code == 201, registered.text
        self.token = registered.json()["accessToken"]
        self.studio_id = registered.json()["studio"]["studioId"]
        code = "P" + uuid.uuid4().hex[:5].upper()
        project = self.post("/projects", {"name": "Pilot", "code": code})
        self.project_id = project["id"]

    def post(self, path: str, body: dict[str, Any] | None = None, expect: int = 201) -> dict[str, Any]:
        response = self.http.post(path, json=body, headers=_bearer(self.token))
        assert response.status_code == expect, f"{path}: {response.status_code} {response.text}"
        return response.json()

    def get(self, path: str, expect: int = 200) -> dict[str, Any]:
        response = self.http.get(path, headers=_bearer(self.token))
        assert response.status_code == expect, f"{path}: {response.status_code} {response.text}"
        return response.json()

    def new_asset(self, name: str) -> str:
        return self.post("/assets", {"projectId": self.project_id, "name": name, "type": "SHOT"})["id"]

    def upload(self, asset_id: str, path: Path, file_name: str, content_type: str) -> dict[str, Any]:
        """Open, PUT every part to its presigned URL, complete; returns ``{uploadId, key, ...}``."""
        data = path.read_bytes()
        opened = self.post(
            f"/assets/{asset_id}/uploads",
            {
                "fileName": file_name,
                "size": len(data),
                "contentType": content_type,
                "sha256": hashlib.sha256(data).hexdigest(),
            },
        )
        assert opened["partCount"] == len(opened["parts"]), "small files get every URL at once"
        parts = []
        for part in opened["parts"]:
            start = (part["partNumber"] - 1) * opened["partSize"]
            chunk = data[start : start + opened["partSize"]]
            put = self.http.put(part["url"], data=chunk, headers=part.get("headers") or {})
            assert put.status_code == 200, put.text
            parts.append({"partNumber": part["partNumber"], "etag": put.headers["ETag"]})
        upload_id = opened["uploadId"]
        completed = self.post(
            f"/assets/{asset_id}/uploads/{upload_id}/complete", {"parts": parts}, expect=202
        )
        assert completed["pipeline"]["executionArn"].endswith(f":{upload_id}")
        key = f"studios/{self.studio_id}/assets/{asset_id}/uploads/{upload_id}/{file_name}"
        return {"assetId": asset_id, "uploadId": upload_id, "key": key, "fileName": file_name}

    def wait_for_pipeline(self, upload: dict[str, Any]) -> dict[str, Any]:
        """Poll the upload until its pipeline SUCCEEDED or FAILED; returns the pipeline view."""
        deadline = time.monotonic() + PIPELINE_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            body = self.get(f"/assets/{upload['assetId']}/uploads/{upload['uploadId']}")
            pipeline = body.get("pipeline") or {}
            if pipeline.get("status") in ("SUCCEEDED", "FAILED"):
                return pipeline
            time.sleep(0.3)
        raise AssertionError(
            f"pipeline of {upload['fileName']} did not finish in {PIPELINE_TIMEOUT_SECONDS} s: {pipeline}"
        )

    def wait_for_run(self, asset_id: str, version: int, run: int) -> dict[str, Any]:
        """Poll ``GET …/pipeline`` until run ``run`` has finished."""
        deadline = time.monotonic() + PIPELINE_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            pipeline = self.get(f"/assets/{asset_id}/versions/{version}/pipeline")
            if pipeline["run"] == run and pipeline["status"] in ("SUCCEEDED", "FAILED"):
                return pipeline
            time.sleep(0.3)
        raise AssertionError(f"run {run} did not finish: {pipeline}")

    def object(self, key: str) -> bytes:
        return (
            self.stack.client("s3").get_object(Bucket=self.stack.env["MEDIA_BUCKET"], Key=key)["Body"].read()
        )

    def derived(self, asset_id: str, version: int, name: str, content_type: str) -> bytes:
        """A derived file as a client gets it: ``GET …/derived/{name}``, then its presigned URL."""
        link = self.get(f"/assets/{asset_id}/versions/{version}/derived/{name}")
        assert link["contentType"] == content_type
        fetched = self.http.get(link["url"])
        assert fetched.status_code == 200, fetched.text
        assert fetched.headers["Content-Type"] == content_type
        return fetched.content

    def object_exists(self, key: str) -> bool:
        listing = self.stack.client("s3").list_objects_v2(Bucket=self.stack.env["MEDIA_BUCKET"], Prefix=key)
        return any(item["Key"] == key for item in listing.get("Contents", []))


@pytest.fixture(scope="module")
def studio(local_stack: LocalStackProcess) -> Iterator[Studio]:
    with BaseUrlSession(local_stack.http_url) as http:
        yield Studio(http, local_stack)


def _decode(data: bytes, tmp_path: Path, name: str) -> tuple[int, int]:
    path = tmp_path / name
    path.write_bytes(data)
    with av.open(str(path)) as container:
        frame = next(container.decode(video=0))
        return frame.width, frame.height


def test_a_video_becomes_a_ready_version_with_thumbnail_and_proxy(studio: Studio, tmp_path: Path) -> None:
    # Given a 2 s 1280x720 24 fps clip with sound
    clip = video_clip(tmp_path / "shot_010_anim.mp4", seconds=2, size="1280x720")
    asset_id = studio.new_asset("Shot 010")

    # When it is uploaded
    upload = studio.upload(asset_id, clip, clip.name, "video/mp4")
    pipeline = studio.wait_for_pipeline(upload)

    # Then the pipeline SUCCEEDED through all four steps and version 1 is READY and current
    assert pipeline["status"] == "SUCCEEDED", pipeline
    assert [(s["name"], s["status"]) for s in pipeline["steps"]] == [
        ("validate", "SUCCEEDED"),
        ("publish", "SUCCEEDED"),
        ("derive", "SUCCEEDED"),
        ("finalize", "SUCCEEDED"),
    ]
    version = studio.get(f"/assets/{asset_id}/versions/1")
    assert version["status"] == "READY"
    assert studio.get(f"/assets/{asset_id}")["currentVersion"] == 1

    # And its metadata matches the source
    media = version["media"]
    assert abs(media["duration"] - 2.0) <= 0.1
    assert (media["width"], media["height"], media["fps"]) == (1280, 720, 24.0)
    assert media["codecs"] == {"video": "h264", "audio": "aac"}

    # And the thumbnail is a JPEG and the proxy an H.264 MP4 FFmpeg decodes, at most 720p
    thumbnail = studio.derived(asset_id, 1, "thumbnail", "image/jpeg")
    assert thumbnail[:3] == b"\xff\xd8\xff"
    assert _decode(thumbnail, tmp_path, "thumbnail.jpg") == (640, 360)
    proxy = tmp_path / "proxy.mp4"
    proxy.write_bytes(studio.derived(asset_id, 1, "proxy", "video/mp4"))
    decoded = subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-i", str(proxy), "-f", "null", "-"],
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert decoded.returncode == 0 and not decoded.stderr, decoded.stderr
    assert _decode(proxy.read_bytes(), tmp_path, "proxy-frame.mp4") == (1280, 720)

    # And GET …/pipeline shows the same steps
    shown = studio.get(f"/assets/{asset_id}/versions/1/pipeline")
    assert shown["uploadId"] == upload["uploadId"] and shown["status"] == "SUCCEEDED"
    assert all(step["startedAt"] <= step["endedAt"] for step in shown["steps"])

    # When the version is reprocessed
    accepted = studio.post(f"/assets/{asset_id}/versions/1/reprocess", expect=202)
    assert accepted["executionArn"].endswith(f":{upload['uploadId']}-reprocess-1")
    during = studio.get(f"/assets/{asset_id}/versions/1")
    rerun = studio.wait_for_run(asset_id, 1, run=2)

    # Then the version stayed READY while it ran; the new run skipped validate/publish, derived again
    # into new files, and the version (still READY and current) now points at them
    assert during["status"] == "READY" and during["derived"] == version["derived"]
    assert [s["status"] for s in rerun["steps"]] == ["SKIPPED", "SKIPPED", "SUCCEEDED", "SUCCEEDED"], rerun
    again = studio.get(f"/assets/{asset_id}/versions/1")
    assert again["status"] == "READY"
    assert set(again["derived"]) == set(version["derived"])
    assert all("/derived/run-2/" in key for key in again["derived"].values())
    assert _decode(studio.derived(asset_id, 1, "thumbnail", "image/jpeg"), tmp_path, "again.jpg") == (
        640,
        360,
    )
    assert studio.get(f"/assets/{asset_id}")["currentVersion"] == 1


def test_an_image_and_a_wav_become_ready(studio: Studio, tmp_path: Path) -> None:
    # Given a PNG frame and a WAV line of dialogue, uploaded to two assets at once
    image = ffmpeg_sample("png", tmp_path / "frame_0001.png")
    sound = ffmpeg_sample("wav", tmp_path / "dialogue.wav")
    uploads = [
        studio.upload(studio.new_asset("Frame"), image, image.name, "image/png"),
        studio.upload(studio.new_asset("Dialogue"), sound, sound.name, "audio/wav"),
    ]

    # When their pipelines finish
    image_run, sound_run = (studio.wait_for_pipeline(upload) for upload in uploads)

    # Then both are READY: the image has a thumbnail, the WAV a waveform PNG
    assert image_run["status"] == sound_run["status"] == "SUCCEEDED", (image_run, sound_run)
    image_version = studio.get(f"/assets/{uploads[0]['assetId']}/versions/1")
    assert image_version["status"] == "READY"
    assert (image_version["media"]["width"], image_version["media"]["height"]) == (320, 240)
    assert _decode(
        studio.derived(uploads[0]["assetId"], 1, "thumbnail", "image/jpeg"), tmp_path, "t.jpg"
    ) == (320, 240)
    sound_version = studio.get(f"/assets/{uploads[1]['assetId']}/versions/1")
    assert sound_version["status"] == "READY"
    assert abs(sound_version["media"]["duration"] - 1.0) <= 0.1
    waveform = studio.derived(uploads[1]["assetId"], 1, "waveform", "image/png")
    assert waveform[:8] == b"\x89PNG\r\n\x1a\n"
    assert _decode(waveform, tmp_path, "waveform.png") == (1200, 240)


@pytest.mark.slow  # tests/integration/pipeline/test_tasks.py refuses each bad file
def test_bad_files_fail_with_a_clear_reason_and_keep_the_upload(studio: Studio, tmp_path: Path) -> None:
    # Given four bad files: random bytes, a truncated MP4, a zip renamed .mp4, and a Matroska file
    # whose header is fine but whose content no decoder can read
    random_bytes = tmp_path / "random.mp4"
    random_bytes.write_bytes(bytes((i * 37 + 11) % 251 for i in range(40_000)))
    whole = video_clip(tmp_path / "whole.mp4", seconds=1, size="320x240")
    truncated = truncate(whole, tmp_path / "truncated.mp4")
    mislabeled = tmp_path / "mislabeled.mp4"
    mislabeled.write_bytes(_zip_bytes())
    corrupt = tmp_path / "corrupt.mkv"
    corrupt.write_bytes(b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x88matroska" + b"\x00\xff" * 20_000)
    cases = {
        "random": (random_bytes, "video/mp4", "INVALID_MEDIA", "not an accepted type"),
        "truncated": (truncated, "video/mp4", "INVALID_MEDIA", "truncated"),
        "mislabeled": (mislabeled, "video/mp4", "TYPE_MISMATCH", "archive (zip)"),
        "corrupt": (corrupt, "video/x-matroska", "INVALID_MEDIA", "FFmpeg"),
    }

    # When each is uploaded to its own asset
    uploads = {
        name: studio.upload(studio.new_asset(name), path, path.name, ctype)
        for name, (path, ctype, _, _) in cases.items()
    }

    # Then each pipeline FAILED with the expected code and a readable reason, no version is READY,
    # a published version is FAILED (kept), and the uploaded object is still in the bucket
    for name, upload in uploads.items():
        pipeline = studio.wait_for_pipeline(upload)
        _, _, code, phrase = cases[name]
        assert pipeline["status"] == "FAILED", (name, pipeline)
        assert pipeline["error"]["code"] == code, (name, pipeline["error"])
        assert phrase in pipeline["error"]["message"], (name, pipeline["error"])
        versions = studio.get(f"/assets/{upload['assetId']}/versions")["items"]
        assert not [v for v in versions if v["status"] == "READY"], name
        if name == "corrupt":
            assert [v["status"] for v in versions] == ["FAILED"]
            assert versions[0]["error"]["code"] == "INVALID_MEDIA"
            assert [s["status"] for s in pipeline["steps"]] == ["SUCCEEDED", "SUCCEEDED", "FAILED", "SKIPPED"]
        else:
            assert versions == [], name
            assert [s["status"] for s in pipeline["steps"]] == ["FAILED", "SKIPPED", "SKIPPED", "SKIPPED"]
        assert studio.object_exists(upload["key"]), name


def _zip_bytes() -> bytes:
    import io
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("shot_010/notes.txt", "retime the walk cycle\n" * 50)
    return out.getvalue()
