"""Renders the system queues, end to end on the local stack (the stack's outbox poller hands the stored
events to the same consumer as the cloud's stream): a render policy queues its preset when an uploaded
version becomes READY, and a plate's new version queues exactly one re-render of an opted-in Synfig
scene. Each queued job is cancelled at once: what is tested is the queueing, not the rendering (that is
tests/e2e/test_renders.py and test_scene_renders.py), so the module stays cheap.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from keyframe.media.ffmpeg import ffmpeg_exe
from tests.e2e.conftest import BaseUrlSession, LocalStackProcess
from tests.e2e.test_scene_renders import SceneStudio, make_sif

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.xdist_group("e2e-features")]

SETTLE_SECONDS = 6
"""How long to keep looking for a second job after the first appeared (the poller runs every ~2 s)."""


@pytest.fixture(scope="module")
def studio(local_stack: LocalStackProcess) -> Iterator[SceneStudio]:
    with BaseUrlSession(local_stack.http_url) as http:
        yield SceneStudio(http, local_stack, name="Automatic Studio")


def _png(path: Path, color: str) -> Path:
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi", "-i", f"color=c={color}:size=32x32",
                    "-frames:v", "1", str(path)], check=True, timeout=60)  # fmt: skip
    return path


def _jobs_once_settled(studio: SceneStudio, asset_id: str) -> list[dict[str, Any]]:
    """The asset's render jobs once one exists and no other came for :data:`SETTLE_SECONDS`."""
    found: list[dict[str, Any]] = []

    def listed() -> bool:
        found[:] = studio.call("GET", f"/renders?assetId={asset_id}")["items"]
        return bool(found)

    studio.wait(listed, f"a render of {asset_id}")
    time.sleep(SETTLE_SECONDS)
    listed()
    for job in found:
        if job["status"] in ("QUEUED", "RUNNING"):
            studio.request("DELETE", f"/renders/{job['renderJobId']}")
    return found


def test_a_policy_queues_hls_when_an_uploaded_shot_becomes_ready(studio: SceneStudio, tmp_path: Path) -> None:
    # Given "hls for every SHOT" in the project
    policy = studio.call(
        "POST", f"/projects/{studio.project_id}/render-policies", {"assetTypes": ["SHOT"], "presets": ["hls"]}
    )
    clip = tmp_path / "sh030.mp4"
    source = "testsrc2=size=320x240:rate=24:duration=1"
    args = ["-f", "lavfi", "-i", source, "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", *args, str(clip)], check=True, timeout=60)
    shot = studio.new_typed_asset("Shot 030", "SHOT")
    # When a version is uploaded and the pipeline makes it READY
    studio.upload_file(shot, clip, "video/mp4")
    # Then exactly one hls render of v1 is queued by the policy
    [job] = _jobs_once_settled(studio, shot)
    assert (job["preset"], job["version"]) == ("hls", 1)
    assert job["lineage"]["trigger"]["kind"] == "render-policy"
    assert job["lineage"]["trigger"]["policyId"] == policy["policyId"]
    url = f"/projects/{studio.project_id}/render-policies/{policy['policyId']}"
    assert studio.request("DELETE", url).status_code == 204


def test_a_plates_new_version_queues_exactly_one_rerender_of_an_opted_in_scene(
    studio: SceneStudio, tmp_path: Path
) -> None:
    # Given a Synfig scene importing plate.png, following the plate asset (v1), opted in
    scene = studio.new_typed_asset("Shot 040", "SHOT")
    plate = studio.new_typed_asset("Plate 040", "TEXTURE")
    studio.upload_file(plate, _png(tmp_path / "plate.png", "red"), "image/png")
    studio.upload_file(
        scene, make_sif(tmp_path / "sh040.sif", frames=4, imports="plate.png"), "application/x-synfig"
    )
    studio.call("PUT", f"/assets/{scene}/dependencies/{plate}", {"relationship": "TEXTURE_OF"}, expect=201)
    assert studio.call("PATCH", f"/assets/{scene}", {"rerenderOnChange": True})["rerenderOnChange"] is True
    # When the plate gets version 2
    (tmp_path / "v2").mkdir()
    studio.upload_file(plate, _png(tmp_path / "v2" / "plate.png", "blue"), "image/png", version=2)
    # Then one scene-review of the scene's v1 is queued, naming the plate's v2 as its cause
    [job] = _jobs_once_settled(studio, scene)
    assert (job["preset"], job["version"]) == ("scene-review", 1)
    trigger = job["lineage"]["trigger"]
    assert (trigger["kind"], trigger["dependencyId"], trigger["dependencyVersion"]) == (
        "dependency-change",
        plate,
        2,
    )
    assert [(d["assetId"], d["version"]) for d in job["lineage"]["dependencies"]] == [(plate, 2)]
