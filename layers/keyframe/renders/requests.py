"""Render requests as the API makes them: request (slot taken, lineage pinned, execution launched),
cancel and retry (renders table, catalog activity, Step Functions, Batch).

Reading jobs, slots, the one commit with its activity entry and finishing live in
:mod:`keyframe.renders.service`; the render container's writes in :mod:`keyframe.renders.worker_writes`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from pynamodb.exceptions import UpdateError

from keyframe.clock import now_iso
from keyframe.errors import Conflict, NotFound
from keyframe.events.publisher import stage
from keyframe.identity.permissions import Permission, Principal, Role, require_owner_or
from keyframe.observability import logger
from keyframe.renders import execution, presets, scenes, service, sources, storage, vcpus
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
from keyframe.renders.schemas import RenderJob, RenderRequest
from keyframe.settings import load
from keyframe.storage.transactions import Cancelled, Transaction
from keyframe.usage import quotas
from keyframe.usage.quotas import Quota


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
        ``TOO_FEW_FRAMES``; scene presets: ``SOURCE_NOT_SCENE``, ``INVALID_FRAME_RANGE``,
        ``TOO_MANY_FRAMES``, ``TOO_MANY_CHUNKS``.
    Conflict
        Scene presets: ``DEPENDENCY_NOT_READY``, ``DEPENDENCIES_TRUNCATED``.
    """
    settings = load(RendersSettings)
    source = sources.resolve(principal.studio_id, asset_id, request.version)
    now = now_iso()
    lineage = _lineage(source, settings.MEDIA_BUCKET)
    scene: dict[str, Any] | None = None
    held = vcpus.VIDEO_VCPUS
    texts = presets.RenderTexts(source.asset_name, f"v{source.version:03d}", "")
    if scenes.is_scene(request.preset):
        renderer = scenes.renderer_for(source.media)
        scene_options = request.scene_options
        scenes.check_options(renderer, scene_options)
        held = vcpus.at_request(principal.studio_id, request.preset, renderer, scene_options)
        lineage["dependencies"] = sources.dependency_closure(
            principal.studio_id, asset_id, settings.MEDIA_BUCKET
        )
        scene = {
            "renderer": renderer,
            "sceneFormat": str((source.media or {}).get("format")),
            "format": scene_options.format.value,
            "probed": False,
        }
        start = scene_options.frame_start or 0
        end = scene_options.frame_end if scene_options.frame_end is not None else start
        frames = {"startFrame": start, "endFrame": end + 1}
        preset_name: str = request.preset
        options = scene_options.model_dump(mode="json", by_alias=True, exclude_none=True, exclude_unset=True)
    else:
        video_options = request.video_options
        if video_options and video_options.watermark:
            watermark = f"{sources.viewer_label(principal.user_id)} {principal.user_id[:8]} {now[:19]}Z"
            texts = presets.RenderTexts(source.asset_name, f"v{source.version:03d}", watermark)
        plan = presets.plan(
            request.preset, video_options, presets.SourceMedia.from_media(source.media), texts
        )
        frames = plan.frames.to_json()
        preset_name = plan.preset.name
        options = (
            video_options.model_dump(mode="json", by_alias=True, exclude_none=True) if video_options else {}
        )
    job_id = uuid.uuid4().hex
    sort = f"{now}#{job_id}"
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
        preset=preset_name,
        options=options,
        priority=request.priority.value,
        status=RenderStatus.QUEUED.value,
        progress=0,
        attempts=1,
        tries=0,
        lineage=lineage,
        frames=frames,
        scene=scene,
        vcpus=held,
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

    Writes the job, takes a slot and its vCPUs (renders table) and appends ``render:requested``
    (catalog activity) in one transaction, emits ``render:status`` and starts the state machine. A
    start failure ends the job FAILED (``START_FAILED``, with ``render:failed``) and gives them back.

    Raises
    ------
    TooManyRequests
        ``CONCURRENT_RENDERS_QUOTA_EXCEEDED``: the studio's renders in flight are at the limit;
        ``RENDER_VCPUS_QUOTA_EXCEEDED``: the vCPUs it would hold do not fit the studio's budget
        (:mod:`keyframe.renders.vcpus`); ``RENDER_MINUTES_QUOTA_EXCEEDED``: the month's render
        minutes are spent (nothing written).
    NotFound, Conflict, InvalidInput
        See :func:`new_job`.
    """
    quotas.require(principal.studio_id, Quota.RENDER_MINUTES_PER_MONTH, 0)
    item = new_job(principal, asset_id, request)

    def build() -> Transaction:
        tx = Transaction()
        tx.put("job", item, condition=RenderJobItem.pk.does_not_exist())
        service.take_slot(tx, principal.studio_id)
        service.hold_vcpus(tx, principal.studio_id, int(item.vcpus))
        return tx

    entry = service.Entry("render:requested", principal.user_id, 1, {"priority": item.priority})
    try:
        service.commit(item, entry, build, RenderJob.of(item))
    except Cancelled as exc:
        refused = service.refusal_of(exc, principal.studio_id, int(item.vcpus))
        if refused is not None:
            raise refused from exc
        raise
    return RenderJob.of(_launch(item))


def request_automatic(
    studio_id: str,
    asset_id: str,
    request: RenderRequest,
    *,
    job_id: str,
    requested_for: str,
    trigger: dict[str, Any],
    also: Also | None = None,
) -> RenderJob | None:
    """Queue a render the system asks for (a render policy, a dependency's change), once per ``job_id``.

    The same rules as :func:`request_render` (validation, quotas before anything is written, one
    transaction with the slot, the vCPUs and the activity entry ``render:requested`` whose actor is the
    system and whose details carry ``trigger``), with the caller's deterministic ``job_id``: a second
    call with it writes nothing and returns ``None``, so a redelivered event queues no second render.

    Parameters
    ----------
    request:
        Preset, version and options (the version must be given).
    job_id:
        32 hex characters derived from what caused the render.
    requested_for:
        The member the job is attributed to (``createdBy``: told when it finishes).
    trigger:
        What caused it (``{kind, ...}``), stored in the job's lineage as ``trigger``.
    also:
        One more event to store in the same transaction (e.g. ``asset:rerender-queued``).

    Returns
    -------
    RenderJob or None
        The queued job; ``None`` when a job with ``job_id`` exists already.

    Raises
    ------
    KeyframeError
        As :func:`request_render` (the caller logs and skips them).
    """
    principal = Principal(studio_id=studio_id, user_id=requested_for, role=Role.PRODUCER)
    try:
        service.load_job(studio_id, job_id)
        return None
    except NotFound:
        pass
    quotas.require(studio_id, Quota.RENDER_MINUTES_PER_MONTH, 0)
    item = new_job(principal, asset_id, request)
    _identify(item, studio_id, asset_id, job_id)
    item.lineage = {**item.lineage, "trigger": trigger}

    def build() -> Transaction:
        tx = Transaction()
        tx.put("job", item, condition=RenderJobItem.pk.does_not_exist())
        service.take_slot(tx, studio_id)
        service.hold_vcpus(tx, studio_id, int(item.vcpus))
        if also is not None:
            stage(tx, studio_id, also.type, also.data, rooms=also.rooms, subject=also.subject)
        return tx

    entry = service.Entry("render:requested", None, 1, {"priority": item.priority, "trigger": trigger})
    try:
        service.commit(item, entry, build, RenderJob.of(item))
    except Cancelled as exc:
        if "job" in exc.failed:
            return None  # queued by an earlier delivery of the same cause
        refused = service.refusal_of(exc, studio_id, int(item.vcpus))
        if refused is not None:
            raise refused from exc
        raise
    return RenderJob.of(_launch(item))


@dataclass(frozen=True)
class Also:
    """An event stored with an automatic render's request (:func:`request_automatic`)."""

    type: str
    data: dict[str, Any]
    rooms: list[str]
    subject: str | None = None


def _identify(item: RenderJobItem, studio_id: str, asset_id: str, job_id: str) -> None:
    """Give a built job item the id ``job_id`` (its key and the list indexes' sort keys)."""
    sort = f"{item.created_at}#{job_id}"
    item.pk = job_pk(studio_id, job_id)
    item.job_id = job_id
    item.gsi1sk = sort
    item.gsi2sk = sort


def _launch(item: RenderJobItem) -> RenderJobItem:
    """Start the execution of the job's current attempt; a failure ends the attempt FAILED."""
    attempt = int(item.attempts)
    try:
        arn = execution.start(item.studio_id, item.job_id, attempt, item.priority, item.preset)
    except Exception as exc:
        logger.exception("render execution did not start", extra={"render_job_id": item.job_id})
        error = {"code": "START_FAILED", "message": f"The render could not be started: {type(exc).__name__}"}
        return service.finish(item.studio_id, item.job_id, attempt, RenderStatus.FAILED, error=error) or item
    try:
        RenderJobItem(item.pk, item.sk).update(
            actions=[RenderJobItem.execution_arn.set(arn)],
            condition=(RenderJobItem.attempts == attempt),
        )
        item.execution_arn = arn
    except UpdateError:
        logger.warning("execution ARN not recorded (the job moved on)", extra={"render_job_id": item.job_id})
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
    item = service.load_job(principal.studio_id, job_id)
    require_owner_or(principal, item.created_by, Permission.RENDER_CONTROL_ANY)
    for _ in range(3):
        if item.state in TERMINAL:
            raise Conflict(
                f"The render already ended {item.status}",
                code="RENDER_FINISHED",
                details={"status": item.status},
            )
        done = service.finish(
            principal.studio_id, job_id, int(item.attempts), RenderStatus.CANCELLED,
            error={"code": "CANCELLED", "message": "Cancelled by a user"}, actor_id=principal.user_id,
        )  # fmt: skip
        if done is not None:
            _stop_attempt(item, "Cancelled by a user")
            return RenderJob.of(service.load_job(principal.studio_id, job_id))
        item = service.load_job(principal.studio_id, job_id)
    raise Conflict("The render changed while cancelling; try again", code="RENDER_CHANGED")


def _stop_attempt(item: RenderJobItem, reason: str) -> None:
    fresh = service.load_job(
        item.studio_id, item.job_id
    )  # the worker may have reported its Batch job meanwhile
    execution.stop(fresh.execution_arn or item.execution_arn, reason)
    execution.terminate(fresh.batch_job_id or item.batch_job_id, reason)
    if fresh.array_job_id:  # a scene render's array job: terminating it stops every child
        execution.terminate(fresh.array_job_id, reason)
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
        ``CONCURRENT_RENDERS_QUOTA_EXCEEDED``, ``RENDER_VCPUS_QUOTA_EXCEEDED`` or
        ``RENDER_MINUTES_QUOTA_EXCEEDED``.
    Forbidden
        ``NOT_RENDER_REQUESTER``: someone else's job, and the role lacks ``render:control-any``.
    """
    item = service.load_job(principal.studio_id, job_id)
    require_owner_or(principal, item.created_by, Permission.RENDER_CONTROL_ANY)
    if item.state is RenderStatus.SUCCEEDED:
        raise Conflict("The render succeeded; request a new one instead", code="RENDER_SUCCEEDED")
    if item.state in ACTIVE:
        raise Conflict(
            f"The render is still {item.status}", code="RENDER_ACTIVE", details={"status": item.status}
        )
    quotas.require(principal.studio_id, Quota.RENDER_MINUTES_PER_MONTH, 0)
    previous = int(item.attempts)
    now = now_iso()
    scene_options = scenes.SceneOptions.model_validate(item.options or {}) if item.scene else None
    renderer = (item.scene or {}).get("renderer")
    held = vcpus.at_request(principal.studio_id, item.preset, renderer, scene_options)
    actions: list[Any] = [
        RenderJobItem.vcpus.set(held),
        RenderJobItem.status.set(RenderStatus.QUEUED.value),
        RenderJobItem.attempts.set(previous + 1),
        RenderJobItem.tries.set(0),
        RenderJobItem.progress.set(0),
        RenderJobItem.updated_at.set(now),
        *(attr.remove() for attr in (
            RenderJobItem.fps, RenderJobItem.eta, RenderJobItem.error, RenderJobItem.last_error,
            RenderJobItem.outputs, RenderJobItem.batch_job_id, RenderJobItem.execution_arn,
            RenderJobItem.started_at, RenderJobItem.ended_at, RenderJobItem.logs,
            RenderJobItem.array_job_id, RenderJobItem.progress_at,
        )),
    ]  # fmt: skip
    condition = RenderJobItem.status.is_in(RenderStatus.FAILED.value, RenderStatus.CANCELLED.value) & (
        RenderJobItem.attempts == previous
    )

    def build() -> Transaction:
        tx = Transaction()
        tx.update("job", RenderJobItem(item.pk, item.sk), actions, condition=condition)
        service.take_slot(tx, principal.studio_id)
        service.hold_vcpus(tx, principal.studio_id, held)
        return tx

    entry = service.Entry("render:retried", principal.user_id, previous + 1, {"previousAttempt": previous})
    after = RenderJob.of(item).model_copy(
        update={
            "vcpus": held, "status": RenderStatus.QUEUED, "attempts": previous + 1, "tries": 0, "progress": 0,
            "updated_at": now, "fps": None, "eta": None, "error": None, "outputs": None, "batch_job_id": None,
            "started_at": None, "ended_at": None, "logs": None,
        }
    )  # fmt: skip
    try:
        service.commit(item, entry, build, after)
    except Cancelled as exc:
        if "job" in exc.failed:
            raise Conflict("The render changed meanwhile; read it again", code="RENDER_CHANGED") from exc
        refused = service.refusal_of(exc, principal.studio_id, held)
        if refused is not None:
            raise refused from exc
        raise
    fresh = service.load_job(principal.studio_id, job_id)
    return RenderJob.of(_launch(fresh))
