"""``keyframe upload`` against the local stack: a ~20 MB video in three presigned parts becomes a READY
version; an interrupted upload resumes with only its missing parts; two concurrent uploads to one asset
become versions 1 and 2; a file changed after an interruption goes up anew while the earlier upload is
kept until the artist asks for it to be aborted. Everything goes over HTTP: the API on the stack's
port, the part PUTs to the presigned URLs of its S3 emulator.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import imageio_ffmpeg
import pytest
import requests

from keyframe.cli import main as cli_main
from keyframe.cli import parts as cli_parts
from keyframe.cli.resume import ResumeState
from tests.e2e.conftest import BaseUrlSession, LocalStackProcess

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

PASSWORD = "correct-horse-battery-staple"
PIPELINE_TIMEOUT = "150"
"""Seconds the command waits for the pipeline (a 3 s 720p clip takes far less on 2 cores)."""


def make_video(path: Path, *, seconds: int, size: str, bitrate: str) -> Path:
    """A real H.264/AAC MP4 from FFmpeg's test sources, padded to ``bitrate`` (CBR filler)."""
    subprocess.run(
        [
            imageio_ffmpeg.get_ffmpeg_exe(),
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            f"testsrc2=size={size}:rate=24:duration={seconds}",
            "-f",
            "lavfi",
            "-i",
            f"sine=frequency=440:duration={seconds}",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-pix_fmt",
            "yuv420p",
            "-b:v",
            bitrate,
            "-minrate",
            bitrate,
            "-maxrate",
            bitrate,
            "-bufsize",
            "20M",
            "-x264-params",
            "nal-hrd=cbr",
            "-c:a",
            "aac",
            "-shortest",
            "-movflags",
            "+faststart",
            str(path),
        ],
        check=True,
        timeout=120,
    )
    return path


@pytest.fixture(scope="module")
def video_20mb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """About 20 MB of real video: three 8 MiB parts (the last one smaller)."""
    path = make_video(
        tmp_path_factory.mktemp("media") / "sq010_sh020_anim.mp4", seconds=3, size="1280x720", bitrate="55M"
    )
    assert 16 * 1024 * 1024 < path.stat().st_size <= 24 * 1024 * 1024, path.stat().st_size
    return path


class Studio:
    """A signed-in ADMIN with a project, talking to the stack over HTTP."""

    def __init__(self, stack: LocalStackProcess) -> None:
        self.stack = stack
        self.http = BaseUrlSession(stack.http_url)
        registered = self.http.post(
            "/auth/register",
            json={
                "studioName": "Upload Studio",
                "email": f"uploads-{uuid.uuid4().hex[:10]}@example.com",
                "password": PASSWORD,
                "displayName": "Rin",
            },
        )
        assert registered.status_code == 201, registered.text
        self.token = registered.json()["accessToken"]
        self.studio_id = registered.json()["studio"]["studioId"]
        self.project_id = self.call(
            "POST", "/projects", {"name": "Uploads", "code": "U" + uuid.uuid4().hex[:5]}
        )["id"]

    def call(self, method: str, path: str, body: Any = None, expect: int | None = None) -> Any:
        response = self.http.request(
            method, path, json=body, headers={"Authorization": f"Bearer {self.token}"}
        )
        if expect is not None or response.status_code >= 400:
            assert response.status_code == (expect or 200), f"{method} {path}: {response.text}"
        return response.json() if response.content else None

    def new_asset(self, name: str) -> str:
        return self.call(
            "POST", "/assets", {"projectId": self.project_id, "name": name, "type": "SHOT"}, 201
        )["id"]

    def object(self, key: str) -> bytes:
        s3 = self.stack.client("s3")
        return s3.get_object(Bucket=self.stack.env["MEDIA_BUCKET"], Key=key)["Body"].read()


@pytest.fixture(scope="module")
def studio(local_stack: LocalStackProcess) -> Iterator[Studio]:
    owner = Studio(local_stack)
    yield owner
    owner.http.close()


def _upload_args(studio: Studio, path: Path, asset_id: str, state_dir: Path, *extra: str) -> list[str]:
    return [
        "upload",
        str(path),
        "--asset",
        asset_id,
        "--api",
        studio.stack.http_url,
        "--token",
        studio.token,
        "--state-dir",
        str(state_dir),
        "--quiet",
        *extra,
    ]


def test_a_20_mb_video_goes_up_in_three_parts_and_becomes_a_ready_version(
    studio: Studio, video_20mb: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given an asset and a ~20 MB video
    asset_id = studio.new_asset("Shot 020")

    # When the artist runs `keyframe upload` with three parallel parts and waits
    code = cli_main.main(
        _upload_args(
            studio,
            video_20mb,
            asset_id,
            tmp_path,
            "--parallel",
            "3",
            "--note",
            "layout",
            "--timeout",
            PIPELINE_TIMEOUT,
        )
    )
    out = capsys.readouterr().out

    # Then it exits 0 printing version 1 READY, and nothing is left to resume
    assert code == 0, out
    assert out.strip().splitlines()[-1] == "version 1 READY"
    assert list(tmp_path.glob("*.json")) == []
    # And the version is READY, made from one upload of three parts holding exactly the file's bytes
    version = studio.call("GET", f"/assets/{asset_id}/versions/1")
    assert version["status"] == "READY" and version["changeNote"] == "layout"
    upload = studio.call("GET", f"/assets/{asset_id}/uploads/{version['uploadId']}")
    assert (upload["status"], upload["partCount"], upload["version"]) == ("COMPLETED", 3, 1)
    key = f"studios/{studio.studio_id}/assets/{asset_id}/uploads/{version['uploadId']}/{video_20mb.name}"
    assert hashlib.sha256(studio.object(key)).digest() == hashlib.sha256(video_20mb.read_bytes()).digest()


def test_an_interrupted_upload_resumes_sending_only_the_missing_parts(
    studio: Studio,
    video_20mb: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    asset_id = studio.new_asset("Shot 030")
    sent: list[int] = []
    network_up = False
    real_put = requests.Session.put

    def put(self: requests.Session, url: str, *args: Any, **kwargs: Any) -> requests.Response:
        number = int(parse_qs(urlsplit(url).query)["partNumber"][0])
        sent.append(number)
        if number != 1 and not network_up:
            raise requests.ConnectionError("network down")
        return real_put(self, url, *args, **kwargs)

    monkeypatch.setattr(requests.Session, "put", put)
    monkeypatch.setattr(cli_parts, "PART_ATTEMPTS", 1)

    # Given the connection drops after part 1 was sent
    code = cli_main.main(_upload_args(studio, video_20mb, asset_id, tmp_path, "--parallel", "1", "--no-wait"))
    assert code == 1 and sent == [1, 2]
    capsys.readouterr()

    # When the same command runs again with the network back
    network_up = True
    sent.clear()
    code = cli_main.main(_upload_args(studio, video_20mb, asset_id, tmp_path, "--parallel", "2", "--no-wait"))

    # Then only parts 2 and 3 went up and the upload completed with the whole file
    assert code == 0
    assert sorted(sent) == [2, 3]
    upload_id = capsys.readouterr().out.split()[1]
    upload = studio.call("GET", f"/assets/{asset_id}/uploads/{upload_id}")
    assert upload["status"] == "COMPLETED"
    key = f"studios/{studio.studio_id}/assets/{asset_id}/uploads/{upload_id}/{video_20mb.name}"
    assert studio.object(key) == video_20mb.read_bytes()


@pytest.mark.slow  # tests/integration/catalog/test_versions.py: twenty concurrent publishes
def test_two_concurrent_uploads_to_one_asset_become_versions_1_and_2(studio: Studio, tmp_path: Path) -> None:
    # Given an asset and two different short videos
    asset_id = studio.new_asset("Shot 040")
    clips = [make_video(tmp_path / f"take_{n}.mp4", seconds=2, size="640x360", bitrate="2M") for n in (1, 2)]

    # When two artists run `keyframe upload` at the same time (two processes)
    env = {**os.environ, "KEYFRAME_HOME": str(tmp_path / "home")}
    runs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "keyframe.cli.main",
                *_upload_args(studio, clip, asset_id, tmp_path / f"state{n}", "--timeout", PIPELINE_TIMEOUT),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            text=True,
        )
        for n, clip in enumerate(clips)
    ]
    results = [run.communicate(timeout=int(PIPELINE_TIMEOUT) + 60) for run in runs]

    # Then both exit 0 and between them they made versions 1 and 2, both READY
    assert [run.returncode for run in runs] == [0, 0], results
    assert sorted(out.strip().splitlines()[-1] for out, _ in results) == [
        "version 1 READY",
        "version 2 READY",
    ]
    versions = studio.call("GET", f"/assets/{asset_id}/versions")["items"]
    assert sorted((v["version"], v["status"]) for v in versions) == [(1, "READY"), (2, "READY")]
    assert len({v["uploadId"] for v in versions}) == 2


def test_a_file_changed_after_an_interruption_goes_up_anew_and_the_old_upload_is_kept_until_asked(
    studio: Studio,
    video_20mb: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    asset_id = studio.new_asset("Shot 050")
    path = tmp_path / "sq010_sh050.mp4"
    path.write_bytes(video_20mb.read_bytes())
    network_up = False
    real_put = requests.Session.put

    def put(self: requests.Session, url: str, *args: Any, **kwargs: Any) -> requests.Response:
        if int(parse_qs(urlsplit(url).query)["partNumber"][0]) != 1 and not network_up:
            raise requests.ConnectionError("network down")
        return real_put(self, url, *args, **kwargs)

    monkeypatch.setattr(requests.Session, "put", put)
    monkeypatch.setattr(cli_parts, "PART_ATTEMPTS", 1)
    state_dir = tmp_path / "state"
    # Given an upload interrupted after part 1
    assert cli_main.main(_upload_args(studio, path, asset_id, state_dir, "--parallel", "1", "--no-wait")) == 1
    capsys.readouterr()
    (state_file,) = state_dir.glob("*.json")
    old_id = ResumeState.from_json(json.loads(state_file.read_text())).upload_id

    # When the artist re-renders the shot (another file at the same path) and runs the command again
    make_video(path, seconds=1, size="320x240", bitrate="1M")
    network_up = True
    code = cli_main.main(_upload_args(studio, path, asset_id, state_dir, "--no-wait"))

    # Then the new file went up as a new upload, and a note says the old one is kept and how to drop it
    assert code == 0
    captured = capsys.readouterr()
    new_id = captured.out.split()[1]
    assert new_id != old_id
    notes = [line for line in captured.err.splitlines() if line.startswith("note:")]
    assert len(notes) == 1 and old_id in notes[0] and "--abort-previous" in notes[0]
    old = studio.call("GET", f"/assets/{asset_id}/uploads/{old_id}")
    assert old["status"] == "OPEN" and [p["partNumber"] for p in old["uploadedParts"]] == [1]

    # When run once more with --abort-previous / Then the old upload is aborted, the new one untouched
    again = _upload_args(studio, path, asset_id, state_dir, "--no-wait", "--abort-previous")
    assert cli_main.main(again) == 0
    assert f"Aborted the earlier upload {old_id}" in capsys.readouterr().err
    assert studio.call("GET", f"/assets/{asset_id}/uploads/{old_id}")["status"] == "ABORTED"
    assert studio.call("GET", f"/assets/{asset_id}/uploads/{new_id}")["status"] == "COMPLETED"
