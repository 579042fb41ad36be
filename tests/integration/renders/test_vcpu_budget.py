"""The studio's render vCPU budget (``RENDER_VCPUS_PER_STUDIO``): a video render holds 2 vCPUs, a scene
render 2 per chunk (array child); refused with ``RENDER_VCPUS_QUOTA_EXCEEDED`` before any work, exact
under concurrency, given back on cancel / fail / finish, shown at ``GET /studio/quotas``."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from keyframe.renders import service, worker_writes
from keyframe.renders.models import JOB_SK, RenderJobItem, job_pk
from tests.integration.renders.conftest import (
    Spy,
    Target,
    executions,
    invoke_task,
    publish,
    set_env,
    task_event,
)
from tests.integration.renders.test_scene_renders import SCENE_MEDIA, sif
from tests.support.identity import Session


def _vcpus(api: Any, session: Session) -> dict[str, int]:
    response = api.get("/studio/quotas", token=session.access_token)
    assert response.status == 200, response.body
    return response.json()["renderVcpus"]


def _render(api: Any, session: Session, asset_id: str, body: dict[str, Any]) -> Any:
    return api.post(f"/assets/{asset_id}/renders", json=body, token=session.access_token)


def test_video_renders_hold_two_vcpus_each_and_give_them_back_when_they_end(
    api: Any, admin: Session, target: Target, runs: Spy, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a studio allowed 4 vCPUs (and more concurrent renders than that)
    set_env(monkeypatch, RENDER_VCPUS_PER_STUDIO=4, MAX_CONCURRENT_RENDERS_PER_STUDIO=10)
    first = _render(api, admin, target.asset_id, {"preset": "hls"})
    second = _render(api, admin, target.asset_id, {"preset": "review-mp4"})
    assert (first.status, second.status) == (202, 202)
    assert _vcpus(api, admin) == {"limit": 4, "used": 4}
    # When a third asks
    third = _render(api, admin, target.asset_id, {"preset": "filmstrip"})
    # Then 429 names the vCPU quota, and nothing more was queued
    assert third.status == 429, third.body
    error = third.json()["error"]
    assert error["code"] == "RENDER_VCPUS_QUOTA_EXCEEDED"
    assert error["details"] == {"quota": "renderVcpus", "limit": 4, "used": 4, "requested": 2}
    assert int(third.headers["Retry-After"]) > 0
    assert len(executions()) == 2
    # When one is cancelled and the other fails, both give their vCPUs back (never below 0)
    assert api.delete(f"/renders/{first.json()['renderJobId']}", token=admin.access_token).status == 200
    assert _vcpus(api, admin)["used"] == 2
    failed = task_event(
        "mark_failed_batch_job", studioId=admin.studio_id, renderJobId=second.json()["renderJobId"], attempt=1
    )
    invoke_task("render-mark-failed", failed)
    invoke_task("render-mark-failed", failed)  # delivered twice: given back once
    assert _vcpus(api, admin)["used"] == 0
    # And a retry takes them again
    assert api.post(f"/renders/{first.json()['renderJobId']}/retry", token=admin.access_token).status == 202
    assert _vcpus(api, admin)["used"] == 2


def test_a_scene_render_with_a_known_range_holds_two_vcpus_per_chunk_or_is_refused_before_queueing(
    api: Any, admin: Session, runs: Spy, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a 6-frame Synfig scene and a budget of 4 vCPUs
    set_env(monkeypatch, RENDER_VCPUS_PER_STUDIO=4)
    scene = publish(admin, sif(6), SCENE_MEDIA)
    options = {"frameStart": 0, "frameEnd": 5, "chunkSize": 2}  # 3 chunks: 6 vCPUs
    # When it asks for 3 chunks
    refused = _render(api, admin, scene.asset_id, {"preset": "scene-frames", "options": options})
    # Then 429 before anything is queued
    assert refused.status == 429, refused.body
    assert refused.json()["error"]["details"]["requested"] == 6
    assert executions() == [] and service.list_jobs(admin.studio_id).items == []
    # When the budget is 8, the render holds 6 from QUEUED
    set_env(monkeypatch, RENDER_VCPUS_PER_STUDIO=8)
    accepted = _render(api, admin, scene.asset_id, {"preset": "scene-frames", "options": options})
    assert accepted.status == 202, accepted.body
    assert accepted.json()["vcpus"] == 6
    assert _vcpus(api, admin) == {"limit": 8, "used": 6}
    # And a default chunk size never needs more than the whole budget (4 chunks of 2 here)
    set_env(monkeypatch, RENDER_VCPUS_PER_STUDIO=8)
    assert api.delete(f"/renders/{accepted.json()['renderJobId']}", token=admin.access_token).status == 200
    wide = {"frameStart": 0, "frameEnd": 5999}  # Synfig default sizing: 900 frames/chunk -> 7 chunks
    default_sized = _render(api, admin, scene.asset_id, {"preset": "scene-frames", "options": wide})
    assert default_sized.status == 202, default_sized.body
    assert _vcpus(api, admin) == {"limit": 8, "used": 8}


def _probed(session: Session, job_id: str, chunks: int) -> None:
    """What the probe step stores (the scene's range read, ``chunks`` planned), without a renderer."""
    running = worker_writes.begin_try(session.studio_id, job_id, 1, batch_job_id="probe", batch_attempt=1)
    assert running is not None
    item = RenderJobItem.get(job_pk(session.studio_id, job_id), JOB_SK)
    scene = {**(item.scene or {}), "probed": True, "chunks": chunks, "frameStart": 0,
             "frameEnd": 2 * chunks - 1, "frameStep": 1, "chunkSize": 2, "fps": 24, "width": 160,
             "height": 120}  # fmt: skip
    assert worker_writes.record_scene(
        session.studio_id,
        job_id,
        1,
        scene,
        item.lineage,
        frames_done=0,
        frames={"startFrame": 0, "endFrame": 6},
    )


def test_planning_a_scene_array_grows_the_hold_or_fails_the_job_before_any_chunk(
    api: Any, admin: Session, target: Target, runs: Spy, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a budget of 8 and two scene renders whose range comes from the scene (each holds 2: its probe)
    set_env(monkeypatch, RENDER_VCPUS_PER_STUDIO=8)
    scene = publish(admin, sif(6), SCENE_MEDIA)
    jobs = [
        _render(api, admin, scene.asset_id, {"preset": "scene-frames"}).json()["renderJobId"]
        for _ in range(2)
    ]
    assert _vcpus(api, admin)["used"] == 4
    # When the first plans 3 chunks: it holds 6
    _probed(admin, jobs[0], 3)
    plan = {"task": "planChunks", "studioId": admin.studio_id, "attempt": 1}
    assert invoke_task("render-finalize", {**plan, "renderJobId": jobs[0]}) == {"size": 3}
    assert invoke_task("render-finalize", {**plan, "renderJobId": jobs[0]}) == {"size": 3}  # again: no change
    assert _vcpus(api, admin)["used"] == 8
    # When the second plans 3 chunks with 0 vCPUs free: planning fails, and the Catch fails the job
    _probed(admin, jobs[1], 3)
    with pytest.raises(Exception, match="renderVcpus"):
        invoke_task("render-finalize", {**plan, "renderJobId": jobs[1]})
    invoke_task(
        "render-mark-failed",
        {"studioId": admin.studio_id, "renderJobId": jobs[1], "attempt": 1,
         "error": {"Error": "TooManyRequests", "Cause": "planChunks"}},
    )  # fmt: skip
    ended = service.get_job(admin.studio_id, jobs[1])
    assert ended.status == "FAILED" and ended.error.code == "RENDER_VCPUS_QUOTA_EXCEEDED"
    # Then its probe's 2 are back; the first's 6 are back when it ends
    assert _vcpus(api, admin)["used"] == 6
    assert api.delete(f"/renders/{jobs[0]}", token=admin.access_token).status == 200
    assert _vcpus(api, admin)["used"] == 0


def test_the_budget_is_exact_when_requests_race(
    api: Any, admin: Session, target: Target, runs: Spy, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a budget of 6 vCPUs (3 video renders) and room for 20 concurrent renders
    set_env(monkeypatch, RENDER_VCPUS_PER_STUDIO=6, MAX_CONCURRENT_RENDERS_PER_STUDIO=20)
    statuses: list[int] = []
    lock = threading.Lock()

    def ask() -> None:
        status = _render(api, admin, target.asset_id, {"preset": "filmstrip"}).status
        with lock:
            statuses.append(status)

    # When 8 requests race
    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Then exactly 3 were accepted, and the counter says 6
    assert sorted(statuses) == [202] * 3 + [429] * 5
    assert _vcpus(api, admin) == {"limit": 6, "used": 6}
    # And cancelling them all gives back exactly 6
    for job in service.list_jobs(admin.studio_id).items:
        assert api.delete(f"/renders/{job.render_job_id}", token=admin.access_token).status == 200
    assert _vcpus(api, admin)["used"] == 0
