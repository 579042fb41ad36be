"""Render jobs: the only write path of the renders table.

The job record is the truth, and every status change is a conditional write:

- QUEUED is entered (create, retry) in one ``TransactWriteItems`` with the studio's slot counter
  going up *only if* it is below ``MAX_CONCURRENT_RENDERS_PER_STUDIO`` (else 429 + ``Retry-After``);
- a terminal status (SUCCEEDED, FAILED, CANCELLED) is entered in one transaction with the counter
  going down, on the condition that the job is still QUEUED/RUNNING *in the same attempt*, so each
  job gives its slot back exactly once and nothing resurrects a finished job;
- the container's writes (RUNNING, progress, outputs, try errors) are conditional on
  ``status = RUNNING`` and the attempt number: a late progress update after a cancel fails its
  condition, and the worker stops.

Every status change that a user or the workflow makes (``render:requested``, ``render:retried``,
``render:cancelled``, ``render:succeeded``, ``render:failed``) writes its activity entry (catalog
table) **in the same transaction** through :func:`keyframe.storage.activity.record`: the change and
its entry are stored together or not at all, so no path can change a job's status without its entry.
The container's own writes (RUNNING, progress, outputs) are not user-facing changes and log nothing.

After each status change ``render:status`` is emitted (rooms ``studio`` and ``asset:{id}``) with the
job; after each progress write ``render:progress``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pynamodb.exceptions import DoesNotExist, UpdateError

from keyframe.errors import Conflict, NotFound, TooManyRequests
from keyframe.events.publisher import emit
from keyframe.events.rooms import STUDIO_ROOM, asset_room
from keyframe.identity.permissions import Permission, Principal, require_owner_or
from keyframe.observability import logger
from keyframe.renders import execution, presets, sources, storage
from keyframe.renders.config import RendersSettings
from keyframe.renders.models import (
    ACTIVE,
    JOB_SK,
    SLOTS_SK,
    TERMINAL,
    RenderJobItem,
    RenderSlotsItem,
    RenderStatus,
    asset_jobs_key,
    job_pk,
    now_iso,
    slots_pk,
    studio_jobs_key,
)
from keyframe.renders.progress import ProgressUpdate
from keyframe.renders.schemas import RenderJob, RenderJobPage, RenderRequest
from keyframe.settings import load
from keyframe.storage import activity, cursors
from keyframe.storage.pages import index_key_names, query_page
from keyframe.storage.transactions import Cancelled, Transaction, retrying

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


def _emit_status(item: RenderJobItem) -> None:
    emit(item.studio_id, "render:status", RenderJob.of(item).to_json(), rooms=rooms_of(item))


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
    limit = load(RendersSettings).MAX_CONCURRENT_RENDERS_PER_STUDIO
    tx.update(
        "slots",
        RenderSlotsItem(slots_pk(studio_id), SLOTS_SK),
        [RenderSlotsItem.active.add(1)],
        condition=RenderSlotsItem.active.does_not_exist() | (RenderSlotsItem.active < limit),
    )


def _give_slot(tx: Transaction, studio_id: str) -> None:
    tx.update("slots", RenderSlotsItem(slots_pk(studio_id), SLOTS_SK), [RenderSlotsItem.active.add(-1)])


def _too_many(studio_id: str) -> TooManyRequests:
    settings = load(RendersSettings)
    return TooManyRequests(
        f"Your studio already has {settings.MAX_CONCURRENT_RENDERS_PER_STUDIO} renders queued or running; "
        "wait for one to finish or cancel one",
        code="RENDER_LIMIT_REACHED",
        retry_after=settings.RENDER_RETRY_AFTER_SECONDS,
        details={"limit": settings.MAX_CONCURRENT_RENDERS_PER_STUDIO},
    )


def active_renders(studio_id: str) -> int:
    """How many renders of the studio hold a slot (QUEUED + RUNNING) per the counter item."""
    try:
        return int(RenderSlotsItem.get(slots_pk(studio_id), SLOTS_SK, consistent_read=True).active or 0)
    except DoesNotExist:
        return 0


def _commit(item: RenderJobItem, entry: Entry, build: Callable[[], Transaction]) -> None:
    """Commit the status change ``build()`` collects together with its activity entry.

    One ``TransactWriteItems`` (renders table: job + slot counter; catalog table: the entry) through
    :func:`keyframe.storage.activity.record`; retried (the one policy,
    :func:`keyframe.storage.transactions.retrying`) when it only lost a race with another
    transaction (a fresh transaction and entry each time).

    Raises
    ------
    keyframe.storage.transactions.Cancelled
        A condition failed (``failed`` names the labels ``job`` / ``slots``), or the races went on.
    """

    def attempt(_: int) -> None:
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
            transaction=build(),
        )  # fmt: skip

    retrying(attempt, attempts=TRANSACTION_ATTEMPTS)


# ------------------------------------------------------------------------------------------ request
def _lineage(source: sources.Source, bucket: str) -> dict[str, Any]:
    key = source.file["key"]
    lineage: dict[str, Any] = {
        "assetId": source.asset_id,
        "version": source.version,
        "key": key,
        "sha256": source.file.get("sha256"),
        "size": source.file.get("size"),
    }
    version_id = (
        source.file.get("s3VersionId")
        or source.file.get("versionId")
        or sources.object_version_id(bucket, key)
    )
    if version_id:
        lineage["s3VersionId"] = version_id
    return {k: v for k, v in lineage.items() if v is not None}


def new_job(principal: Principal, asset_id: str, request: RenderRequest) -> RenderJobItem:
    """Validate a render request and build its QUEUED job item (not written).

    Raises
    ------
    NotFound
        Unknown asset/version or another studio's (catalog).
    Conflict
        ``NO_CURRENT_VERSION`` / ``VERSION_NOT_READY``.
    InvalidInput
        ``SOURCE_NOT_VIDEO``, ``UNSUPPORTED_OPTION``, ``TRIM_OUT_OF_RANGE``, ``INVALID_TIMECODE``,
        ``TOO_FEW_FRAMES``.
    """
    settings = load(RendersSettings)
    source = sources.resolve(principal.studio_id, asset_id, request.version)
    now = now_iso()
    watermark = ""
    if request.options and request.options.watermark:
        watermark = f"{sources.viewer_label(principal.user_id)} {principal.user_id[:8]} {now[:19]}Z"
    texts = presets.RenderTexts(source.asset_name, f"v{source.version:03d}", watermark)
    plan = presets.plan(request.preset, request.options, presets.SourceMedia.from_media(source.media), texts)
    job_id = uuid.uuid4().hex
    sort = f"{now}#{job_id}"
    options = (
        request.options.model_dump(mode="json", by_alias=True, exclude_none=True) if request.options else {}
    )
    return RenderJobItem(
        job_pk(principal.studio_id, job_id),
        JOB_SK,
        gsi1pk=studio_jobs_key(principal.studio_id),
        gsi1sk=sort,
        gsi2pk=asset_jobs_key(principal.studio_id, asset_id),
        gsi2sk=sort,
        job_id=job_id,
        studio_id=principal.studio_id,
        asset_id=asset_id,
        project_id=source.project_id,
        version=source.version,
        preset=plan.preset.name,
        options=options,
        priority=request.priority.value,
        status=RenderStatus.QUEUED.value,
        progress=0,
        attempts=1,
        tries=0,
        lineage=_lineage(source, settings.MEDIA_BUCKET),
        frames=plan.frames.to_json(),
        texts={
            "assetName": texts.asset_name,
            "versionLabel": texts.version_label,
            "watermark": texts.watermark,
        },
        created_by=principal.user_id,
        created_at=now,
        updated_at=now,
    )


def request_render(principal: Principal, asset_id: str, request: RenderRequest) -> RenderJob:
    """Create a QUEUED render job and start its execution (``POST /assets/{assetId}/renders``).

    Writes the job, takes a slot (renders table) and appends ``render:requested`` (catalog activity)
    in one transaction, emits ``render:status`` and starts the state machine. A start failure ends
    the job FAILED (``START_FAILED``, with ``render:failed``) and gives the slot back.

    Raises
    ------
    TooManyRequests
        ``RENDER_LIMIT_REACHED``: the studio's renders in flight are at the limit.
    NotFound, Conflict, InvalidInput
        See :func:`new_job`.
    """
    item = new_job(principal, asset_id, request)

    def build() -> Transaction:
        tx = Transaction()
        tx.put("job", item, condition=RenderJobItem.pk.does_not_exist())
        _take_slot(tx, principal.studio_id)
        return tx

    entry = Entry("render:requested", principal.user_id, 1, {"priority": item.priority})
    try:
        _commit(item, entry, build)
    except Cancelled as exc:
        if "slots" in exc.failed:
            raise _too_many(principal.studio_id) from exc
        raise
    _emit_status(item)
    return RenderJob.of(_launch(item))


def _launch(item: RenderJobItem) -> RenderJobItem:
    """Start the execution of the job's current attempt; a failure ends the attempt FAILED."""
    attempt = int(item.attempts)
    try:
        arn = execution.start(item.studio_id, item.job_id, attempt, item.priority, item.preset)
    except Exception as exc:
        logger.exception("render execution did not start", extra={"render_job_id": item.job_id})
        error = {"code": "START_FAILED", "message": f"The render could not be started: {type(exc).__name__}"}
        return finish(item.studio_id, item.job_id, attempt, RenderStatus.FAILED, error=error) or item
    try:
        RenderJobItem(item.pk, item.sk).update(
            actions=[RenderJobItem.execution_arn.set(arn)],
            condition=(RenderJobItem.attempts == attempt),
        )
        item.execution_arn = arn
    except UpdateError:
        logger.warning("execution ARN not recorded (the job moved on)", extra={"render_job_id": item.job_id})
    return item


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
    current = load_job(studio_id, job_id)  # the entry names its preset, version, asset and project
    if int(current.attempts) != attempt or current.state not in ACTIVE:
        return None
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
    condition = RenderJobItem.status.is_in(*[s.value for s in ACTIVE]) & (RenderJobItem.attempts == attempt)

    def build() -> Transaction:
        tx = Transaction()
        tx.update("job", RenderJobItem(job_pk(studio_id, job_id), JOB_SK), actions, condition=condition)
        _give_slot(tx, studio_id)
        return tx

    entry = Entry(f"render:{status.value.lower()}", actor_id, attempt, {"error": error} if error else {})
    try:
        _commit(current, entry, build)
    except Cancelled as exc:
        if "job" in exc.failed:
            return None
        raise
    item = load_job(studio_id, job_id)
    _emit_status(item)
    return item


# ------------------------------------------------------------------------------------------ cancel / retry
def cancel(principal: Principal, job_id: str) -> RenderJob:
    """Cancel a QUEUED or RUNNING job (``DELETE /renders/{renderJobId}``).

    CANCELLED is written first (conditional, with the slot given back), then the execution is
    stopped, the Batch job terminated and the attempt's partial outputs deleted from the bucket.

    Raises
    ------
    NotFound
        ``RENDER_NOT_FOUND``.
    Conflict
        ``RENDER_FINISHED``: the job is already SUCCEEDED, FAILED or CANCELLED.
    Forbidden
        ``NOT_RENDER_REQUESTER``: someone else's job, and the role lacks ``render:control-any``.
    """
    item = load_job(principal.studio_id, job_id)
    require_owner_or(principal, item.created_by, Permission.RENDER_CONTROL_ANY)
    for _ in range(3):
        if item.state in TERMINAL:
            raise Conflict(
                f"The render already ended {item.status}",
                code="RENDER_FINISHED",
                details={"status": item.status},
            )
        done = finish(
            principal.studio_id, job_id, int(item.attempts), RenderStatus.CANCELLED,
            error={"code": "CANCELLED", "message": "Cancelled by a user"}, actor_id=principal.user_id,
        )  # fmt: skip
        if done is not None:
            _stop_attempt(item, "Cancelled by a user")
            return RenderJob.of(load_job(principal.studio_id, job_id))
        item = load_job(principal.studio_id, job_id)
    raise Conflict("The render changed while cancelling; try again", code="RENDER_CHANGED")


def _stop_attempt(item: RenderJobItem, reason: str) -> None:
    fresh = load_job(item.studio_id, item.job_id)  # the worker may have reported its Batch job meanwhile
    execution.stop(fresh.execution_arn or item.execution_arn, reason)
    execution.terminate(fresh.batch_job_id or item.batch_job_id, reason)
    deleted = storage.delete_prefix(load(RendersSettings).MEDIA_BUCKET, item.output_prefix)
    logger.info("render attempt stopped", extra={"render_job_id": item.job_id, "objects_deleted": deleted})


def retry(principal: Principal, job_id: str) -> RenderJob:
    """Run a FAILED or CANCELLED job again as a new attempt on the same record (``POST .../retry``).

    One transaction: QUEUED with ``attempts + 1`` (progress, error, outputs and Batch ids cleared), a
    slot taken and the ``render:retried`` activity entry; then ``render:status`` and a new execution.

    Raises
    ------
    Conflict
        ``RENDER_SUCCEEDED`` (nothing to retry) or ``RENDER_ACTIVE`` (still QUEUED/RUNNING).
    TooManyRequests
        ``RENDER_LIMIT_REACHED``.
    Forbidden
        ``NOT_RENDER_REQUESTER``: someone else's job, and the role lacks ``render:control-any``.
    """
    item = load_job(principal.studio_id, job_id)
    require_owner_or(principal, item.created_by, Permission.RENDER_CONTROL_ANY)
    if item.state is RenderStatus.SUCCEEDED:
        raise Conflict("The render succeeded; request a new one instead", code="RENDER_SUCCEEDED")
    if item.state in ACTIVE:
        raise Conflict(
            f"The render is still {item.status}", code="RENDER_ACTIVE", details={"status": item.status}
        )
    previous = int(item.attempts)
    now = now_iso()
    actions: list[Any] = [
        RenderJobItem.status.set(RenderStatus.QUEUED.value),
        RenderJobItem.attempts.set(previous + 1),
        RenderJobItem.tries.set(0),
        RenderJobItem.progress.set(0),
        RenderJobItem.updated_at.set(now),
        *(attr.remove() for attr in (
            RenderJobItem.fps, RenderJobItem.eta, RenderJobItem.error, RenderJobItem.last_error,
            RenderJobItem.outputs, RenderJobItem.batch_job_id, RenderJobItem.execution_arn,
            RenderJobItem.started_at, RenderJobItem.ended_at, RenderJobItem.logs,
        )),
    ]  # fmt: skip
    condition = RenderJobItem.status.is_in(RenderStatus.FAILED.value, RenderStatus.CANCELLED.value) & (
        RenderJobItem.attempts == previous
    )

    def build() -> Transaction:
        tx = Transaction()
        tx.update("job", RenderJobItem(item.pk, item.sk), actions, condition=condition)
        _take_slot(tx, principal.studio_id)
        return tx

    entry = Entry("render:retried", principal.user_id, previous + 1, {"previousAttempt": previous})
    try:
        _commit(item, entry, build)
    except Cancelled as exc:
        if "job" in exc.failed:
            raise Conflict("The render changed meanwhile; read it again", code="RENDER_CHANGED") from exc
        if "slots" in exc.failed:
            raise _too_many(principal.studio_id) from exc
        raise
    fresh = load_job(principal.studio_id, job_id)
    _emit_status(fresh)
    return RenderJob.of(_launch(fresh))


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
    try:
        item.update(actions=actions, condition=condition)
    except UpdateError:
        return None
    if first:
        _emit_status(item)
    return Running(item, first)


def _still_running(studio_id: str, job_id: str, attempt: int) -> bool:
    try:
        item = load_job(studio_id, job_id)
    except NotFound:
        return False
    return item.state is RenderStatus.RUNNING and int(item.attempts) == attempt


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
    item = RenderJobItem(job_pk(studio_id, job_id), JOB_SK)
    try:
        item.update(actions=actions, condition=condition)  # fills ``item`` with the stored attributes
    except UpdateError:
        return _still_running(studio_id, job_id, attempt)
    emit(
        studio_id,
        "render:progress",
        {"renderJobId": job_id, "assetId": item.asset_id, "attempt": attempt, **update.to_json()},
        rooms=rooms_of(item),
    )
    return True


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
