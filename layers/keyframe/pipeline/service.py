"""The pipeline record's only write path; every change stores ``pipeline:update`` with it.

Writers: :mod:`keyframe.pipeline.starter` (create, reprocess), the Lambda tasks
(:mod:`keyframe.pipeline.tasks`) and the Batch worker (:mod:`keyframe.pipeline.derive_step`), each
recording its own step's start and end. Events go to the rooms ``studio`` and ``asset:{assetId}``
with the record's public view (see :func:`view`) and the name of the step that changed.

Every write adds 1 to the record's ``revision`` (1 at the create), and its event carries the result:
the rooms number events in the order they are announced, not the order they were stored (the
uploads API's ``complete`` leaves the first to the outbox stream while the steps announce theirs at
once), so a client shows the ``pipeline:update`` with the highest ``revision``, not the last ``seq``.
The stored revision is exact (an atomic ``ADD``); the event's is computed from the record as read, so
two writers racing on one record (a reprocess start attaching its execution while the first step
begins) may announce the same revision for two intermediate states; the writes after them read again.
An upload's first run is created holding its execution's ARN, so its start writes the record once.

Each write is one transaction: the record's update and the event's outbox item
(:func:`keyframe.events.publisher.stage`; data = the record as the update leaves it, computed from
the record read and the update's actions by :func:`_applied`), then the record is read again (as the
update's ``ALL_NEW`` answer was, other steps' writes included).

Table: UPLOADS (items ``STUDIO#{studioId}#PIPELINE#{uploadId}`` / ``PIPELINE``); events: the outbox
(CATALOG), then LIVE.
"""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer
from pynamodb.exceptions import DoesNotExist
from pynamodb.expressions.update import AddAction, RemoveAction, SetAction

from keyframe.clock import now_iso
from keyframe.errors import Conflict, NotFound
from keyframe.events.publisher import stage
from keyframe.events.rooms import STUDIO_ROOM, asset_room
from keyframe.notifications.schemas import NotificationType
from keyframe.notifications.service import notify
from keyframe.pipeline.models import (
    ACTIVE_STATUSES,
    FAILED,
    PENDING,
    RECORD_SK,
    RUNNING,
    SKIPPED,
    STEPS,
    SUCCEEDED,
    PipelineInput,
    PipelineRecord,
    record_pk,
    version_key,
)
from keyframe.storage.transactions import Cancelled, Transaction

EVENT_TYPE = "pipeline:update"


_deserializer = TypeDeserializer()
_ATTRIBUTES = {attr.attr_name: (name, attr) for name, attr in PipelineRecord.get_attributes().items()}


def _plain(value: Any) -> Any:
    """A deserialized DynamoDB value with its ``Decimal`` numbers as ``int``/``float`` (JSON-ready)."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def _applied(record: PipelineRecord, actions: list[Any]) -> PipelineRecord:
    """A copy of ``record`` with the update ``actions`` applied (what they leave, nobody else writing).

    Handles what this module writes: ``SET`` of a top-level attribute (``if_not_exists`` included)
    or of one step (``steps.{name}``), ``REMOVE`` and ``ADD`` of a number.
    """
    after = copy.deepcopy(record)
    for action in actions:
        path = action.values[0].path
        name, attr = _ATTRIBUTES[path[0]]
        unchanged, value = _new_value(after, name, attr, action, nested=len(path) > 1)
        if unchanged:
            continue
        if len(path) > 1:  # steps.{name}
            steps = {key: after.step(key) for key in STEPS}
            steps.pop(path[1], None)
            if value is not None:
                steps[path[1]] = value
            after.steps = steps
        else:
            setattr(after, name, value)
    return after


def _new_value(after: PipelineRecord, name: str, attr: Any, action: Any, *, nested: bool) -> tuple[bool, Any]:
    """``(unchanged, value)`` of one update action on attribute ``name`` (``None``: removed)."""
    if isinstance(action, RemoveAction):
        return False, None
    operand: Any = action.values[1]
    if isinstance(action, AddAction):
        return False, (getattr(after, name) or 0) + _plain(_deserializer.deserialize(operand.value))
    if not isinstance(action, SetAction):  # DELETE (sets) is not used on this record
        raise TypeError(f"unsupported update action {action!r}")
    if type(operand).__name__ == "_IfNotExists":
        if getattr(after, name) is not None:
            return True, None
        operand = operand.values[1]
    if nested or name == "steps":
        return False, _plain(_deserializer.deserialize(operand.value))
    return False, attr.deserialize(attr.get_value(operand.value))


def _write(
    record: PipelineRecord,
    actions: list[Any],
    *,
    condition: Any = None,
    step: str | None = None,
    reread: bool = True,
) -> None:
    """Update ``record`` with ``actions`` and store its ``pipeline:update`` event, one transaction; then
    read it again (``record`` then holds what is stored, other writers' changes included).

    ``reread=False`` skips that read (a consistent GetItem): ``record`` then holds what it held with
    ``actions`` applied, i.e. exactly what the event announced. The step bookkeeping uses it: each
    step reads the record fresh before its writes, so the read after them only cost time.

    Raises
    ------
    keyframe.storage.transactions.Cancelled
        ``condition`` failed (``"record"`` in ``failed``) or the event could not be stored: nothing
        was written.
    """
    actions = [*actions, PipelineRecord.revision.add(1)]
    after = _applied(record, actions)
    tx = Transaction().update("record", PipelineRecord(record.pk, record.sk), actions, condition=condition)
    _stage(tx, after, step)
    tx.commit()
    if reread:
        record.refresh(consistent_read=True)
    else:
        for name in PipelineRecord.get_attributes():
            setattr(record, name, getattr(after, name))


# --- reads --------------------------------------------------------------------------------------


def get(studio_id: str, upload_id: str) -> PipelineRecord | None:
    """The pipeline record of ``upload_id`` in ``studio_id``, or ``None`` (another studio's: ``None``)."""
    try:
        return PipelineRecord.get(record_pk(studio_id, upload_id), RECORD_SK, consistent_read=True)
    except DoesNotExist:
        return None


def require(studio_id: str, upload_id: str) -> PipelineRecord:
    """Like :func:`get`.

    Raises
    ------
    NotFound
        No pipeline for that upload in that studio.
    """
    record = get(studio_id, upload_id)
    if record is None:
        raise NotFound("No pipeline for this upload", details={"uploadId": upload_id})
    return record


def get_by_version(studio_id: str, asset_id: str, version: int) -> PipelineRecord | None:
    """The pipeline that made ``version`` of ``asset_id`` (gsi1), or ``None``."""
    for record in PipelineRecord.gsi1.query(version_key(studio_id, asset_id, version), limit=1):
        return get(studio_id, record.upload_id)  # the index is eventually consistent: re-read
    return None


# --- the public view -------------------------------------------------------------------------------


def step_views(record: PipelineRecord) -> list[dict[str, Any]]:
    """The steps in order as ``[{name, status, startedAt?, endedAt?, attempts?, error?}]``."""
    return [{"name": name, **record.step(name)} for name in STEPS]


def view(record: PipelineRecord) -> dict[str, Any]:
    """The record as the API and events show it (camelCase; absent values left out)."""
    data: dict[str, Any] = {
        "status": record.status,
        "uploadId": record.upload_id,
        "assetId": record.asset_id,
        "version": int(record.version) if record.version is not None else None,
        "executionArn": record.execution_arn,
        "run": int(record.run or 1),
        "kind": record.kind,
        "format": record.format,
        "startedAt": record.started_at,
        "endedAt": record.ended_at,
        "steps": step_views(record),
        "error": record.error,
        "revision": int(record.revision or 0),
    }
    return {key: value for key, value in data.items() if value is not None}


def _stage(tx: Transaction, record: PipelineRecord, step: str | None = None) -> None:
    """Store ``pipeline:update`` (``record``'s view, ``changedStep``) with the change in ``tx``."""
    data = view(record)
    if step:
        data["changedStep"] = step
    stage(tx, record.studio_id, EVENT_TYPE, data, rooms=[STUDIO_ROOM, asset_room(record.asset_id)])


# --- writes --------------------------------------------------------------------------------------


def create(upload: PipelineInput, *, execution_arn: str | None = None) -> tuple[PipelineRecord, bool]:
    """Create the record of a new pipeline run for ``upload`` (idempotent), PENDING, holding
    ``execution_arn`` when the caller knows the execution it is about to start.

    Returns
    -------
    tuple
        ``(record, created)``: ``created`` is False when the upload already had one (it is returned
        unchanged: one pipeline per upload).
    """
    now = now_iso()
    record = PipelineRecord(
        record_pk(upload.studio_id, upload.upload_id),
        RECORD_SK,
        studio_id=upload.studio_id,
        asset_id=upload.asset_id,
        upload_id=upload.upload_id,
        bucket=upload.bucket,
        key=upload.key,
        size=upload.size,
        file_name=upload.file_name,
        declared_content_type=upload.declared_content_type or None,
        sha256=upload.sha256 or None,
        change_note=upload.change_note or None,
        created_by=upload.created_by,
        status=PENDING,
        execution_arn=execution_arn,
        run=1,
        started_at=now,
        updated_at=now,
        steps={name: {"status": PENDING} for name in STEPS},
        revision=1,
    )
    tx = Transaction().put("record", record, condition=PipelineRecord.pk.does_not_exist())
    _stage(tx, record)
    try:
        tx.commit()
    except Cancelled as exc:
        if "record" not in exc.failed:
            raise
        return require(upload.studio_id, upload.upload_id), False
    return record, True


def attach_execution(record: PipelineRecord, execution_arn: str) -> PipelineRecord:
    """Remember the Step Functions execution of the current run; PENDING becomes RUNNING.

    One conditional write (pipelines table) when the record is still PENDING: ``record`` then holds it
    with that write applied, not read again (the condition held, so no step had moved it on). When a
    step already moved it on, the record is read again and only the execution is set (its status kept).
    """
    actions: list[Any] = [
        PipelineRecord.execution_arn.set(execution_arn),
        PipelineRecord.updated_at.set(now_iso()),
    ]
    try:
        _write(
            record,
            [*actions, PipelineRecord.status.set(RUNNING)],
            condition=PipelineRecord.status == PENDING,
            reread=False,
        )
    except Cancelled as exc:
        if "record" not in exc.failed:
            raise
        record.refresh(consistent_read=True)
        _write(record, actions)  # a step already moved it on: keep its status
    return record


def _set_step(
    record: PipelineRecord, name: str, state: dict[str, Any], *extra: Any, reread: bool = True
) -> PipelineRecord:
    clean = {key: value for key, value in state.items() if value is not None}
    _write(
        record,
        [PipelineRecord.steps[name].set(clean), PipelineRecord.updated_at.set(now_iso()), *extra],
        step=name,
        reread=reread,
    )
    return record


def step_started(
    studio_id: str, upload_id: str, name: str, *, record: PipelineRecord | None = None
) -> PipelineRecord:
    """Step ``name`` is RUNNING (attempts + 1); the pipeline is RUNNING.

    ``record`` is the record just read (consistently) by the caller; else it is read here. The
    returned record is that one with this write applied (not read again).

    Raises
    ------
    NotFound
        No record for the upload.
    """
    record = record or require(studio_id, upload_id)
    previous = record.step(name)
    state = {"status": RUNNING, "startedAt": now_iso(), "attempts": int(previous.get("attempts") or 0) + 1}
    return _set_step(record, name, state, PipelineRecord.status.set(RUNNING), reread=False)


def step_succeeded(studio_id: str, upload_id: str, name: str, *extra: Any) -> PipelineRecord:
    """Step ``name`` SUCCEEDED now; ``extra`` are further PynamoDB update actions on the record.

    Reads the record first (consistently: other writers' changes are in the event); returns it with
    this write applied (not read again)."""
    record = require(studio_id, upload_id)
    state = {**record.step(name), "status": SUCCEEDED, "endedAt": now_iso()}
    state.pop("error", None)
    return _set_step(record, name, state, *extra, reread=False)


def step_failed(studio_id: str, upload_id: str, name: str, code: str, message: str) -> PipelineRecord:
    """Step ``name`` FAILED now with ``{code, message}`` (the pipeline itself is failed by MarkFailed)."""
    record = require(studio_id, upload_id)
    state = {
        **record.step(name),
        "status": FAILED,
        "endedAt": now_iso(),
        "error": {"code": code, "message": message},
    }
    return _set_step(record, name, state)


def step_skipped(record: PipelineRecord, name: str) -> PipelineRecord:
    """Step ``name`` will not run in this pipeline (derive for a scene file, steps after a failure)."""
    return _set_step(record, name, {"status": SKIPPED})


def set_validation(*, kind: str, fmt: str, content_type: str, size: int) -> list:
    """Update actions recording what Validate found (for :func:`step_succeeded`)."""
    return [
        PipelineRecord.kind.set(kind),
        PipelineRecord.format.set(fmt),
        PipelineRecord.content_type.set(content_type),
        PipelineRecord.size.set(size),
    ]


def set_version(studio_id: str, asset_id: str, version: int) -> list:
    """Update actions recording the published version number and indexing it (gsi1)."""
    return [
        PipelineRecord.version.set(int(version)),
        PipelineRecord.gsi1pk.set(version_key(studio_id, asset_id, version)),
        PipelineRecord.gsi1sk.set(RECORD_SK),
    ]


def set_derived(media: dict[str, Any], derived: dict[str, str]) -> list:
    """Update actions recording the Derive step's probe result and derivative keys (for Finalize)."""
    return [PipelineRecord.media.set(media), PipelineRecord.derived.set(derived)]


def finish_succeeded(record: PipelineRecord) -> PipelineRecord:
    """The run SUCCEEDED: steps that never ran are SKIPPED. ``record`` is read by the caller just before;
    it is returned with the writes applied (not read again)."""
    for name in STEPS:
        if record.step(name)["status"] == PENDING:
            step_skipped(record, name)
    now = now_iso()
    _write(
        record,
        [
            PipelineRecord.status.set(SUCCEEDED),
            PipelineRecord.ended_at.set(now),
            PipelineRecord.updated_at.set(now),
            PipelineRecord.error.remove(),
        ],
        reread=False,
    )
    return record


def finish_failed(record: PipelineRecord, failed_step: str | None, code: str, message: str) -> PipelineRecord:
    """The run FAILED with ``{code, message}``: the failing step is FAILED, later ones SKIPPED."""
    error = {"code": code, "message": message}
    if failed_step:
        current = record.step(failed_step)
        if current["status"] != FAILED or not current.get("error"):
            _set_step(
                record, failed_step, {**current, "status": FAILED, "endedAt": now_iso(), "error": error}
            )
    for name in STEPS:
        if record.step(name)["status"] == PENDING:
            step_skipped(record, name)
    now = now_iso()
    _write(
        record,
        [
            PipelineRecord.status.set(FAILED),
            PipelineRecord.ended_at.set(now),
            PipelineRecord.updated_at.set(now),
            PipelineRecord.error.set(error),
        ],
    )
    _notify_failed(record, message)
    return record


def _notify_failed(record: PipelineRecord, message: str) -> None:
    """Tell the uploader (or whoever asked for the reprocess) that the run failed (``pipeline-failed``,
    :func:`keyframe.notifications.service.notify`; background work, so there is no actor)."""
    notify(
        record.studio_id,
        [record.requested_by or record.created_by],
        NotificationType.PIPELINE_FAILED,
        title=f"Processing of {record.file_name} failed",
        body=message,
        target={"assetId": record.asset_id, "version": record.version, "uploadId": record.upload_id},
    )


def fail_if_running(
    record: PipelineRecord, execution_arn: str | None, failed_step: str | None, code: str, message: str
) -> bool:
    """The safety net: fail the run of ``execution_arn`` if it is still PENDING or RUNNING.

    Conditional on the record's status (and, when known, on the run's execution being
    ``execution_arn``), so a run that already finished, or a newer reprocess run, is left untouched.
    Then the failing step is FAILED and later ones SKIPPED, as :func:`finish_failed` does.

    Returns
    -------
    bool
        True if this call failed the run; False if the run had already ended (nothing changed).
    """
    error = {"code": code, "message": message}
    condition = PipelineRecord.status.is_in(*sorted(ACTIVE_STATUSES))
    if execution_arn:
        condition &= PipelineRecord.execution_arn.does_not_exist() | (
            PipelineRecord.execution_arn == execution_arn
        )
    now = now_iso()
    try:
        _write(
            record,
            [
                PipelineRecord.status.set(FAILED),
                PipelineRecord.ended_at.set(now),
                PipelineRecord.updated_at.set(now),
                PipelineRecord.error.set(error),
            ],
            condition=condition,
        )
    except Cancelled as exc:
        if "record" in exc.failed:
            return False
        raise
    if failed_step and record.step(failed_step)["status"] != FAILED:
        state = {**record.step(failed_step), "status": FAILED, "endedAt": now, "error": error}
        _set_step(record, failed_step, state)
    for name in STEPS:
        if record.step(name)["status"] == PENDING:
            step_skipped(record, name)
    _notify_failed(record, message)
    return True


def begin_rerun(record: PipelineRecord, requested_by: str | None = None) -> PipelineRecord:
    """Start a reprocess run: ``run`` + 1, validate/publish SKIPPED, derive/finalize PENDING.

    ``requested_by`` (the user asking) is remembered as the run's actor.

    Raises
    ------
    Conflict
        The pipeline is still PENDING or RUNNING (someone else started it meanwhile).
    """
    now = now_iso()
    steps = {
        "validate": {"status": SKIPPED},
        "publish": {"status": SKIPPED},
        "derive": {"status": PENDING},
        "finalize": {"status": PENDING},
    }
    try:
        _write(
            record,
            [
                PipelineRecord.run.add(1),
                PipelineRecord.status.set(PENDING),
                PipelineRecord.steps.set(steps),
                PipelineRecord.started_at.set(now),
                PipelineRecord.updated_at.set(now),
                PipelineRecord.ended_at.remove(),
                PipelineRecord.error.remove(),
                PipelineRecord.execution_arn.remove(),
                PipelineRecord.media.remove(),
                PipelineRecord.derived.remove(),
                PipelineRecord.requested_by.set(requested_by)
                if requested_by
                else PipelineRecord.requested_by.remove(),
            ],
            condition=PipelineRecord.status.is_in(*sorted({SUCCEEDED, FAILED})),
        )
    except Cancelled as exc:
        if "record" in exc.failed:
            raise Conflict(
                "The pipeline of this version is still running", details={"status": record.status}
            ) from exc
        raise
    return record


def is_active(record: PipelineRecord) -> bool:
    """True while the run is PENDING or RUNNING."""
    return record.status in ACTIVE_STATUSES
