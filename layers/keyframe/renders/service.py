"""Render jobs: reading them, the slots, the one commit of a status change, and finishing attempts.

The renders table is written only here, by :mod:`keyframe.renders.requests` (the API's requests:
request, cancel, retry, through :func:`commit` and :func:`take_slot`) and by
:mod:`keyframe.renders.worker_writes` (the render container's writes).

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
- the container's writes (RUNNING, progress, outputs, try errors;
  :mod:`keyframe.renders.worker_writes`) are conditional on ``status = RUNNING`` and the attempt
  number: a late progress update after a cancel fails its condition, and the worker stops.

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

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pynamodb.exceptions import DoesNotExist

from keyframe.clock import now_iso
from keyframe.errors import KeyframeError, NotFound
from keyframe.events.publisher import stage
from keyframe.events.rooms import STUDIO_ROOM, asset_room
from keyframe.notifications.schemas import NotificationType
from keyframe.notifications.service import notify
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
from keyframe.renders.schemas import MAX_LIST_LIMIT, RenderError, RenderJob, RenderJobPage, RenderLogs
from keyframe.settings import load
from keyframe.storage import activity, cursors
from keyframe.storage.pages import index_key_names, query_page
from keyframe.storage.transactions import Cancelled, Transaction, retrying
from keyframe.usage import quotas
from keyframe.usage.quotas import Quota

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
def take_slot(tx: Transaction, studio_id: str) -> None:
    """Take one of the studio's render slots in ``tx`` (the slot counter goes up only below its limit).

    A cancellation labelled :data:`SLOTS_LABEL` means the studio has no free slot (:func:`refusal_of`).
    """
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
    """Reserve ``amount`` vCPUs of the studio's budget in ``tx`` (nothing when 0; a cancellation
    labelled :data:`VCPUS_LABEL` means the budget is used up, see :func:`refusal_of`)."""
    if amount > 0:
        quotas.reserve(tx, studio_id, Quota.RENDER_VCPUS, amount)


def _give_vcpus(tx: Transaction, studio_id: str, amount: int) -> None:
    if amount > 0:
        quotas.release(tx, studio_id, Quota.RENDER_VCPUS, amount)


def held_by(item: RenderJobItem) -> int:
    """The vCPUs the job holds of its studio's budget (0 for a job from before the budget)."""
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


def commit(item: RenderJobItem, entry: Entry, build: Callable[[], Transaction], after: RenderJob) -> None:
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
        commit(current, entry, build, after)
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
