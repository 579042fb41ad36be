"""The boundary to Step Functions and AWS Batch: start a render execution, stop it, kill its container.

The API never talks to Batch to *run* a job; it starts one execution of ``statemachines/render.asl.json``
per attempt (``batch:submitJob.sync`` -> finalize, Catch -> mark failed). Cancelling stops that
execution and terminates the Batch job (the worker also notices the CANCELLED record within one
progress interval and stops by itself, so a job that has not reported its Batch id yet still ends).

Priority, as it really is today:

- ``HIGH``: the execution input names the high-priority job queue (``jobQueue``, from
  ``RENDER_HIGH_PRIORITY_JOB_QUEUE_ARN``); that queue has the higher queue priority on the same
  compute environment, so Batch places its jobs first. Without that variable (the local stack has
  one queue) HIGH runs like the others.
- ``NORMAL`` and ``LOW``: both go to the standard queue (``${JobQueueArn}``, shared with the asset
  pipeline's jobs) and are **scheduled identically**, first in, first out. Batch's job-level
  ``schedulingPriorityOverride`` only orders jobs inside a queue with a fair-share scheduling policy,
  and the standard queue has none (``infra.batch``), so passing it would change nothing; it is not
  sent. ``LOW`` is stored on the job and returned by the API as requested, and carries no other
  behaviour until such a policy (or a third queue) exists.

Integration tests replace :func:`start`, :func:`stop` and :func:`terminate` (``monkeypatch``): under
in-process ``mock_aws`` there is no Batch to run the container.
"""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from keyframe.observability import logger
from keyframe.renders.config import ExecutionSettings
from keyframe.renders.jobs import attempt_timeout_seconds
from keyframe.renders.scenes import SCENE_PRESETS
from keyframe.settings import load
from keyframe.storage import clients


def execution_name(job_id: str, attempt: int) -> str:
    """``{renderJobId}-attempt-{n}``: unique per attempt, so a repeated start cannot run twice."""
    return f"{job_id}-attempt-{attempt}"


def execution_input(
    studio_id: str, job_id: str, attempt: int, priority: str, preset: str | None = None
) -> dict[str, Any]:
    """The state machine's input. ``jobQueue`` is only present for HIGH priority when a
    high-priority queue is configured; otherwise the state machine uses ``${JobQueueArn}`` (so LOW
    and NORMAL get exactly the same input apart from ``priority``, and run the same way).
    ``timeoutSeconds`` is the preset's limit per Batch try (``keyframe.renders.jobs``); ``kind`` is
    ``scene`` for the scene presets (probe, array job of chunks, assemble) and ``video`` otherwise."""
    document: dict[str, Any] = {
        "studioId": studio_id,
        "renderJobId": job_id,
        "attempt": attempt,
        "priority": priority,
        "timeoutSeconds": attempt_timeout_seconds(preset),
        "kind": "scene" if preset in SCENE_PRESETS else "video",
    }
    high_queue = load(ExecutionSettings).RENDER_HIGH_PRIORITY_JOB_QUEUE_ARN
    if priority == "HIGH" and high_queue:
        document["jobQueue"] = high_queue
    return document


def start(studio_id: str, job_id: str, attempt: int, priority: str, preset: str | None = None) -> str:
    """Start the render execution of one attempt (``preset`` sets the Batch try's timeout).

    Returns
    -------
    str
        The execution ARN.

    Raises
    ------
    botocore.exceptions.ClientError
        Step Functions refused (``ExecutionAlreadyExists`` is answered with the existing ARN).
    """
    arn = load(ExecutionSettings).RENDER_STATE_MACHINE_ARN
    name = execution_name(job_id, attempt)
    client = clients.client("stepfunctions")
    try:
        response = client.start_execution(
            stateMachineArn=arn,
            name=name,
            input=json.dumps(execution_input(studio_id, job_id, attempt, priority, preset)),
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ExecutionAlreadyExists":
            raise
        return arn.replace(":stateMachine:", ":execution:") + f":{name}"
    return str(response["executionArn"])


def stop(execution_arn: str | None, cause: str) -> None:
    """Stop an execution (best effort: an execution that already ended is fine)."""
    if not execution_arn:
        return
    try:
        clients.client("stepfunctions").stop_execution(
            executionArn=execution_arn, error="Cancelled", cause=cause
        )
    except (ClientError, BotoCoreError) as exc:
        logger.warning("stop_execution failed", extra={"execution_arn": execution_arn, "error": str(exc)})


def terminate(batch_job_id: str | None, reason: str) -> None:
    """Terminate a Batch job: SIGTERM to the container, SIGKILL after the grace period (best effort)."""
    if not batch_job_id:
        return
    try:
        clients.client("batch").terminate_job(jobId=batch_job_id, reason=reason[:256])
    except (ClientError, BotoCoreError) as exc:
        logger.warning("terminate_job failed", extra={"batch_job_id": batch_job_id, "error": str(exc)})
