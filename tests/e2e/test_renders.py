"""Render jobs end to end on the local stack: the REST API, the real render state machine (moto's
interpreter), the render worker as a local Batch job running real FFmpeg, playback through presigned
playlists, progress events, retries, cancel and the concurrency limit, everything over HTTP.

The source is uploaded through the uploads API and becomes READY through the asset pipeline. Two
extra sources are published straight into the catalog on the stack's emulator (``local_stack.env``):
a file that is not video at all (the pipeline would refuse it; the render must fail on it) and a
longer clip to cancel mid-render.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from keyframe.media.ffmpeg import ffmpeg_exe
from keyframe.renders import playlists
from tests.e2e.conftest import BaseUrlSession, LocalStackProcess

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

PASSWORD = "correct-horse-battery-staple"
WAIT_SECONDS = 90


def make_clip(path: Path, *, size: str, seconds: float, audio: bool = True) -> Path:
    """A real H.264 (+ AAC) MP4 from FFmpeg's test sources."""
    args = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi",
            "-i", f"testsrc2=size={size}:rate=24:duration={seconds}"]  # fmt: skip
    if audio:
        args += ["-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}", "-c:a", "aac", "-shortest"]
    args += ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(path)]
    subprocess.run(args, check=True, timeout=60)
    return path


# --------------------------------------------------------------------------------------- processes
def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _pids() -> list[int]:
    return [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()]


def worker_pids(job_id: str) -> list[int]:
    """Processes running ``keyframe.renders.worker`` for ``job_id``."""
    return [pid for pid in _pids() if "keyframe.renders.worker" in (c := _cmdline(pid)) and job_id in c]


def children(pid: int) -> list[int]:
    """Direct children of ``pid``."""
    found = []
    for candidate in _pids():
        try:
            stat = Path(f"/proc/{candidate}/stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(candidate)
    return found


# --------------------------------------------------------------------------------------- client
class Studio:
    """A signed-in admin with a project, over HTTP."""

    def __init__(self, http: BaseUrlSession, stack: LocalStackProcess, name: str = "Render Studio") -> None:
        self.http, self.stack = http, stack
        self.email = f"render-{uuid.uuid4().hex[:10]}@example.com"
        body = {"studioName": name, "email": self.email, "password": PASSWORD, "displayName": "Ada"}
        registered = http.post("/auth/register", json=body)
        assert registered.status_code == 201, registered.text
        self.token = registered.json()["accessToken"]
        self.studio_id = registered.json()["studio"]["studioId"]
        self.user_id = registered.json()["user"]["userId"]
        self.project_id = self.call(
            "POST", "/projects", {"name": "Pilot", "code": "R" + uuid.uuid4().hex[:5]}
        )["id"]

    def request(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None):
        return self.http.request(
            method, path, json=body, headers={"Authorization": f"Bearer {self.token}", **(headers or {})}
        )

    def call(self, method: str, path: str, body: Any = None, expect: int | None = None) -> Any:
        response = self.request(method, path, body)
        wanted = expect or {"POST": 201}.get(method, 200)
        assert response.status_code == wanted, f"{method} {path}: {response.status_code} {response.text}"
        return response.json()

    def new_asset(self, name: str) -> str:
        return self.call("POST", "/assets", {"projectId": self.project_id, "name": name, "type": "SHOT"})[
            "id"
        ]

    def upload_ready(self, asset_id: str, path: Path) -> None:
        """Upload through presigned multipart PUTs; wait until the pipeline made version 1 READY."""
        data = path.read_bytes()
        opened = self.call(
            "POST",
            f"/assets/{asset_id}/uploads",
            {"fileName": path.name, "size": len(data), "contentType": "video/mp4",
             "sha256": hashlib.sha256(data).hexdigest()},
        )  # fmt: skip
        parts = []
        for part in opened["parts"]:
            start = (part["partNumber"] - 1) * opened["partSize"]
            put = self.http.put(part["url"], data=data[start : start + opened["partSize"]])
            assert put.status_code == 200, put.text
            parts.append({"partNumber": part["partNumber"], "etag": put.headers["ETag"]})
        self.call("POST", f"/assets/{asset_id}/uploads/{opened['uploadId']}/complete", {"parts": parts}, 202)
        self.wait(
            lambda: self.call("GET", f"/assets/{asset_id}").get("currentVersion") == 1, "version 1 READY"
        )

    def render(
        self, asset_id: str, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> dict[str, Any]:
        response = self.request("POST", f"/assets/{asset_id}/renders", body, headers)
        assert response.status_code == 202, response.text
        return response.json()

    def job(self, job_id: str) -> dict[str, Any]:
        return self.call("GET", f"/renders/{job_id}")

    def wait_for(self, job_id: str, statuses: set[str]) -> dict[str, Any]:
        found: dict[str, Any] = {}

        def reached() -> bool:
            found.update(self.job(job_id))
            return found["status"] in statuses

        self.wait(reached, f"render {job_id} in {statuses}", lambda: found)
        return found

    @staticmethod
    def wait(done: Callable[[], bool], what: str, state: Callable[[], Any] = lambda: None) -> None:
        deadline = time.monotonic() + WAIT_SECONDS
        while time.monotonic() < deadline:
            if done():
                return
            time.sleep(0.25)
        raise AssertionError(f"{what} did not happen within {WAIT_SECONDS} s: {state()}")


@contextmanager
def emulator_environment(stack: LocalStackProcess) -> Iterator[None]:
    """This process talks to the stack's emulator and tables while inside (for direct catalog writes)."""
    from pynamodb.models import Model

    from keyframe import settings

    def reset_connections() -> None:
        stack_ = list(Model.__subclasses__())
        while stack_:
            cls = stack_.pop()
            cls._connection = None
            stack_.extend(cls.__subclasses__())

    saved = dict(os.environ)
    os.environ.update(stack.env)
    os.environ.pop("LIVE_CONNECTIONS_ENDPOINT", None)  # events are stored; no push from the test process
    settings.reset()
    reset_connections()
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)
        settings.reset()
        reset_connections()


def publish_directly(studio: Studio, asset_id: str, data: bytes, media: dict[str, Any]) -> None:
    """Store ``data`` and publish it as a READY version through the catalog functions (no pipeline)."""
    from keyframe.catalog import versions
    from keyframe.catalog.schemas import FileInfo

    stack = studio.stack
    key = f"studios/{studio.studio_id}/assets/{asset_id}/direct/{uuid.uuid4().hex}.mp4"
    stack.client("s3").put_object(Bucket=stack.env["MEDIA_BUCKET"], Key=key, Body=data)
    with emulator_environment(stack):
        file = FileInfo(key=key, size=len(data), content_type="video/mp4", file_name="direct.mp4",
                        sha256=hashlib.sha256(data).hexdigest())  # fmt: skip
        published = versions.publish_version(studio.studio_id, asset_id, created_by=studio.user_id, file=file)
        versions.mark_version_ready(studio.studio_id, asset_id, published.version, media=media, derived={})


def link_expiry(url: str) -> datetime:
    """When S3 refuses a presigned URL: ``X-Amz-Date`` + ``X-Amz-Expires`` (the emulator never does)."""
    query = parse_qs(urlsplit(url).query)
    signed = datetime.strptime(query["X-Amz-Date"][0], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    return signed + timedelta(seconds=int(query["X-Amz-Expires"][0]))


def probe_media(path: Path) -> dict[str, Any]:
    from keyframe.media.probe import probe

    return probe(str(path)).model_dump(mode="json", by_alias=True, exclude_none=True)


# --------------------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def studio(local_stack: LocalStackProcess) -> Iterator[Studio]:
    with BaseUrlSession(local_stack.http_url) as http:
        yield Studio(http, local_stack)


@pytest.fixture(scope="module")
def shot(studio: Studio, tmp_path_factory: pytest.TempPathFactory) -> str:
    """An asset whose version 1 (a 3 s 1280x720 clip with sound) went through upload + pipeline."""
    clip = make_clip(tmp_path_factory.mktemp("render-e2e") / "shot_010.mp4", size="1280x720", seconds=3)
    asset_id = studio.new_asset("Shot 010")
    studio.upload_ready(asset_id, clip)
    return asset_id


@pytest.fixture(scope="module")
def long_shot(studio: Studio, tmp_path_factory: pytest.TempPathFactory) -> str:
    """An asset whose READY version is a 40 s 854x480 clip (long enough to cancel mid-render)."""
    clip = make_clip(tmp_path_factory.mktemp("render-e2e-long") / "long.mp4", size="854x480", seconds=40)
    asset_id = studio.new_asset("Long shot")
    publish_directly(studio, asset_id, clip.read_bytes(), probe_media(clip))
    return asset_id


# --------------------------------------------------------------------------------------- tests
def test_an_hls_ladder_renders_plays_and_reports_monotonic_progress(studio: Studio, shot: str) -> None:
    # Given a READY 3 s 720p version / When an HLS render is requested with an Idempotency-Key
    key = {"Idempotency-Key": f"e2e-{uuid.uuid4().hex}"}
    job = studio.render(shot, {"preset": "hls"}, headers=key)
    assert job["status"] == "QUEUED"
    # Then a replay returns the same job
    assert studio.render(shot, {"preset": "hls"}, headers=key)["renderJobId"] == job["renderJobId"]

    # And the job runs on Batch and SUCCEEDS with at least two renditions, none above the source
    done = studio.wait_for(job["renderJobId"], {"SUCCEEDED", "FAILED", "CANCELLED"})
    assert done["status"] == "SUCCEEDED", done
    assert done["progress"] == 100 and done["attempts"] == 1 and done["batchJobId"]
    renditions = done["outputs"]["renditions"]
    assert len(renditions) >= 2 and max(r["height"] for r in renditions) == 720
    assert done["logs"]["logStreamName"].endswith(".log")
    # And its lineage names the SHA-256 the container computed over the exact input
    assert done["lineage"]["sha256Verified"] is True and len(done["lineage"]["sha256"]) == 64

    # When it is played through the playback link (no auth header anywhere below)
    link = studio.call("GET", f"/renders/{job['renderJobId']}/playback")
    master = requests.get(link["url"], timeout=10)
    assert master.status_code == 200
    # Then the master parses, and each variant's segments add up to the source duration
    variants = playlists.parse_master(master.text)
    assert len(variants) == len(renditions)
    links = [link["url"]]
    for variant in variants:
        segments = playlists.segments(requests.get(variant.uri, timeout=10).text)
        assert abs(sum(duration for _, duration in segments) - 3.0) <= 0.5
        links += [variant.uri] + [uri for uri, _ in segments]
    # And every link a player follows is signed to expire at the answer's expiresAt (within a second)
    expires_at = datetime.strptime(link["expiresAt"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert all(abs((link_expiry(url) - expires_at).total_seconds()) <= 1 for url in links)
    # And FFmpeg decodes a segment, and plays the whole master, from the presigned URLs
    first_segment = playlists.segments(requests.get(variants[0].uri, timeout=10).text)[0][0]
    for url in (first_segment, link["url"]):
        decoded = subprocess.run(
            [ffmpeg_exe(), "-v", "error", "-i", url, "-f", "null", "-"],
            capture_output=True,
            timeout=60,
            check=False,
        )
        assert decoded.returncode == 0, decoded.stderr[-500:]

    # And the asset's room holds the status changes and a progress that never went down
    events = studio.call("GET", f"/rooms/asset:{shot}/events?limit=500")["items"]
    mine = [e for e in events if e["data"].get("renderJobId") == job["renderJobId"]]
    statuses = [e["data"]["status"] for e in mine if e["type"] == "render:status"]
    assert statuses == ["QUEUED", "RUNNING", "SUCCEEDED"]
    progress = [e["data"]["progress"] for e in mine if e["type"] == "render:progress"]
    assert progress and progress == sorted(progress) and progress[-1] == 100


@pytest.mark.slow  # six container runs; the retries are tests/integration/renders
def test_a_corrupt_input_is_retried_then_fails_with_the_reason(studio: Studio, tmp_path: Path) -> None:
    # Given a READY version whose bytes are not video (published without the pipeline)
    asset_id = studio.new_asset("Broken shot")
    clip = make_clip(tmp_path / "meta.mp4", size="320x240", seconds=1, audio=False)
    publish_directly(studio, asset_id, os.urandom(64 * 1024), probe_media(clip))
    # When it is rendered
    job = studio.render(asset_id, {"preset": "review-mp4"})
    failed = studio.wait_for(job["renderJobId"], {"SUCCEEDED", "FAILED", "CANCELLED"})
    # Then Batch tried the container three times and the job FAILED with the worker's reason
    assert failed["status"] == "FAILED", failed
    assert failed["error"]["code"] == "INPUT_UNREADABLE"
    assert failed["tries"] == 3 and failed["logs"]["batchAttempt"] == 3
    # And it can be retried as attempt 2
    retried = studio.call("POST", f"/renders/{job['renderJobId']}/retry", expect=202)
    assert (retried["status"], retried["attempts"]) == ("QUEUED", 2)
    assert studio.wait_for(job["renderJobId"], {"FAILED", "SUCCEEDED"})["status"] == "FAILED"


def test_cancel_mid_render_ends_cancelled_and_the_process_is_gone(studio: Studio, long_shot: str) -> None:
    # Given a render whose worker is running FFmpeg
    job_id = studio.render(long_shot, {"preset": "hls"})["renderJobId"]
    running: dict[str, list[int]] = {}

    def ffmpeg_started() -> bool:
        for pid in worker_pids(job_id):
            kids = [k for k in children(pid) if "ffmpeg" in _cmdline(k)]
            if kids:
                running.update(worker=[pid], ffmpeg=kids)
                return True
        return False

    studio.wait(ffmpeg_started, "the render's FFmpeg to start", lambda: studio.job(job_id))
    # When it is cancelled
    cancelled = studio.call("DELETE", f"/renders/{job_id}")
    # Then it is CANCELLED at once, and the worker and its FFmpeg are gone shortly after
    assert cancelled["status"] == "CANCELLED"
    pids = running["worker"] + running["ffmpeg"]
    studio.wait(lambda: not any(_alive(pid) for pid in pids), "the worker and FFmpeg to exit", lambda: pids)
    # And it stays CANCELLED with no outputs, and cannot be cancelled twice
    time.sleep(1.0)
    final = studio.job(job_id)
    assert final["status"] == "CANCELLED" and final.get("outputs") is None
    assert studio.request("DELETE", f"/renders/{job_id}").status_code == 409
    prefix = f"studios/{studio.studio_id}/renders/{job_id}/"
    listing = studio.stack.client("s3").list_objects_v2(
        Bucket=studio.stack.env["MEDIA_BUCKET"], Prefix=prefix
    )
    assert listing.get("KeyCount", 0) == 0


@pytest.mark.slow  # tests/integration/renders/test_render_api.py answers 429 too
def test_the_concurrency_limit_answers_429(studio: Studio, long_shot: str) -> None:
    # Given a studio with as many renders in flight as its limit (4 unless the stack says otherwise)
    limit = int(studio.stack.env.get("MAX_CONCURRENT_RENDERS_PER_STUDIO", 4))
    jobs = [studio.render(long_shot, {"preset": "filmstrip"})["renderJobId"] for _ in range(limit)]
    try:
        # When one more is requested / Then 429 with Retry-After
        refused = studio.request("POST", f"/assets/{long_shot}/renders", {"preset": "filmstrip"})
        assert refused.status_code == 429, refused.text
        assert int(refused.headers["Retry-After"]) >= 1
        assert refused.json()["error"]["code"] == "CONCURRENT_RENDERS_QUOTA_EXCEEDED"
    finally:
        for job_id in jobs:
            studio.request("DELETE", f"/renders/{job_id}")
    # And once they are cancelled, renders are accepted again
    accepted = studio.render(long_shot, {"preset": "filmstrip", "options": {"frames": 4}})
    assert studio.wait_for(accepted["renderJobId"], {"SUCCEEDED", "FAILED"})["status"] == "SUCCEEDED"
