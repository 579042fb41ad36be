"""Scene renders end to end on the local stack: a Blender and a Synfig scene made by the test are
uploaded through the uploads API (the pipeline identifies them), rendered in chunks by a local Batch
array job (real Blender / Synfig as local processes), assembled into a playable HLS ladder, with
progress events, per-chunk state and the exact-inputs lineage; a missing referenced file fails the
probe; killing one chunk's process retries that chunk alone.

Skips (naming what is missing) on a machine without Blender or Synfig: ``apt-get install blender
synfig``. Scenes are tiny (6 frames, 160x120) so the whole module stays within ~2 minutes on 2 cores.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import subprocess
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from keyframe.media.ffmpeg import ffmpeg_exe
from keyframe.renders import playlists, tools
from tests.e2e.conftest import BaseUrlSession, LocalStackProcess
from tests.e2e.test_renders import Studio, _cmdline, _pids, children

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.xdist_group("e2e-features")]

needs_blender = pytest.mark.skipif(
    tools.find("blender") is None, reason=tools.missing_message(["blender"]) or "blender missing"
)
needs_synfig = pytest.mark.skipif(
    tools.find("synfig") is None, reason=tools.missing_message(["synfig"]) or "synfig missing"
)

WAIT_SECONDS = 180

BLEND_SCRIPT = textwrap.dedent(
    """
    import bpy, sys
    out, texture = sys.argv[sys.argv.index("--") + 1:]
    for o in list(bpy.data.objects):
        bpy.data.objects.remove(o)
    bpy.ops.mesh.primitive_plane_add(size=4)
    plane = bpy.context.object
    material = bpy.data.materials.new("grid")
    material.use_nodes = True
    image_node = material.node_tree.nodes.new("ShaderNodeTexImage")
    image = bpy.data.images.load(texture)
    image_node.image = image
    plane.data.materials.append(material)
    plane.keyframe_insert("location", frame=1)
    plane.location.x = 2
    plane.keyframe_insert("location", frame=6)
    bpy.ops.object.camera_add(location=(0, -8, 6), rotation=(0.9, 0, 0))
    scene = bpy.context.scene
    scene.camera = bpy.context.object
    scene.frame_start, scene.frame_end = 1, 6
    scene.render.fps = 24
    scene.render.resolution_x, scene.render.resolution_y = 320, 240
    bpy.ops.wm.save_as_mainfile(filepath=out, relative_remap=True)
    image.filepath = "//textures/grid.png"
    bpy.ops.wm.save_as_mainfile(filepath=out, relative_remap=True)
    """
)


def make_blend(folder: Path) -> tuple[Path, Path]:
    """A 6-frame 320x240 Blender scene referencing ``//textures/grid.png`` (made here), and that PNG."""
    (folder / "textures").mkdir(parents=True, exist_ok=True)
    texture = folder / "textures" / "grid.png"
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=64x64",
                    "-frames:v", "1", str(texture)], check=True, timeout=60)  # fmt: skip
    script = folder / "make_scene.py"
    script.write_text(BLEND_SCRIPT)
    blend = folder / "sh010_layout.blend"
    blender = tools.find("blender") or "blender"
    subprocess.run([blender, "-b", "--factory-startup", "--python", str(script), "--", str(blend),
                    str(texture)], check=True, timeout=180, capture_output=True)  # fmt: skip
    return blend, texture


def make_sif(path: Path, *, frames: int = 6, imports: str | None = None) -> Path:
    """A Synfig canvas 320x240 at 24 fps, frames 0..frames-1, a moving circle (and an import layer)."""
    import_layer = (
        f'<layer type="import" active="true" version="0.1" desc="plate">'
        f'<param name="filename"><string>{imports}</string></param></layer>'
        if imports
        else ""
    )
    path.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<canvas version="1.2" width="320" height="240" xres="2834.645669" yres="2834.645669" '
        f'view-box="-4 3 4 -3" antialias="1" fps="24" begin-time="0f" end-time="{frames - 1}f" '
        'bgcolor="0.5 0.5 0.5 1"><name>tiny</name>'
        f"{import_layer}"
        '<layer type="circle" active="true" version="0.2" desc="ball">'
        '<param name="color"><color><r>1</r><g>0.2</g><b>0.1</b><a>1</a></color></param>'
        '<param name="radius"><real value="1"/></param><param name="origin"><animated type="vector">'
        '<waypoint time="0f" before="linear" after="linear"><vector><x>-2</x><y>0</y></vector></waypoint>'
        f'<waypoint time="{frames - 1}f" before="linear" after="linear"><vector><x>2</x><y>0</y></vector>'
        "</waypoint></animated></param></layer></canvas>\n"
    )
    return path


class SceneStudio(Studio):
    """The render tests' studio, uploading files of any type."""

    def upload_file(self, asset_id: str, path: Path, content_type: str, version: int = 1) -> None:
        data = path.read_bytes()
        opened = self.call(
            "POST",
            f"/assets/{asset_id}/uploads",
            {"fileName": path.name, "size": len(data), "contentType": content_type,
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
            lambda: self.call("GET", f"/assets/{asset_id}").get("currentVersion") == version,
            f"version {version} READY",
        )

    def new_typed_asset(self, name: str, asset_type: str) -> str:
        body = {"projectId": self.project_id, "name": name, "type": asset_type}
        return self.call("POST", "/assets", body)["id"]

    def finished(self, job_id: str) -> dict[str, Any]:
        found: dict[str, Any] = {}
        deadline = time.monotonic() + WAIT_SECONDS
        while time.monotonic() < deadline:
            found = self.job(job_id)
            if found["status"] in ("SUCCEEDED", "FAILED", "CANCELLED"):
                return found
            time.sleep(0.5)
        raise AssertionError(f"render {job_id} did not end within {WAIT_SECONDS} s: {found}")


@pytest.fixture(scope="module")
def studio(local_stack: LocalStackProcess) -> Any:
    with BaseUrlSession(local_stack.http_url) as http:
        yield SceneStudio(http, local_stack, name="Scene Studio")


def assert_plays(studio: SceneStudio, job_id: str, frames: int, fps: float) -> None:
    """The HLS master plays from presigned links and lasts ``frames / fps`` seconds."""
    link = studio.call("GET", f"/renders/{job_id}/playback")
    master = requests.get(link["url"], timeout=10)
    assert master.status_code == 200
    variants = playlists.parse_master(master.text)
    assert variants
    segments = playlists.segments(requests.get(variants[0].uri, timeout=10).text)
    assert abs(sum(d for _, d in segments) - frames / fps) <= 0.1
    decoded = subprocess.run([ffmpeg_exe(), "-v", "error", "-i", link["url"], "-f", "null", "-"],
                             capture_output=True, timeout=60, check=False)  # fmt: skip
    assert decoded.returncode == 0, decoded.stderr[-500:]


def chunk_pids(job_id: str, index: int) -> list[int]:
    """The scene worker processes of chunk ``index`` of ``job_id`` (array index in their environment)."""
    found = []
    for pid in _pids():
        if "keyframe.renders.scene_worker" in _cmdline(pid) and job_id in _cmdline(pid):
            try:
                environ = Path(f"/proc/{pid}/environ").read_bytes()
            except OSError:
                continue
            if f"AWS_BATCH_JOB_ARRAY_INDEX={index}\0".encode() in environ:
                found.append(pid)
    return found


def progress_events(studio: SceneStudio, asset_id: str, job_id: str) -> list[dict[str, Any]]:
    events = studio.call("GET", f"/rooms/asset:{asset_id}/events?limit=500")["items"]
    return [
        e["data"] for e in events if e["type"] == "render:progress" and e["data"]["renderJobId"] == job_id
    ]


@needs_blender
def test_a_blender_scene_renders_in_chunks_to_frames_and_a_playable_hls(
    studio: SceneStudio, tmp_path: Path
) -> None:
    # Given a texture asset and a layout scene that references it at //textures/grid.png
    blend, texture = make_blend(tmp_path)
    texture_id = studio.new_typed_asset("grid texture", "TEXTURE")
    studio.upload_file(texture_id, texture, "image/png")
    scene_id = studio.new_typed_asset("sh010 layout", "SHOT")
    studio.upload_file(scene_id, blend, "application/x-blender")
    studio.call("PUT", f"/assets/{scene_id}/dependencies/{texture_id}", {}, expect=201)
    # When a scene-review render is asked in chunks of 2 frames at half size
    job = studio.render(
        scene_id, {"preset": "scene-review", "options": {"chunkSize": 2, "resolutionPercent": 50}}
    )
    done = studio.finished(job["renderJobId"])
    # Then it SUCCEEDED with the scene's own range (1-6) in 3 chunks, every frame rendered once
    assert done["status"] == "SUCCEEDED", done
    scene = done["scene"]
    assert (scene["frameStart"], scene["frameEnd"], scene["chunks"], scene["width"]) == (1, 6, 3, 160)
    assert done["framesDone"] == 6 and done["progress"] == 100
    chunks = studio.call("GET", f"/renders/{job['renderJobId']}/chunks")
    assert [(c["frameStart"], c["frameEnd"], c["status"]) for c in chunks["items"]] == [
        (1, 2, "SUCCEEDED"),
        (3, 4, "SUCCEEDED"),
        (5, 6, "SUCCEEDED"),
    ]
    # And the lineage names the texture's exact version, object version and SHA-256, at the referenced path
    [dependency] = done["lineage"]["dependencies"]
    assert dependency["assetId"] == texture_id and dependency["version"] == 1
    assert dependency["sha256"] == hashlib.sha256(texture.read_bytes()).hexdigest()
    assert dependency["path"] == "textures/grid.png" and dependency["s3VersionId"]
    # And the frames are in the bucket by frame number, and the HLS plays for 6 frames at 24 fps
    bucket = studio.stack.env["MEDIA_BUCKET"]
    listed = studio.stack.client("s3").list_objects_v2(Bucket=bucket, Prefix=done["outputs"]["framesPrefix"])
    assert sorted(o["Key"].rsplit("/", 1)[1] for o in listed["Contents"]) == [
        f"frame_{n:06d}.png" for n in range(1, 7)
    ]
    assert_plays(studio, job["renderJobId"], 6, 24)
    # And progress events counted frames across chunks
    progress = progress_events(studio, scene_id, job["renderJobId"])
    assert progress and all(p["frames"] == 6 for p in progress)
    assert [p["framesDone"] for p in progress] == sorted(p["framesDone"] for p in progress)


@needs_synfig
def test_a_synfig_scene_renders_in_chunks_and_killing_a_chunk_retries_only_it(
    studio: SceneStudio, tmp_path: Path
) -> None:
    # Given a Synfig scene of 9 frames
    scene_id = studio.new_typed_asset("sh020 anim", "SHOT")
    studio.upload_file(scene_id, make_sif(tmp_path / "sh020.sif", frames=9), "application/x-synfig")
    # When it renders in 3 chunks and chunk 1's process is killed once while it runs
    job_id = studio.render(scene_id, {"preset": "scene-review", "options": {"chunkSize": 3}})["renderJobId"]
    killed: list[int] = []
    deadline = time.monotonic() + WAIT_SECONDS
    while not killed and time.monotonic() < deadline:
        listed = studio.call("GET", f"/renders/{job_id}/chunks")["items"]
        if len(listed) == 3 and listed[1]["status"] == "RUNNING":
            for pid in chunk_pids(job_id, 1):
                for child in children(pid):  # the renderer runs in its own process group
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(child, signal.SIGKILL)
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
        time.sleep(0.05)
    assert killed, "chunk 1 never ran"
    done = studio.finished(job_id)
    # Then the render SUCCEEDED, chunk 1 ran twice and the others once
    assert done["status"] == "SUCCEEDED", done
    chunks = studio.call("GET", f"/renders/{job_id}/chunks")["items"]
    assert [c["tries"] for c in chunks] == [1, 2, 1]
    assert all(c["status"] == "SUCCEEDED" for c in chunks)
    assert done["scene"]["frames"] == 9 and done["framesDone"] == 9
    assert_plays(studio, job_id, 9, 24)
    assert progress_events(studio, scene_id, job_id)


@needs_synfig
def test_a_scene_referencing_a_missing_file_fails_naming_it(studio: SceneStudio, tmp_path: Path) -> None:
    # Given a Synfig scene importing plates/bg.png, which no dependency provides
    scene_id = studio.new_typed_asset("sh030 comp", "SHOT")
    scene = make_sif(tmp_path / "sh030.sif", frames=3, imports="plates/bg.png")
    studio.upload_file(scene_id, scene, "application/x-synfig")
    # When it is rendered
    job_id = studio.render(scene_id, {"preset": "scene-frames"})["renderJobId"]
    failed = studio.finished(job_id)
    # Then it FAILED naming the path, with no frames and no chunks
    assert failed["status"] == "FAILED", failed
    assert failed["error"]["code"] == "SCENE_INPUT_MISSING"
    assert "plates/bg.png" in failed["error"]["message"]
    assert studio.call("GET", f"/renders/{job_id}/chunks")["items"] == []
    assert failed["outputs"] is None
