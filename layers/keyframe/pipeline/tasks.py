"""The Lambda task bodies of the asset pipeline (``functions/pipeline_tasks/*/handler.py`` call these).

Each takes the state machine's state (the execution input plus what earlier states added: see
:func:`keyframe.pipeline.starter.execution_input`), records its own step's start and end in the
pipeline record (which emits ``pipeline:update``), and returns a small JSON result.

Errors: a media problem raises an :class:`~keyframe.media.errors.InvalidMediaError` subclass (not
retried); throttling or unreachable AWS raises :class:`~keyframe.pipeline.errors.TransientError`
(retried with backoff and jitter); the state machine sends every final error to :func:`mark_failed`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from keyframe import exit_codes
from keyframe.catalog.versions import (
    FileInfo,
    get_version,
    mark_version_failed,
    mark_version_ready,
    publish_version,
    refresh_processing,
)
from keyframe.catalog.vocabulary import VersionStatus
from keyframe.errors import Conflict, KeyframeError
from keyframe.media.derive import s3_client
from keyframe.media.detect import DERIVED_KINDS
from keyframe.media.errors import InvalidMediaError
from keyframe.observability import logger
from keyframe.pipeline import service
from keyframe.pipeline.errors import ERROR_CODES
from keyframe.pipeline.models import FAILED, PENDING, RUNNING, STEPS, PipelineRecord
from keyframe.pipeline.validation import inspect_upload, normalise_sha256, transient_errors

StepBody = Callable[[PipelineRecord], tuple[dict[str, Any], list[Any]]]


def _ids(state: dict[str, Any]) -> tuple[str, str]:
    try:
        return str(state["studioId"]), str(state["uploadId"])
    except KeyError as exc:
        raise ValueError(f"The task input lacks {exc.args[0]!r}") from exc


def run_step(state: dict[str, Any], name: str, body: StepBody) -> dict[str, Any]:
    """Run ``body`` as step ``name``: RUNNING before, SUCCEEDED (with ``body``'s record updates) or
    FAILED (with the error's code and message) after; errors are re-raised for Step Functions."""
    studio_id, upload_id = _ids(state)
    with transient_errors():
        record = service.step_started(studio_id, upload_id, name)
    try:
        with transient_errors():
            output, updates = body(record)
    except KeyframeError as exc:
        service.step_failed(studio_id, upload_id, name, exc.code, exc.message)
        raise
    except Exception as exc:
        service.step_failed(studio_id, upload_id, name, "INTERNAL_ERROR", f"{type(exc).__name__}: {exc}")
        raise
    with transient_errors():
        service.step_succeeded(studio_id, upload_id, name, *updates)
    return output


def validate(state: dict[str, Any]) -> dict[str, Any]:
    """Validate step: the upload's real type, structure and checksum.

    Reads the original in the media bucket (HeadObject, Range GETs, a streamed GET for the
    checksum); records kind, format and content type in the pipeline record.

    Returns
    -------
    dict
        ``{"kind": "video", "format": "mp4", "contentType": "video/mp4", "size": 12345}``.

    Raises
    ------
    InvalidMediaError, TypeMismatchError, ChecksumMismatchError
        The file is refused (codes ``INVALID_MEDIA``/``UPLOAD_MISSING``, ``TYPE_MISMATCH``,
        ``CHECKSUM_MISMATCH``).
    TransientError
        S3 throttled or unreachable.
    """

    def body(record: PipelineRecord) -> tuple[dict[str, Any], list[Any]]:
        detected, size = inspect_upload(
            s3_client(),
            record.bucket,
            record.key,
            file_name=record.file_name,
            content_type=record.declared_content_type,
            sha256=record.sha256,
        )
        output = {
            "kind": detected.kind,
            "format": detected.format,
            "contentType": detected.content_type,
            "size": size,
        }
        return output, service.set_validation(
            kind=detected.kind, fmt=detected.format, content_type=detected.content_type, size=size
        )

    return run_step(state, "validate", body)


def publish(state: dict[str, Any]) -> dict[str, Any]:
    """Publish step: the upload becomes the next version of its asset (status PROCESSING).

    Idempotent per upload (a retried publish returns the same version).

    Returns
    -------
    dict
        ``{"version": 3}``.
    """

    def body(record: PipelineRecord) -> tuple[dict[str, Any], list[Any]]:
        version = publish_version(
            record.studio_id,
            record.asset_id,
            created_by=record.created_by,
            file=FileInfo(
                key=record.key,
                size=int(record.size),
                content_type=record.content_type
                or record.declared_content_type
                or "application/octet-stream",
                file_name=record.file_name,
                sha256=_hex_digest(record.sha256),
            ),
            change_note=record.change_note,
            upload_id=record.upload_id,
        )
        return {"version": version.version}, service.set_version(
            record.studio_id, record.asset_id, version.version
        )

    return run_step(state, "publish", body)


def _hex_digest(value: str | None) -> str | None:
    try:
        return normalise_sha256(value) if value else None
    except InvalidMediaError:
        return None


def media_of(record: PipelineRecord) -> dict[str, Any]:
    """The version's media metadata: kind, format, content type and what Derive probed."""
    media: dict[str, Any] = {"kind": record.kind, "format": record.format, "contentType": record.content_type}
    media.update(record.media or {})
    return {key: value for key, value in media.items() if value is not None}


def finalize(state: dict[str, Any]) -> dict[str, Any]:
    """Finalize step: the version becomes READY (and current if newest) with its media and derived keys.

    A reprocess of a version that is already READY only replaces its media and derived keys (it stayed
    READY and current throughout). Then the pipeline is SUCCEEDED (a derive that never ran is SKIPPED).

    Returns
    -------
    dict
        ``{"version": 3, "status": "READY"}``.
    """

    def body(record: PipelineRecord) -> tuple[dict[str, Any], list[Any]]:
        if record.version is None:
            raise Conflict("Finalize ran before a version was published")
        if record.kind in DERIVED_KINDS and not record.derived:
            raise Conflict("Finalize found no derivatives: the derive step did not record its result")
        version = int(record.version)
        rerun = int(record.run or 1) > 1
        settle = mark_version_ready
        if rerun and get_version(record.studio_id, record.asset_id, version).status == VersionStatus.READY:
            settle = refresh_processing
        settle(
            record.studio_id,
            record.asset_id,
            version,
            media=media_of(record),
            derived=dict(record.derived or {}),
            actor_id=(record.requested_by or record.created_by) if rerun else record.created_by,
        )
        return {"version": version, "status": "READY"}, []

    output = run_step(state, "finalize", body)
    studio_id, upload_id = _ids(state)
    with transient_errors():
        service.finish_succeeded(service.require(studio_id, upload_id))
    return output


def failed_step(record: PipelineRecord) -> str | None:
    """The step the run stopped at: the one RUNNING or FAILED, else the first PENDING one."""
    for name in STEPS:
        if record.step(name)["status"] in (RUNNING, FAILED):
            return name
    return next((name for name in STEPS if record.step(name)["status"] == PENDING), None)


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return None


def describe_failure(error: dict[str, Any], step: str | None) -> tuple[str, str]:
    """``(code, message)`` from a ``Catch``'s ``{"Error", "Cause"}``.

    - a Lambda task's error: the ``Cause`` is ``{"errorType", "errorMessage", …}``;
    - a Batch job's failure (``States.TaskFailed``): the ``Cause`` is the job description, whose exit
      code 3 means the worker refused the file;
    - anything else (timeouts, runtime errors): the error name and the start of the cause.
    """
    name = str(error.get("Error") or "States.Runtime")
    cause_text = str(error.get("Cause") or "")
    cause = _json(cause_text)
    where = f"the {step} step" if step else "the pipeline"
    if isinstance(cause, dict) and "errorType" in cause:
        error_type = str(cause["errorType"])
        return ERROR_CODES.get(error_type, "PIPELINE_ERROR"), str(cause.get("errorMessage") or error_type)
    if isinstance(cause, dict) and ("jobId" in cause or "JobId" in cause or "container" in cause):
        container = cause.get("container") or cause.get("Container") or {}
        exit_code = container.get("exitCode", container.get("ExitCode"))
        reason = cause.get("statusReason") or cause.get("StatusReason") or container.get("reason")
        if exit_code == exit_codes.INVALID_INPUT:
            return "INVALID_MEDIA", "FFmpeg could not read the file"
        detail = reason or (f"exit code {exit_code}" if exit_code is not None else "no reason given")
        return "DERIVE_FAILED", f"Making the thumbnail and proxy failed: {detail}"
    if name in ERROR_CODES and name != "States.TaskFailed":
        return ERROR_CODES[name], f"{where.capitalize()} failed: {name}"
    summary = cause_text[:300] if cause_text else name
    return "PIPELINE_ERROR", f"{where.capitalize()} failed: {summary}"


EXECUTION_EVENT = "Step Functions Execution Status Change"
"""EventBridge ``detail-type`` of the events the safety-net rule sends to :func:`mark_failed`."""

SAFETY_NET_CODES: dict[str, str] = {"TIMED_OUT": "TIMEOUT", "ABORTED": "PIPELINE_ABORTED"}
"""Execution status -> the code a user sees; an execution that FAILED outside its Catch gets
``PIPELINE_ABORTED`` too (it stopped without recording why)."""


def from_execution_event(event: dict[str, Any]) -> tuple[dict[str, Any], str, str, str | None]:
    """The pipeline input, code, message and execution ARN of an execution status change.

    Parameters
    ----------
    event:
        ``{"detail-type": "Step Functions Execution Status Change", "detail": {"executionArn",
        "status", "input", "error", "cause", ...}}``; ``detail.input`` is the execution's input as a
        JSON string (:func:`keyframe.pipeline.starter.execution_input`: ``{studioId, uploadId, ...}``).

    Raises
    ------
    ValueError
        The event carries no execution input (EventBridge leaves out inputs above 248 KiB; the
        pipeline's is well under 2 KiB).
    """
    detail = event["detail"]
    status = str(detail.get("status"))
    if not detail.get("input"):
        raise ValueError(f"The status change of {detail.get('executionArn')} carries no execution input")
    code = SAFETY_NET_CODES.get(status, "PIPELINE_ABORTED")
    if status == "TIMED_OUT":
        message = "The pipeline ran past its time limit and was stopped"
    else:
        reason = detail.get("error") or detail.get("cause")
        message = f"The pipeline stopped ({status})" + (f": {str(reason)[:300]}" if reason else "")
    return json.loads(detail["input"]), code, message, detail.get("executionArn")


def _safety_net(event: dict[str, Any]) -> dict[str, Any]:
    """:func:`mark_failed` for an execution that ended outside its Catch (see the infra safety net)."""
    state, code, message, arn = from_execution_event(event)
    studio_id, upload_id = _ids(state)
    record = service.get(studio_id, upload_id)
    if record is None or not service.is_active(record):  # ended through its Catch, or never recorded
        return {"code": None, "message": "already finished", "failedStep": None}
    step = failed_step(record)
    with transient_errors():
        failed = service.fail_if_running(record, arn, step, code, message)
    if not failed:
        return {"code": None, "message": "already finished", "failedStep": None}
    if record.version is not None:
        version = int(record.version)
        try:
            with transient_errors():
                if get_version(studio_id, record.asset_id, version).status == VersionStatus.PROCESSING:
                    mark_version_failed(studio_id, record.asset_id, version, error_code=code, message=message)
        except Conflict:  # became READY meanwhile: leave it
            logger.warning("version not marked failed", extra={"upload_id": upload_id, "version": version})
    logger.info("pipeline ended outside its Catch", extra={"upload_id": upload_id, "code": code})
    return {"code": code, "message": message, "failedStep": step}


def mark_failed(state: dict[str, Any]) -> dict[str, Any]:
    """MarkFailed: the run is FAILED with a code and a human message.

    The failing step keeps the error it recorded itself (else one is made from the ``Catch`` output
    in ``state["error"]``); later steps become SKIPPED; a published version still PROCESSING is marked
    FAILED (never deleted), while a READY version (a failed reprocess) stays READY with its previous
    derived files, the failure being on the pipeline record only; the uploaded original stays.

    Also the target of the safety-net rule: given an EventBridge "Step Functions Execution Status
    Change" (an execution that ended FAILED, TIMED_OUT or ABORTED, maybe outside its Catch), it fails
    the run (``TIMEOUT`` / ``PIPELINE_ABORTED``) and a published version still PROCESSING, only if that
    run is still PENDING or RUNNING: a pipeline that already finished is untouched.

    Returns
    -------
    dict
        ``{"code", "message", "failedStep"}`` (``code`` None when the safety net found nothing to do).
    """
    if state.get("detail-type") == EXECUTION_EVENT:
        return _safety_net(state)
    studio_id, upload_id = _ids(state)
    with transient_errors():
        record = service.require(studio_id, upload_id)
    step = failed_step(record)
    recorded = record.step(step).get("error") if step else None
    if recorded and recorded.get("code") and recorded.get("code") != "INTERNAL_ERROR":
        code, message = str(recorded["code"]), str(recorded.get("message") or recorded["code"])
    else:
        code, message = describe_failure(state.get("error") or {}, step)
    if record.version is not None:
        try:
            with transient_errors():
                mark_version_failed(
                    studio_id, record.asset_id, int(record.version), error_code=code, message=message
                )
        except Conflict:  # READY (a failed reprocess, or a failure after Finalize): leave it alone
            logger.warning(
                "version stays READY; the failure is on the pipeline record",
                extra={"upload_id": upload_id, "version": record.version},
            )
    with transient_errors():
        service.finish_failed(record, step, code, message)
    logger.info("pipeline failed", extra={"upload_id": upload_id, "code": code, "failed_step": step})
    return {"code": code, "message": message, "failedStep": step}
