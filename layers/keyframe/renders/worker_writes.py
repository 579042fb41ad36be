"""The render container's writes to its job: the try starting, probe results, progress, checksums, outputs.

Both Batch workers (:mod:`keyframe.renders.worker`, :mod:`keyframe.renders.scene_worker`) write their
job only through this module. Every write is conditional on ``status = RUNNING`` and the attempt
number (renders table), so a late write after a cancel, a retry or a finish fails its condition and
the worker stops. These are not user-facing changes and write no activity entry; the start of the
first try (QUEUED -> RUNNING) stores its ``render:status`` event and each progress write its
``render:progress`` (:func:`keyframe.events.publisher.stage`, in the same transaction).

Status changes made by users and the workflow (request, cancel, retry, finish) live in
:mod:`keyframe.renders.service` and :mod:`keyframe.renders.requests`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from pynamodb.exceptions import UpdateError

from keyframe.clock import now_iso
from keyframe.errors import NotFound
from keyframe.events.publisher import stage
from keyframe.events.rooms import STUDIO_ROOM, asset_room
from keyframe.observability import logger
from keyframe.renders.models import ACTIVE, JOB_SK, RenderJobItem, RenderStatus, job_pk
from keyframe.renders.progress import ProgressUpdate
from keyframe.renders.schemas import RenderJob, RenderLogs
from keyframe.renders.service import load_job, stage_status
from keyframe.storage.transactions import Cancelled, Transaction


@dataclass(frozen=True)
class Running:
    """What the worker needs to know about the attempt it runs."""

    item: RenderJobItem
    first_try: bool


def _worker_condition(attempt: int) -> Any:
    return (RenderJobItem.status == RenderStatus.RUNNING.value) & (RenderJobItem.attempts == attempt)


def begin_try(
    studio_id: str, job_id: str, attempt: int, *, batch_job_id: str | None, batch_attempt: int | None
) -> Running | None:
    """The container starts (a try of attempt ``attempt``): QUEUED/RUNNING -> RUNNING, ``tries + 1``.

    Returns
    -------
    Running or None
        ``None`` when the job is not QUEUED/RUNNING in that attempt (cancelled, finished, or retried
        since): the container must exit without doing anything.
    """
    try:
        item = load_job(studio_id, job_id)
    except NotFound:
        return None
    if int(item.attempts) != attempt or item.state not in ACTIVE:
        return None
    first = item.state is RenderStatus.QUEUED
    now = now_iso()
    logs = {"batchJobId": batch_job_id, "batchAttempt": batch_attempt}
    actions: list[Any] = [
        RenderJobItem.status.set(RenderStatus.RUNNING.value),
        RenderJobItem.tries.add(1),
        RenderJobItem.started_at.set(RenderJobItem.started_at | now),
        RenderJobItem.updated_at.set(now),
        RenderJobItem.last_error.remove(),
        RenderJobItem.logs.set({k: v for k, v in logs.items() if v is not None}),
    ]
    if batch_job_id:
        actions.append(RenderJobItem.batch_job_id.set(batch_job_id))
    condition = RenderJobItem.status.is_in(*[s.value for s in ACTIVE]) & (RenderJobItem.attempts == attempt)
    if first:  # QUEUED -> RUNNING is a status change: stored with its render:status
        after = RenderJob.of(item).model_copy(
            update={
                "status": RenderStatus.RUNNING, "tries": int(item.tries or 0) + 1,
                "started_at": item.started_at or now, "updated_at": now,
                "logs": RenderLogs.model_validate({k: v for k, v in logs.items() if v is not None}),
                "batch_job_id": batch_job_id or item.batch_job_id,
            }
        )  # fmt: skip
        tx = Transaction().update("job", RenderJobItem(item.pk, item.sk), actions, condition=condition)
        stage_status(tx, studio_id, after)
        try:
            tx.commit()
        except Cancelled:
            return None
        item = load_job(studio_id, job_id)
        return Running(item, first)
    try:
        item.update(actions=actions, condition=condition)
    except UpdateError:
        return None
    return Running(item, first)


def _still_running(studio_id: str, job_id: str, attempt: int) -> bool:
    try:
        item = load_job(studio_id, job_id)
    except NotFound:
        return False
    return item.state is RenderStatus.RUNNING and int(item.attempts) == attempt


def is_running(studio_id: str, job_id: str, attempt: int) -> bool:
    """True while the job is RUNNING in ``attempt`` (one consistent read of the renders table)."""
    return _still_running(studio_id, job_id, attempt)


def record_scene(
    studio_id: str,
    job_id: str,
    attempt: int,
    scene: dict[str, Any],
    lineage: dict[str, Any],
    *,
    frames_done: int,
    frames: dict[str, int],
) -> bool:
    """Store what the probe step resolved (renders table, conditional on RUNNING in ``attempt``).

    Parameters
    ----------
    scene:
        :meth:`keyframe.renders.scenes.SceneSettings.to_json` plus ``probed: true``.
    lineage:
        The lineage with each dependency's working-tree ``path``.
    frames_done:
        Frames already in ``renders/{jobId}/frames/`` (a retry resumes from them).
    frames:
        ``{startFrame, endFrame}`` (end excluded) in scene frame numbers.

    Returns
    -------
    bool
        False when the job is no longer RUNNING in this attempt.
    """
    try:
        RenderJobItem(job_pk(studio_id, job_id), JOB_SK).update(
            actions=[
                RenderJobItem.scene.set(scene),
                RenderJobItem.lineage.set(lineage),
                RenderJobItem.frames_done.set(frames_done),
                RenderJobItem.frames.set(frames),
                RenderJobItem.updated_at.set(now_iso()),
            ],
            condition=_worker_condition(attempt),
        )
    except UpdateError:
        return False
    return True


def report_progress(studio_id: str, job_id: str, attempt: int, update: ProgressUpdate) -> bool:
    """Write progress (percent, encoding fps, ETA seconds) and emit ``render:progress``.

    Conditional on RUNNING in ``attempt`` and on the stored percent not being higher (a new Batch
    try starts from 0 again but the record never goes back; such an update is skipped).

    Returns
    -------
    bool
        False when the job is no longer RUNNING in this attempt: the worker must stop.
    """
    actions: list[Any] = [
        RenderJobItem.progress.set(update.progress),
        RenderJobItem.fps.set(round(update.fps, 2)),
        RenderJobItem.updated_at.set(now_iso()),
        RenderJobItem.eta.set(update.eta) if update.eta is not None else RenderJobItem.eta.remove(),
    ]
    condition = _worker_condition(attempt) & (RenderJobItem.progress <= update.progress)
    try:
        asset_id = _asset_of(studio_id, job_id)
    except NotFound:
        return False
    tx = Transaction().update(
        "job", RenderJobItem(job_pk(studio_id, job_id), JOB_SK), actions, condition=condition
    )
    stage(
        tx,
        studio_id,
        "render:progress",
        {"renderJobId": job_id, "assetId": asset_id, "attempt": attempt, **update.to_json()},
        rooms=[STUDIO_ROOM, asset_room(asset_id)],
    )
    try:
        tx.commit()
    except Cancelled:
        return _still_running(studio_id, job_id, attempt)
    return True


@functools.lru_cache(maxsize=256)
def _asset_of(studio_id: str, job_id: str) -> str:
    """The asset of a job (it never changes: one read per job and process)."""
    return str(load_job(studio_id, job_id).asset_id)


def record_try_error(studio_id: str, job_id: str, attempt: int, code: str, message: str) -> None:
    """Remember why this container try failed (``lastError``; becomes ``error`` if the attempt fails)."""
    try:
        RenderJobItem(job_pk(studio_id, job_id), JOB_SK).update(
            actions=[RenderJobItem.last_error.set({"code": code, "message": message[:1000]})],
            condition=_worker_condition(attempt),
        )
    except UpdateError:
        logger.info("try error not recorded: the job is no longer running", extra={"render_job_id": job_id})


def record_source_checksum(
    studio_id: str, job_id: str, attempt: int, lineage: dict[str, Any], sha256: str
) -> bool:
    """Store the SHA-256 the container computed over the exact bytes it read in the job's lineage.

    ``lineage.sha256`` becomes that digest and ``lineage.sha256Verified`` true (the caller has checked
    it against the version's declared checksum when there was one). Conditional on RUNNING in
    ``attempt`` (renders table).

    Parameters
    ----------
    lineage:
        The job's lineage as the container read it (the rest is kept as it is).
    sha256:
        Lowercase hex digest of the source object (64 characters).

    Returns
    -------
    bool
        False when the job is no longer RUNNING in this attempt (the worker must stop).

    Raises
    ------
    pynamodb.exceptions.UpdateError
        The write failed although the job is still RUNNING in this attempt (a DynamoDB error).
    """
    verified = {**lineage, "sha256": sha256, "sha256Verified": True}
    try:
        RenderJobItem(job_pk(studio_id, job_id), JOB_SK).update(
            actions=[RenderJobItem.lineage.set(verified), RenderJobItem.updated_at.set(now_iso())],
            condition=_worker_condition(attempt),
        )
    except UpdateError:
        if _still_running(studio_id, job_id, attempt):
            raise  # not the condition: DynamoDB failed, so this try fails and Batch retries it
        return False
    return True


def record_outputs(studio_id: str, job_id: str, attempt: int, outputs: dict[str, Any]) -> bool:
    """Store the outputs of the attempt (before the state machine marks it SUCCEEDED).

    Returns
    -------
    bool
        False when the job is no longer RUNNING in this attempt (the caller deletes the outputs).
    """
    try:
        RenderJobItem(job_pk(studio_id, job_id), JOB_SK).update(
            actions=[RenderJobItem.outputs.set(outputs), RenderJobItem.updated_at.set(now_iso())],
            condition=_worker_condition(attempt),
        )
    except UpdateError:
        return False
    return True
