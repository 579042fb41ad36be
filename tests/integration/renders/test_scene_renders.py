"""Scene renders under ``mock_aws``: the request's validation (400 before anything is queued), the
exact-inputs lineage, and the scene steps run in-process as Batch would run them (probe, each chunk,
assemble) with the real Synfig: chunk state, frames by number, a chunk that fails at a frame, a retry
that renders only the failed chunk, cancel during assembly leaving no outputs.

Tests that render skip, naming the package, on a machine without Synfig.
"""

from __future__ import annotations

import hashlib
import shlex
from pathlib import Path
from typing import Any

import boto3
import pytest

from keyframe.renders import chunks, scene_worker, scenes, service, tools
from tests.integration.renders.conftest import Spy, executions, invoke_task, publish, task_event
from tests.support.environment import MEDIA_BUCKET
from tests.support.identity import Session

needs_synfig = pytest.mark.skipif(
    tools.find("synfig") is None, reason=tools.missing_message(["synfig"]) or "synfig missing"
)


def sif(frames: int, imports: str | None = None) -> bytes:
    """A 160x120 Synfig canvas at 24 fps, frames 0..frames-1 (a moving circle; an optional import)."""
    layer = (
        '<layer type="import" active="true"><param name="filename">'
        f"<string>{imports}</string></param></layer>"
        if imports
        else ""
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><canvas version="1.2" width="160" height="120" '
        f'view-box="-4 3 4 -3" fps="24" begin-time="0f" end-time="{frames - 1}f" bgcolor="0.5 0.5 0.5 1">'
        f'{layer}<layer type="circle" active="true" version="0.2"><param name="radius"><real value="1"/>'
        "</param></layer></canvas>"
    ).encode()


SCENE_MEDIA = {"kind": "scene", "format": "sif", "contentType": "application/x-synfig"}


def render(api: Any, session: Session, asset_id: str, body: dict[str, Any]) -> Any:
    return api.post(f"/assets/{asset_id}/renders", json=body, token=session.access_token)


@pytest.mark.parametrize(
    ("options", "code"),
    [
        ({"frameStart": 10, "frameEnd": 5}, "VALIDATION_ERROR"),
        ({"chunkSize": 0}, "VALIDATION_ERROR"),
        ({"frameStart": 0, "frameEnd": 999_999}, "TOO_MANY_FRAMES"),
        ({"engine": "CYCLES"}, "UNSUPPORTED_OPTION"),
    ],
)
def test_bad_scene_requests_answer_400_before_anything_is_queued(
    api: Any, admin: Session, runs: Spy, options: dict[str, Any], code: str
) -> None:
    # Given a READY Synfig scene
    scene = publish(admin, sif(6), SCENE_MEDIA)
    # When a render asks for an impossible range or option
    response = render(api, admin, scene.asset_id, {"preset": "scene-frames", "options": options})
    # Then 400 with the code, no job and no execution
    assert response.status == 400, response.body
    assert response.json()["error"]["code"] == code
    assert service.list_jobs(admin.studio_id).items == [] and executions() == []


def test_a_video_is_not_a_scene(api: Any, admin: Session, target: Any, runs: Spy) -> None:
    response = render(api, admin, target.asset_id, {"preset": "scene-review"})
    assert response.status == 400 and response.json()["error"]["code"] == "SOURCE_NOT_SCENE"


def test_the_lineage_names_every_dependency_at_its_pinned_or_current_version(
    api: Any, admin: Session, runs: Spy
) -> None:
    # Given a scene using a plate (pinned to v1 of two) that itself uses a texture (current v1)
    scene = publish(admin, sif(6, "plate.png"), SCENE_MEDIA)
    plate = publish(
        admin, b"plate-1", {"kind": "image", "format": "png"}, project_id=scene.project_id, name="plate"
    )
    publish(admin, b"plate-2", {"kind": "image", "format": "png"}, asset_id=plate.asset_id)
    texture = publish(
        admin, b"texture", {"kind": "image", "format": "png"}, project_id=scene.project_id, name="tex"
    )
    for source, target, pin in ((scene, plate, 1), (plate, texture, None)):
        put = api.put(f"/assets/{source.asset_id}/dependencies/{target.asset_id}",
                      json={"pinnedVersion": pin} if pin else {}, token=admin.access_token)  # fmt: skip
        assert put.status == 201, put.body
    # When a scene render is requested
    response = render(api, admin, scene.asset_id, {"preset": "scene-review", "options": {"chunkSize": 2}})
    # Then the job's lineage lists both, with version, object and SHA-256, and the execution is a scene one
    assert response.status == 202, response.body
    job = response.json()
    deps = {d["assetId"]: d for d in job["lineage"]["dependencies"]}
    assert (deps[plate.asset_id]["version"], deps[plate.asset_id]["pinned"]) == (1, True)
    assert deps[plate.asset_id]["sha256"] == hashlib.sha256(b"plate-1").hexdigest()
    assert (deps[texture.asset_id]["version"], deps[texture.asset_id]["via"]) == (1, [plate.asset_id])
    assert executions()[0]["input"]["kind"] == "scene"
    assert job["scene"] == {"renderer": "synfig", "sceneFormat": "sif", "format": "PNG", "probed": False}


def _run_steps(session: Session, job_id: str, size: int, attempt: int = 1) -> list[int]:
    """Every chunk step of ``attempt`` as Batch's array children would run (in order); the exit codes."""
    plan = {"task": "planChunks", "studioId": session.studio_id, "renderJobId": job_id, "attempt": attempt}
    assert invoke_task("render-finalize", plan) == {"size": size}
    return [scene_worker.run("chunk", session.studio_id, job_id, attempt, index) for index in range(size)]


def _frames(session: Session, job_id: str) -> list[str]:
    listed = boto3.client("s3").list_objects_v2(
        Bucket=MEDIA_BUCKET, Prefix=scenes.frames_prefix(session.studio_id, job_id)
    )
    return sorted(o["Key"].rsplit("/", 1)[1] for o in listed.get("Contents", []))


@needs_synfig
def test_a_scene_renders_in_chunks_resumes_after_a_failed_chunk_and_assembles(
    api: Any, admin: Session, runs: Spy, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a 6-frame scene requested in chunks of 2
    scene = publish(admin, sif(6), SCENE_MEDIA)
    job_id = render(
        api, admin, scene.asset_id, {"preset": "scene-frames", "options": {"chunkSize": 2}}
    ).json()["renderJobId"]
    assert scene_worker.run("probe", admin.studio_id, job_id, 1) == 0
    probed = service.get_job(admin.studio_id, job_id)
    assert (probed.scene["frameStart"], probed.scene["frameEnd"], probed.scene["chunks"]) == (0, 5, 3)
    # When the renderer dies at frame 3 (chunk 1's second frame) on every try
    real = scene_worker.render_command

    def crash_at_3(settings: Any, scene_path: Path, out: Path, first: int, last: int) -> Any:
        """The real renderer, then frame 3's file removed and a segfault's exit code."""
        args, outputs = real(settings, scene_path, out, first, last)
        if first <= 3 <= last:
            lost = next(path for path, frame in outputs.items() if frame == 3)
            args = ["sh", "-c", f"{shlex.join(args)}; rm -f {lost}; exit 139"]
        return args, outputs

    monkeypatch.setattr(scene_worker, "render_command", crash_at_3)
    codes = _run_steps(admin, job_id, 3)
    # Then chunk 1 fails naming frame 3, and every frame rendered is stored
    assert codes == [0, 1, 0]
    failed = {c.index: c for c in chunks.list_chunks(admin.studio_id, job_id).items}
    assert failed[1].status == "FAILED" and failed[1].error["frame"] == 3
    # (frame 2, rendered before the crash, is kept too: the retry resumes after it)
    assert _frames(admin, job_id) == [f"frame_{n:06d}.png" for n in (0, 1, 2, 4, 5)]
    # And when Batch gives up, the job is FAILED with the frame in its reason
    batch_failed = task_event(
        "mark_failed_batch_job", studioId=admin.studio_id, renderJobId=job_id, attempt=1
    )
    invoke_task("render-mark-failed", batch_failed)
    ended = service.get_job(admin.studio_id, job_id)
    assert (
        ended.status == "FAILED" and ended.error.code == "CHUNK_FAILED" and "frame 3" in ended.error.message
    )
    # When it is retried with a renderer that works: only chunk 1 renders again
    monkeypatch.setattr(scene_worker, "render_command", real)
    assert api.post(f"/renders/{job_id}/retry", token=admin.access_token).status == 202
    assert scene_worker.run("probe", admin.studio_id, job_id, 2) == 0
    states = [c.status for c in chunks.list_chunks(admin.studio_id, job_id).items]
    assert states == ["SUCCEEDED", "PENDING", "SUCCEEDED"]
    assert _run_steps(admin, job_id, 3, attempt=2) == [0, 0, 0]
    tries = [c.tries for c in chunks.list_chunks(admin.studio_id, job_id).items]
    assert tries == [1, 2, 1]
    # And the assembly lists all six frames, and the job SUCCEEDS
    assert scene_worker.run("assemble", admin.studio_id, job_id, 2) == 0
    invoke_task(
        "render-finalize", task_event("finalize", studioId=admin.studio_id, renderJobId=job_id, attempt=2)
    )
    done = service.get_job(admin.studio_id, job_id)
    assert done.status == "SUCCEEDED" and done.frames_done == 6 and done.outputs.frame_count == 6
    assert _frames(admin, job_id) == [f"frame_{n:06d}.png" for n in range(6)]


@needs_synfig
def test_a_missing_reference_fails_the_probe_naming_it(api: Any, admin: Session, runs: Spy) -> None:
    scene = publish(admin, sif(3, "plates/bg.png"), SCENE_MEDIA)
    job_id = render(api, admin, scene.asset_id, {"preset": "scene-frames"}).json()["renderJobId"]
    assert scene_worker.run("probe", admin.studio_id, job_id, 1) == scene_worker.EXIT_FATAL
    job = service.load_job(admin.studio_id, job_id)
    assert job.last_error["code"] == "SCENE_INPUT_MISSING" and "plates/bg.png" in job.last_error["message"]
    assert chunks.chunk_items(admin.studio_id, job_id) == []


@needs_synfig
def test_cancel_during_assembly_ends_cancelled_with_no_outputs(
    api: Any, admin: Session, runs: Spy, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a scene-review whose frames are all rendered
    scene = publish(admin, sif(4), SCENE_MEDIA)
    job_id = render(
        api, admin, scene.asset_id, {"preset": "scene-review", "options": {"chunkSize": 2}}
    ).json()["renderJobId"]
    assert scene_worker.run("probe", admin.studio_id, job_id, 1) == 0
    assert _run_steps(admin, job_id, 2) == [0, 0]
    # When it is cancelled while the assembly encodes
    real_ffmpeg = scene_worker.SceneWorker._ffmpeg

    def cancel_then_encode(self: Any, *args: Any) -> None:
        assert api.delete(f"/renders/{job_id}", token=admin.access_token).status == 200
        real_ffmpeg(self, *args)

    monkeypatch.setattr(scene_worker.SceneWorker, "_ffmpeg", cancel_then_encode)
    assert scene_worker.run("assemble", admin.studio_id, job_id, 1) == 0
    # Then it is CANCELLED, lists no outputs, and nothing is left in the attempt's folder
    job = service.get_job(admin.studio_id, job_id)
    assert job.status == "CANCELLED" and job.outputs is None
    prefix = f"studios/{admin.studio_id}/renders/{job_id}/attempt-1/"
    assert "Contents" not in boto3.client("s3").list_objects_v2(Bucket=MEDIA_BUCKET, Prefix=prefix)
