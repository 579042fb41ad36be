"""Render jobs: the only write path of the renders table (with :mod:`keyframe.renders.requests`).

This module reads jobs, keeps the slots, commits every change with its activity entry, finishes
attempts and takes the render container's writes; :mod:`keyframe.renders.requests` makes the API's
requests (request, cancel, retry) through it.

The job record is the truth, and every status change is a conditional write:

- QUEUED is entered (create, retry) in one ``TransactWriteItems`` with the studio's slot counter
  going up *only if* it is below ``MAX_CONCURRENT_RENDERS_PER_STUDIO`` and its vCPU counter by the
  job's ``vcpus`` *only if* within ``RENDER_VCPUS_PER_STUDIO`` (else 429 + ``Retry-After``;
  :mod:`keyframe.renders.vcpus`); a scene render's hold grows in
  :func:`keyframe.renders.vcpus.hold_chunk_vcpus`;
- a terminal status (SUCCEEDED, FAILED, CANCELLED) is entered in one transaction with both counters
  going down (the vCPUs by what the job holds), on the condition that the job is still
  QUEUED/RUNNING *in the same attempt* and holds that much, so each job gives its slot and vCPUs
  back exactly once and nothing resurrects a finished job;
- the container's writes (RUNNING, progress, outputs, try errors) are conditional on
  ``status = RUNNING`` and the attempt number: a late progress update after a cancel fails its
  condition, and the worker stops.

Every status change that a user or the workflow makes (``render:requested``, ``render:retried``,
``render:cancelled``, ``render:succeeded``, ``render:failed``) writes its activity entry (catalog
table) **in the same transaction** through :func:`keyframe.storage.activity.record`: the change and
its entry are stored together or not at all, so no path can change a job's status without its entry.
The container's own writes (RUNNING, progress, outputs) are not user-facing changes and log nothing.

Each status change stores its ``render:status`` event (rooms ``studio`` and ``asset:{id}``, data = the
job as the change leaves it) in the same transaction (:func:`keyframe.events.publisher.stage`); each
progress write its ``render:progress``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pynamodb.exceptions import DoesNotExist, UpdateError

from keyframe.clock import now_iso
from keyframe.errors import KeyframeError, NotFound
from keyframe.events.publisher import stage
from keyframe.events.rooms import STUDIO_ROOM, asset_room
from keyframe.notifications.schemas import NotificationType
from keyframe.notifications.service import notify
from keyframe.observability import logger
from keyframe.renders import sources
from keyframe.renders.config import RendersSettings
from keyframe.renders.models import (
    ACTIVE,
    JOB_SK,
    TERMINAL,
    RenderJobItem,
    RenderStatus,
    asset_jobs_key,
    job_pk,
    studio_jobs_key,
)
from keyframe.renders.progress import ProgressUpdate
from keyframe.renders.schemas import RenderError, RenderJob, RenderJobPage, RenderLogs
from keyframe.settings import load
from keyframe.storage import activity, cursors
from keyframe.storage.pages import index_key_names, query_page
from keyframe.storage.transactions import Cancelled, Transaction, retrying
from keyframe.usage import quotas
from keyframe.usage.quotas import Quota

MAX_LIST_LIMIT = 100
MAX_FILTERED_REQUESTS = 4
"""DynamoDB requests a ``status``-filtered page may cost at most (the page may then be short)."""
TRANSACTION_ATTEMPTS = 4
"""Tries of a status transaction that lost a race with another transaction on the slot counter."""


# ------------------------------------------------------------------------------------------ reading
def load_job(studio_id: str, job_id: str) -> RenderJobItem:
    """The job item (consistent read).

    Raises
    ------
    NotFound
        ``RENDER_NOT_FOUND``: unknown id or another studio's job.
    """
    try:
        return RenderJobItem.get(job_pk(studio_id, job_id), JOB_SK, consistent_read=True)
    except DoesNotExist as exc:
        raise NotFound(
            "Render job not found", code="RENDER_NOT_FOUND", details={"renderJobId": job_id}
        ) from exc


def get_job(studio_id: str, job_id: str) -> RenderJob:
    """One render job of the studio (see :func:`load_job`)."""
    return RenderJob.of(load_job(studio_id, job_id))


def list_jobs(
    studio_id: str,
    *,
    asset_id: str | None = None,
    status: RenderStatus | None = None,
    limit: int = 25,
    cursor: str | None = None,
) -> RenderJobPage:
    """Render jobs of the studio, newest first, optionally of one asset and/or in one status.

    Reads ``gsi1`` (studio) or ``gsi2`` (asset) of the renders table; ``status`` is a filter applied
    within :data:`MAX_FILTERED_REQUESTS` requests, so a filtered page may be short while
    ``nextCursor`` still points where reading stopped.

    Raises
    ------
    NotFound
        ``ASSET_NOT_FOUND``: ``asset_id`` is not an asset of the studio (another studio's, or unknown;
        catalog table), as everywhere else in the API.
    InvalidInput
        ``INVALID_CURSOR``: a cursor of another studio or query, or tampered.
    """
    if asset_id:
        sources.require_asset(studio_id, asset_id)
    index = "gsi2" if asset_id else "gsi1"
    hash_key = asset_jobs_key(studio_id, asset_id) if asset_id else studio_jobs_key(studio_id)
    scope = cursors.scope_of("renders", assetId=asset_id, status=status.value if status else None)
    start = cursors.decode(cursor, studio_id=studio_id, scope=scope)
    page = query_page(
        RenderJobItem,
        hash_key,
        index=index,
        filter_condition=(RenderJobItem.status == status.value) if status else None,
        forward=False,
        limit=max(1, min(limit, MAX_LIST_LIMIT)),
        start_key=start,
        max_requests=MAX_FILTERED_REQUESTS if status else 1,
        key_names=index_key_names(index),
    )
    next_cursor = cursors.encode(page.next_key, studio_id=studio_id, scope=scope) if page.next_key else None
    return RenderJobPage(items=[RenderJob.of(item) for item in page.items], next_cursor=next_cursor)


# ------------------------------------------------------------------------------------------ events
def rooms_of(item: RenderJobItem) -> list[str]:
    """Where a job's events go: the studio and the asset's room."""
    return [STUDIO_ROOM, asset_room(item.asset_id)]


def stage_status(tx: Transaction, studio_id: str, after: RenderJob) -> None:
    """Store ``render:status`` with the change in ``tx``; ``after`` = the job as the change leaves it."""
    rooms = [STUDIO_ROOM, asset_room(after.asset_id)]
    stage(tx, studio_id, "render:status", after.to_json(), rooms=rooms)


@dataclass(frozen=True)
class Entry:
    """The activity entry of a status change: ``render:{what}`` by ``actor_id`` (``None``: the system).

    ``details`` come on top of ``{preset, version, attempt}``.
    """

    action: str
    actor_id: str | None
    attempt: int
    details: dict[str, Any] = field(default_factory=dict)


# ------------------------------------------------------------------------------------------ slots
def _take_slot(tx: Transaction, studio_id: str) -> None:
    quotas.reserve(tx, studio_id, Quota.CONCURRENT_RENDERS, 1)


def _give_slot(tx: Transaction, studio_id: str) -> None:
    quotas.release(tx, studio_id, Quota.CONCURRENT_RENDERS, 1)


VCPUS_LABEL = quotas.label(Quota.RENDER_VCPUS)
"""The label of the vCPU counter's update in a transaction (``Cancelled.failed``)."""

SLOTS_LABEL = quotas.label(Quota.CONCURRENT_RENDERS)
"""The label of the slot counter's update in a transaction (``Cancelled.failed``)."""


def _too_many(studio_id: str) -> KeyframeError:
    retry_after = load(RendersSettings).RENDER_RETRY_AFTER_SECONDS
    return quotas.refusal(studio_id, Quota.CONCURRENT_RENDERS, 1, retry_after=retry_after)


def hold_vcpus(tx: Transaction, studio_id: str, amount: int) -> None:
    if amount > 0:
        quotas.reserve(tx, studio_id, Quota.RENDER_VCPUS, amount)


def _give_vcpus(tx: Transaction, studio_id: str, amount: int) -> None:
    if amount > 0:
        quotas.release(tx, studio_id, Quota.RENDER_VCPUS, amount)


def held_by(item: RenderJobItem) -> int:
    return int(item.vcpus or 0)


def holds(held: int) -> Any:
    """The condition that a job still holds ``held`` vCPUs (absent: a job from before the budget)."""
    return (
        (RenderJobItem.vcpus == held)
        if held
        else (RenderJobItem.vcpus.does_not_exist() | (RenderJobItem.vcpus == 0))
    )


def refusal_of(exc: Cancelled, studio_id: str, vcpus_requested: int) -> KeyframeError | None:
    """The 429 answering a QUEUED transaction cancelled on a quota counter (``None``: another reason)."""
    if SLOTS_LABEL in exc.failed:
        return _too_many(studio_id)
    if VCPUS_LABEL in exc.failed:
        retry_after = load(RendersSettings).RENDER_RETRY_AFTER_SECONDS
        return quotas.refusal(studio_id, Quota.RENDER_VCPUS, vcpus_requested, retry_after=retry_after)
    return None


def active_renders(studio_id: str) -> int:
    """How many renders of the studio hold a slot (QUEUED + RUNNING) per the counter item."""
    return quotas.used(studio_id, Quota.CONCURRENT_RENDERS)


def _commit(item: RenderJobItem, entry: Entry, build: Callable[[], Transaction], after: RenderJob) -> None:
    """Commit the status change ``build()`` collects together with its activity entry and its
    ``render:status`` event (``after`` = the job as the change leaves it).

    One ``TransactWriteItems`` (renders table: job + slot counter; catalog table: the entry and the
    event's outbox item) through
    :func:`keyframe.storage.activity.record`; retried (the one policy,
    :func:`keyframe.storage.transactions.retrying`) when it only lost a race with another
    transaction (a fresh transaction and entry each time).

    Raises
    ------
    keyframe.storage.transactions.Cancelled
        A condition failed (``failed`` names the labels ``job`` / ``slots``), or the races went on.
    """

    def attempt(_: int) -> None:
        tx = build()
        stage_status(tx, item.studio_id, after)
        activity.record(
            item.studio_id,
            entry.actor_id,
            entry.action,
            "render",
            item.job_id,
            {"preset": item.preset, "version": int(item.version), "attempt": entry.attempt,
             **entry.details},
            project_id=item.project_id,
            asset_id=item.asset_id,
            transaction=tx,
        )  # fmt: skip

    retrying(attempt, attempts=TRANSACTION_ATTEMPTS)


# ------------------------------------------------------------------------------------------ finish
def finish(
    studio_id: str,
    job_id: str,
    attempt: int,
    status: RenderStatus,
    *,
    error: dict[str, str] | None = None,
    logs: dict[str, Any] | None = None,
    actor_id: str | None = None,
) -> RenderJobItem | None:
    """Move attempt ``attempt`` of a job from QUEUED/RUNNING to a terminal ``status``, giving its slot back.

    One transaction: the job and the slot counter (renders table) with the activity entry
    ``render:{succeeded|failed|cancelled}`` (catalog table). Emits ``render:status``.

    Returns
    -------
    RenderJobItem or None
        The job after the change; ``None`` when it was no longer QUEUED/RUNNING in that attempt
        (already finished, cancelled, or retried): nothing was written.
    """
    if status not in TERMINAL:
        raise ValueError(f"{status} is not a terminal status")
    for _ in range(TRANSACTION_ATTEMPTS):
        current = load_job(studio_id, job_id)  # the entry names its preset, version, asset and project
        if int(current.attempts) != attempt or current.state not in ACTIVE:
            return None
        if _finish_once(current, status, error, logs, actor_id):
            break
    else:
        return None
    item = load_job(studio_id, job_id)
    if item.started_at and item.ended_at:  # the attempt ran: its minutes count towards the month's quota
        quotas.add_render_seconds(studio_id, _seconds_between(item.started_at, item.ended_at))
    _notify_finished(item, status, error)
    return item


def _finish_once(
    current: RenderJobItem,
    status: RenderStatus,
    error: dict[str, str] | None,
    logs: dict[str, Any] | None,
    actor_id: str | None,
) -> bool:
    """One try of :func:`finish`'s transaction; False when the job changed meanwhile (read it again)."""
    studio_id, job_id, attempt = current.studio_id, current.job_id, int(current.attempts)
    held = held_by(current)
    now = now_iso()
    actions: list[Any] = [
        RenderJobItem.status.set(status.value),
        RenderJobItem.ended_at.set(now),
        RenderJobItem.updated_at.set(now),
        RenderJobItem.eta.remove(),
    ]
    if status is RenderStatus.SUCCEEDED:
        actions += [RenderJobItem.progress.set(100), RenderJobItem.error.remove()]
    if error:
        actions.append(RenderJobItem.error.set(error))
    if logs:
        actions.append(RenderJobItem.logs.set(logs))
    condition = (
        RenderJobItem.status.is_in(*[s.value for s in ACTIVE])
        & (RenderJobItem.attempts == attempt)
        & holds(held)
    )

    def build() -> Transaction:
        tx = Transaction()
        tx.update("job", RenderJobItem(job_pk(studio_id, job_id), JOB_SK), actions, condition=condition)
        _give_slot(tx, studio_id)
        _give_vcpus(tx, studio_id, held)
        return tx

    entry = Entry(f"render:{status.value.lower()}", actor_id, attempt, {"error": error} if error else {})
    after = RenderJob.of(current).model_copy(
        update={
            "status": status, "ended_at": now, "updated_at": now, "eta": None,
            **({"progress": 100, "error": None} if status is RenderStatus.SUCCEEDED else {}),
            **({"error": RenderError.model_validate(error)} if error else {}),
            **({"logs": RenderLogs.model_validate(logs)} if logs else {}),
        }
    )  # fmt: skip
    try:
        _commit(current, entry, build, after)
    except Cancelled as exc:
        if "job" in exc.failed:
            return False
        raise
    return True


def _seconds_between(start: str, end: str) -> float:
    """Seconds from ISO-8601 ``start`` to ``end`` (0 if either does not parse)."""
    try:
        return max(0.0, (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds())
    except ValueError:
        return 0.0


def _notify_finished(item: RenderJobItem, status: RenderStatus, error: dict[str, str] | None) -> None:
    """Tell the requester their render SUCCEEDED or FAILED (``render-finished`` / ``render-failed``,
    :func:`keyframe.notifications.service.notify`); a cancel tells nobody (someone chose it)."""
    if status not in (RenderStatus.SUCCEEDED, RenderStatus.FAILED):
        return
    succeeded = status is RenderStatus.SUCCEEDED
    notify(
        item.studio_id,
        [item.created_by],
        NotificationType.RENDER_FINISHED if succeeded else NotificationType.RENDER_FAILED,
        title=f"Your {item.preset} render of v{int(item.version)} {'is ready' if succeeded else 'failed'}",
        body=None if succeeded else (error or {}).get("message"),
        target={
            "projectId": item.project_id,
            "assetId": item.asset_id,
            "version": int(item.version),
            "renderJobId": item.job_id,
        },
    )


# ------------------------------------------------------------------------------------------ worker writes
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
