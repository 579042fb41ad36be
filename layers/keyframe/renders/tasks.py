"""The Step Functions tasks of ``statemachines/render.asl.json`` (Lambda functions ``render-finalize``
and ``render-mark-failed``).

Both receive the execution's input ``{studioId, renderJobId, attempt, priority}`` plus:

- ``batch``: the ``DescribeJobs`` job the ``batch:submitJob.sync`` task returned (finalize), or
- ``error``: ``{"Error", "Cause"}`` from the ``Catch`` (mark failed). For a failed Batch job ``Cause``
  is that job's ``DescribeJobs`` JSON; for an API failure (``Batch.*``) or ``States.Timeout`` a sentence.

Step Functions gives the Batch job in PascalCase (``JobId``, ``Container.LogStreamName``); the
local interpreter in camelCase: both are read. Each returns ``{"status": <final job status>}``.

``render-mark-failed`` is also the safety net for executions that end outside their ``Catch`` (the
execution timed out, was stopped, or failed in a state without a Catch): an EventBridge rule sends it
the "Step Functions Execution Status Change" event of every render execution that ended FAILED,
TIMED_OUT or ABORTED (``infra.renders``), which :func:`from_execution_event` turns into the task's
input. A job the execution already finished (the usual FAILED execution after MarkFailed), or that
was cancelled or retried since, is left as it is: the transition is conditional.
"""

from __future__ import annotations

import json
from typing import Any

from keyframe.errors import KeyframeError
from keyframe.observability import logger
from keyframe.renders import execution, service, vcpus, worker_writes
from keyframe.renders.models import ACTIVE, RenderStatus

TIMEOUT_REASON = "Job attempt duration exceeded timeout"

EXECUTION_EVENT = "Step Functions Execution Status Change"
"""``detail-type`` of the EventBridge event Step Functions sends when an execution changes status."""


def _get(mapping: Any, name: str) -> Any:
    """``mapping[name]`` in camelCase or PascalCase (``None`` when absent or not a mapping)."""
    if not isinstance(mapping, dict):
        return None
    if name in mapping:
        return mapping[name]
    return mapping.get(name[:1].upper() + name[1:])


def batch_logs(job: Any) -> dict[str, Any] | None:
    """``{batchJobId, batchAttempt, logGroup?, logStreamName}`` from a ``DescribeJobs`` job, if any."""
    if not isinstance(job, dict):
        return None
    container = _get(job, "container") or {}
    attempts = _get(job, "attempts") or []
    stream = _get(container, "logStreamName")
    if not stream and attempts:
        stream = _get(_get(attempts[-1], "container") or {}, "logStreamName")
    logs: dict[str, Any] = {"batchJobId": _get(job, "jobId"), "batchAttempt": len(attempts) or None}
    if stream:
        logs["logStreamName"] = stream
        if not str(stream).startswith("/"):  # a local path on the local stack, a CloudWatch stream in AWS
            logs["logGroup"] = "/aws/batch/job"
    return {k: v for k, v in logs.items() if v is not None} or None


def _identity(event: dict[str, Any]) -> tuple[str, str, int]:
    return str(event["studioId"]), str(event["renderJobId"]), int(event["attempt"])


def finalize(event: dict[str, Any]) -> dict[str, str]:
    """The container exited 0: SUCCEEDED if it stored its outputs, else FAILED ``NO_OUTPUTS``.

    A job cancelled meanwhile stays CANCELLED (the transition's condition fails; nothing is written).
    """
    studio_id, job_id, attempt = _identity(event)
    item = service.load_job(studio_id, job_id)
    logs = {**(item.logs or {}), **(batch_logs(event.get("batch")) or {})} or None
    if item.outputs and int(item.attempts) == attempt:
        done = service.finish(studio_id, job_id, attempt, RenderStatus.SUCCEEDED, logs=logs)
    else:
        error = item.last_error or {
            "code": "NO_OUTPUTS",
            "message": "The render container exited without outputs",
        }
        done = service.finish(studio_id, job_id, attempt, RenderStatus.FAILED, error=error, logs=logs)
    final = done or service.load_job(studio_id, job_id)
    logger.info("render finalized", extra={"render_job_id": job_id, "status": final.status})
    return {"status": final.status}


def _cause_job(cause: Any) -> dict[str, Any] | None:
    if isinstance(cause, dict):
        return cause
    try:
        parsed = json.loads(cause) if isinstance(cause, str) else None
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None


def failure_error(error: dict[str, Any], last_error: dict[str, str] | None) -> dict[str, str]:
    """The job's ``error`` from the Catch's ``{Error, Cause}`` and the worker's last try error.

    The worker's own words win (it knows "the input is corrupt"); otherwise the Batch reason.
    """
    name = str(error.get("Error") or "States.TaskFailed")
    cause = error.get("Cause")
    job = _cause_job(cause)
    if name == "States.Timeout":
        return {"code": "RENDER_TIMEOUT", "message": "The render took longer than the state machine allows"}
    if job is not None:
        reason = str(_get(job, "statusReason") or "")
        if reason.startswith(TIMEOUT_REASON):
            return {"code": "RENDER_TIMEOUT", "message": f"The render container ran too long: {reason}"}
        if last_error:
            return last_error
        container = _get(job, "container") or {}
        exit_code = _get(container, "exitCode")
        detail = _get(container, "reason") or reason or "no reason given"
        return {
            "code": "RENDER_FAILED",
            "message": f"The render container failed (exit code {exit_code}): {detail}",
        }
    if last_error:
        return last_error
    if name.startswith("Batch."):
        return {
            "code": "BATCH_SUBMIT_FAILED",
            "message": f"AWS Batch refused the render job ({name}): {cause}"[:1000],
        }
    return {"code": "RENDER_FAILED", "message": f"{name}: {cause}"[:1000]}


def from_execution_event(event: dict[str, Any]) -> dict[str, Any]:
    """The task input of :func:`mark_failed` from an EventBridge execution status change (other
    events are returned unchanged).

    Parameters
    ----------
    event:
        ``{"detail-type": "Step Functions Execution Status Change", "detail": {"status", "input",
        "error", "cause", ...}}``; ``detail.input`` is the execution's input as a JSON string
        ``{studioId, renderJobId, attempt, priority, jobQueue?}``.

    Returns
    -------
    dict
        The execution's input plus ``error: {"Error", "Cause"}``: ``States.Timeout`` for TIMED_OUT,
        else the execution's own error (``ExecutionAborted`` / ``ExecutionFailed`` when it has none).

    Raises
    ------
    ValueError
        The event carries no execution input (EventBridge leaves out inputs above 248 KiB; a render's
        is a few hundred bytes).
    """
    if event.get("detail-type") != EXECUTION_EVENT:
        return event
    detail = event["detail"]
    status = detail.get("status")
    if not detail.get("input"):
        raise ValueError(f"The status change of {detail.get('executionArn')} carries no execution input")
    if status == "TIMED_OUT":  # the execution's own timeout: Step Functions names no error
        name = "States.Timeout"
    else:
        name = detail.get("error") or f"Execution{str(status).title()}"
    cause = detail.get("cause") or f"The render execution ended {status}"
    return {**json.loads(detail["input"]), "error": {"Error": name, "Cause": cause}}


def mark_failed(event: dict[str, Any]) -> dict[str, str]:
    """The attempt failed (Batch job failed after its retries, submit refused, timeout, finalize error),
    or its execution ended without reaching MarkFailed (``event`` is then an EventBridge execution
    status change: :func:`from_execution_event`).

    Writes FAILED with the reason (conditional: a CANCELLED, already finished or since retried job is
    left as it is) and, for a timeout or an execution that ended outside its Catch, terminates the
    Batch job that may still be running (only while this attempt is still QUEUED/RUNNING).
    """
    safety_net = event.get("detail-type") == EXECUTION_EVENT
    event = from_execution_event(event)
    studio_id, job_id, attempt = _identity(event)
    error_input = event.get("error") or {}
    item = service.load_job(studio_id, job_id)
    job = _cause_job(error_input.get("Cause"))
    error = failure_error(error_input, item.last_error)
    logs = {**(item.logs or {}), **(batch_logs(job) or {})} or None
    if int(item.attempts) == attempt and item.state in ACTIVE:
        if error["code"] == "RENDER_TIMEOUT":
            execution.terminate(item.batch_job_id, "Render timed out")
        elif safety_net:  # nothing will finalize the container's work now
            execution.terminate(item.batch_job_id, f"Render execution ended: {error_input.get('Error')}")
    done = service.finish(studio_id, job_id, attempt, RenderStatus.FAILED, error=error, logs=logs)
    final = done or service.load_job(studio_id, job_id)
    logger.info(
        "render marked failed", extra={"render_job_id": job_id, "status": final.status, "error": error}
    )
    return {"status": final.status}


def plan_chunks(event: dict[str, Any]) -> dict[str, int]:
    """Scene presets, after the probe step: ``{"size": chunks}``, the Batch array size, once the
    render holds 2 vCPUs per chunk of the studio's budget (:func:`keyframe.renders.vcpus.hold_chunk_vcpus`).

    Runs in ``render-finalize`` (``{"task": "planChunks", studioId, renderJobId, attempt}``: see
    :func:`finalize_or_plan`), which already reads the job.

    Raises
    ------
    ValueError
        The probe stored no settings (the state machine's Catch then marks the job FAILED).
    TooManyRequests
        ``RENDER_VCPUS_QUOTA_EXCEEDED`` (stored as the try's error, so the job ends FAILED with it).
    """
    studio_id, job_id, attempt = _identity(event)
    item = service.load_job(studio_id, job_id)
    scene = item.scene or {}
    if not scene.get("probed"):
        raise ValueError(f"Render {job_id} has no probed scene settings")
    size = int(scene.get("chunks") or 0)
    try:
        held = vcpus.hold_chunk_vcpus(studio_id, job_id, attempt, size)
    except KeyframeError as exc:  # RENDER_VCPUS_QUOTA_EXCEEDED: the Catch marks the job FAILED with it
        worker_writes.record_try_error(studio_id, job_id, attempt, exc.code, exc.message)
        raise
    logger.info("scene chunks planned", extra={"render_job_id": job_id, "chunks": size, "vcpus": held})
    return {"size": size}


def finalize_or_plan(event: dict[str, Any]) -> dict[str, Any]:
    """The ``render-finalize`` function: :func:`plan_chunks` for ``{"task": "planChunks", ...}``, else
    :func:`finalize` (whose input carries the earlier ``plan`` result of a scene render: not a marker)."""
    return plan_chunks(event) if event.get("task") == "planChunks" else finalize(event)
