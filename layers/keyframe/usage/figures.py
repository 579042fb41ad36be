"""A studio's usage over a range of UTC days, from stored data.

======================  ===============================================================  =====================
figure                  source                                                           exact?
======================  ===============================================================  =====================
storage bytes           the storage quota counter (uploads table), *now*                 yes
storage bytes per day   the counter minus the later days' changes, each day's change     yes (from the day
                        added with the counter's (:mod:`.storage_days`)                  they were first kept)
uploads completed       ``upload:completed`` activity entries in range (``size`` bytes)  yes
render seconds/preset   jobs of ``STUDIO#{s}#RENDERS`` (renders gsi1) ended in range,    yes (wall clock, as
                        ``endedAt - startedAt``                                          the minutes quota)
render vCPU-seconds     video presets: render seconds x the job definition's vCPUs;      yes; scenes: each
                        scene presets: the seconds of each chunk x a chunk's vCPUs       chunk's latest try
playback egress         each playback/download link issued counted with the bytes it      no: an estimate, a
                        points to, per day (:mod:`.egress`)                              link = one fetch
active members          distinct actors of the activity entries in range                 yes
======================  ===============================================================  =====================
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import Any

from keyframe.storage.activity import ActivityItem, activity_pk
from keyframe.usage import egress, quotas, storage_days
from keyframe.usage.models import (
    CHUNK_PREFIX,
    CHUNK_VCPUS,
    RENDER_VCPUS,
    RenderChunkView,
    RenderJobView,
    render_job_pk,
    studio_renders_key,
)
from keyframe.usage.quotas import Quota


def _bounds(first: date, last: date) -> tuple[str, str]:
    """ISO strings ``[first 00:00, last+1 00:00)`` comparable with stored ``...Z`` timestamps."""
    return first.isoformat(), (last + timedelta(days=1)).isoformat()


def _seconds(started: str | None, ended: str | None) -> float:
    if not started or not ended:
        return 0.0
    a = datetime.fromisoformat(started.replace("Z", "+00:00"))
    b = datetime.fromisoformat(ended.replace("Z", "+00:00"))
    return max(0.0, (b - a).total_seconds())


def scene_vcpu_seconds(job: RenderJobView) -> float:
    """A scene render's vCPU-seconds (see :func:`scene_render_vcpu_seconds`), from its job item."""
    return _chunk_vcpu_seconds(job.pk, job.ended_at)


def scene_render_vcpu_seconds(studio_id: str, render_job_id: str, ended_at: str | None) -> float:
    """A scene render's vCPU-seconds: each chunk's ``endedAt - startedAt`` x :data:`CHUNK_VCPUS`.

    One Query of the job's chunk items (renders table, pk ``STUDIO#{s}#RENDER#{id}``). Like a video
    render's seconds, this is the render's last attempt: a chunk stores its latest try only (earlier
    failed tries are overwritten) and the planning step of a retry resets the chunk items (a chunk
    whose frames an earlier attempt made counts 0); the probe and assembly steps are not counted. A
    chunk still running when the job ended (cancelled) counts until the job's ``ended_at``. The
    figure of ``GET /studio/usage`` and of the analytics record of the finished render (same
    function, so they agree). A render with no chunk item counts 0.
    """
    return _chunk_vcpu_seconds(render_job_pk(studio_id, render_job_id), ended_at)


def _chunk_vcpu_seconds(pk: str, job_ended_at: str | None) -> float:
    seconds = 0.0
    for chunk in RenderChunkView.query(pk, RenderChunkView.sk.startswith(CHUNK_PREFIX), consistent_read=True):
        seconds += _seconds(chunk.started_at, chunk.ended_at or job_ended_at)
    return seconds * CHUNK_VCPUS


def usage(studio_id: str, first: date, last: date) -> dict[str, Any]:
    """The studio's usage on the UTC days ``first..last`` (both included).

    Reads: one GetItem (storage counter); the studio's activity partition between the bounds
    (catalog table); the studio's render jobs created before the end (renders gsi1, filtered on
    ``endedAt``) and the chunk items of each scene render among them (renders table); the storage
    day items from ``first`` on with the counter around them (uploads table,
    :func:`keyframe.usage.storage_days.closing_balances`); the egress day items (catalog and renders
    tables, :func:`keyframe.usage.egress.by_day`).

    Returns ``{"storageBytes", "storageByDay": [{"date", "bytes", "changeBytes"}], "uploads":
    {"count", "bytes"}, "renders": {preset: {"count", "seconds", "vcpuSeconds"}}, "egressByDay":
    [{"date", "bytes", "links"}], "activeMembers"}``.
    """
    low, high = _bounds(first, last)
    uploads = {"count": 0, "bytes": 0}
    actors: set[str] = set()
    for entry in ActivityItem.query(
        activity_pk(studio_id), ActivityItem.sk.between(low, high), consistent_read=True
    ):
        if not (low <= entry.ts < high) or entry.studio_id != studio_id:
            continue
        if entry.actor_id:
            actors.add(entry.actor_id)
        if entry.action == "upload:completed":
            uploads["count"] += 1
            uploads["bytes"] += int((entry.details or {}).get("size") or 0)
    renders: dict[str, dict[str, float]] = defaultdict(
        lambda: {"count": 0, "seconds": 0.0, "vcpuSeconds": 0.0}
    )
    vcpus = float(RENDER_VCPUS)
    for job in RenderJobView.gsi1.query(
        studio_renders_key(studio_id),
        RenderJobView.gsi1sk < high,
        filter_condition=RenderJobView.ended_at.between(low, high),
    ):
        if job.studio_id != studio_id or not (low <= (job.ended_at or "") < high):
            continue
        seconds = _seconds(job.started_at, job.ended_at)
        figure = renders[job.preset]
        figure["count"] += 1
        figure["seconds"] += seconds
        if job.scene is None:
            figure["vcpuSeconds"] += seconds * vcpus
        else:
            figure["vcpuSeconds"] += scene_vcpu_seconds(job)
    return {
        "storageBytes": quotas.used(studio_id, Quota.STORAGE_BYTES),
        "storageByDay": storage_days.closing_balances(studio_id, first, last),
        "uploads": uploads,
        "renders": dict(renders),
        "egressByDay": egress.by_day(studio_id, first, last),
        "activeMembers": len(actors),
    }
