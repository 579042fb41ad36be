"""``GET /studio/usage``: a scripted studio day gives the figures of what was done, for admins and
producers only, never another studio's, and bad ranges answer 400 in the one error shape."""

from __future__ import annotations

import json
from typing import Any

import pytest

from keyframe import clock
from keyframe.renders.models import RenderChunkItem, RenderJobItem, chunk_sk, job_pk, studio_jobs_key
from keyframe.storage import activity
from keyframe.storage.transactions import Transaction
from keyframe.usage import quotas
from keyframe.usage.quotas import Quota
from tests.support.identity import add_member, register_studio


def _body(response: Any, status: int) -> Any:
    assert response.status == status, response.body[:500]
    return json.loads(response.body)


def _render(
    studio_id: str, job_id: str, preset: str, started: str, ended: str, *, scene: dict | None = None
) -> None:
    RenderJobItem(
        job_pk(studio_id, job_id),
        job_id=job_id,
        studio_id=studio_id,
        asset_id="asset-1",
        version=1,
        preset=preset,
        status="SUCCEEDED",
        lineage={},
        frames={},
        created_by="someone",
        created_at=started,
        updated_at=ended,
        started_at=started,
        ended_at=ended,
        gsi1pk=studio_jobs_key(studio_id),
        gsi1sk=f"{started}#{job_id}",
        scene=scene,
    ).save()


def _day(studio_id: str, actor_id: str) -> None:
    """An upload of 4096 bytes completed and a 90 s hls render finished today; one render yesterday."""
    tx = Transaction()
    quotas.reserve(tx, studio_id, Quota.STORAGE_BYTES, 4096)
    activity.record(studio_id, actor_id, "upload:completed", "upload", "up-1", {"size": 4096}, transaction=tx)
    today = clock.now().date().isoformat()
    _render(studio_id, "job-today", "hls", f"{today}T10:00:00.000Z", f"{today}T10:01:30.000Z")
    _render(studio_id, "job-old", "hls", "2001-01-01T10:00:00.000Z", "2001-01-01T10:10:00.000Z")


def test_a_studio_day_gives_the_figures_of_what_was_done(api) -> None:
    # Given a studio that completed one upload and finished one render today, and another studio
    admin = register_studio(api, studio_name="Usage Studio")
    other = register_studio(api, studio_name="Other Studio")
    _day(admin.studio_id, admin.user_id)
    _day(other.studio_id, other.user_id)
    _render(
        other.studio_id,
        "job-extra",
        "mp4",
        f"{clock.now().date()}T11:00:00.000Z",
        f"{clock.now().date()}T11:00:30.000Z",
    )
    today = clock.now().date().isoformat()
    # When the admin reads today's usage
    body = _body(api.get(f"/studio/usage?from={today}&to={today}", token=admin.access_token), 200)
    # Then the figures are exactly what was done, and nothing of the other studio
    assert body == {
        "from": today,
        "to": today,
        "storageBytes": 4096,
        "storageByDay": [{"date": today, "bytes": 4096, "changeBytes": 4096}],
        "uploadsCompleted": {"count": 1, "bytes": 4096},
        "rendersByPreset": {"hls": {"count": 1, "seconds": 90.0, "minutes": 1.5, "vcpuSeconds": 180.0}},
        "playbackEgress": {"bytes": 0, "links": 0, "byDay": [{"date": today, "bytes": 0, "links": 0}]},
        "activeMembers": 1,
    }


def test_only_admins_and_producers_read_usage(api) -> None:
    admin = register_studio(api, studio_name="Roles Studio")
    today = clock.now().date().isoformat()
    url = f"/studio/usage?from={today}&to={today}"
    producer = add_member(api, admin, "PRODUCER")
    artist = add_member(api, admin, "ARTIST")
    _body(api.get(url, token=producer.access_token), 200)
    assert _body(api.get(url, token=artist.access_token), 403)["error"]["code"] == "FORBIDDEN"


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("from=2026-02-01&to=2026-01-01", "INVALID_INPUT"),
        ("from=2024-01-01&to=2026-01-01", "INVALID_INPUT"),
        ("from=yesterday&to=2026-01-01", "VALIDATION_ERROR"),
        ("to=2026-01-01", "VALIDATION_ERROR"),
    ],
)
def test_bad_ranges_answer_400(api, query: str, code: str) -> None:
    admin = register_studio(api, studio_name="Bad Range Studio")
    error = _body(api.get(f"/studio/usage?{query}", token=admin.access_token), 400)["error"]
    assert error["code"] == code
    assert error["correlationId"]


def _chunk(studio_id: str, job_id: str, index: int, started: str, ended: str | None) -> None:
    RenderChunkItem(
        job_pk(studio_id, job_id), chunk_sk(index), index=index, frame_start=index * 10 + 1,
        frame_end=index * 10 + 10, frames=10, frames_done=10 if ended else 4, started_at=started,
        ended_at=ended, status="SUCCEEDED" if ended else "RUNNING", updated_at=ended or started,
    ).save()  # fmt: skip


def test_a_scene_render_counts_its_chunks_vcpu_seconds(api) -> None:
    # Given a scene render that ran 150 s with chunks of 60 s and 30 s, and a cancelled one whose
    # only chunk was still running 20 s after it started when the render ended
    admin = register_studio(api, studio_name="Scene Usage Studio")
    day = clock.now().date().isoformat()
    at = f"{day}T10:00:"
    scene = {"frames": 20, "renderer": "blender"}
    _render(admin.studio_id, "scene-1", "scene-frames", f"{at}00.000Z", f"{day}T10:02:30.000Z", scene=scene)
    _chunk(admin.studio_id, "scene-1", 0, f"{at}05.000Z", f"{day}T10:01:05.000Z")
    _chunk(admin.studio_id, "scene-1", 1, f"{at}10.000Z", f"{at}40.000Z")
    _render(admin.studio_id, "scene-2", "scene-frames", f"{at}00.000Z", f"{at}30.000Z", scene=scene)
    _chunk(admin.studio_id, "scene-2", 0, f"{at}10.000Z", None)
    # When the admin reads today's usage
    body = _body(api.get(f"/studio/usage?from={day}&to={day}", token=admin.access_token), 200)
    # Then the preset counts each chunk's seconds x a chunk's 2 vCPUs beside the wall-clock seconds
    assert body["rendersByPreset"] == {
        "scene-frames": {"count": 2, "seconds": 180.0, "minutes": 3.0, "vcpuSeconds": (60 + 30 + 20) * 2.0}
    }


def test_usage_counts_the_render_jobs_vcpus() -> None:
    from keyframe.renders.jobs import RENDER_JOB, SCENE_CHUNK_VCPUS
    from keyframe.usage.models import CHUNK_VCPUS, RENDER_VCPUS, render_job_pk

    assert float(RENDER_JOB["vcpus"]) == RENDER_VCPUS
    assert SCENE_CHUNK_VCPUS == CHUNK_VCPUS
    assert render_job_pk("s1", "j1") == job_pk("s1", "j1")
