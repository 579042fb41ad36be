"""Start the asset pipeline: once per completed upload, and again on demand (reprocess).

The uploads domain calls :func:`start_pipeline` when a multipart upload completes; the reprocess
route calls :func:`start_reprocess`. Both run the state machine named by
``ASSET_PIPELINE_STATE_MACHINE_ARN``:

- a first run is the execution named ``{uploadId}``: starting it twice returns the same execution
  (exactly one pipeline per upload);
- a reprocess run is named ``{uploadId}-reprocess-{n}`` and starts at Derive (input ``mode:
  "reprocess"``), skipping Validate and Publish.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError
from pydantic import BaseModel, Field

from keyframe import clock, settings
from keyframe.catalog import versions
from keyframe.errors import Conflict, NotFound
from keyframe.observability import logger
from keyframe.pipeline import service
from keyframe.pipeline.models import PipelineInput, PipelineRecord
from keyframe.storage import clients


class PipelineSettings(settings.EnvSettings):
    """What starting a pipeline needs from the environment (no defaults for resource names)."""

    ASSET_PIPELINE_STATE_MACHINE_ARN: str = Field(
        pattern=r"^arn:aws[a-z-]*:states:[a-z0-9-]+:\d{12}:stateMachine:"
    )


class PipelineStart(BaseModel):
    """A started (or already running) execution: its ARN, Step Functions status, start time (ISO Z)."""

    execution_arn: str
    status: str
    started_at: str


def _client() -> Any:
    return clients.client("stepfunctions")


def _state_machine_arn() -> str:
    return settings.load(PipelineSettings).ASSET_PIPELINE_STATE_MACHINE_ARN


def execution_arn(state_machine_arn: str, name: str) -> str:
    """The ARN Step Functions gives execution ``name`` of ``state_machine_arn``."""
    return state_machine_arn.replace(":stateMachine:", ":execution:", 1) + f":{name}"


def _iso(value: Any) -> str:
    """Step Functions' ``startDate`` (a datetime from boto3) as :func:`keyframe.clock.iso` writes it."""
    if isinstance(value, datetime):
        return clock.iso(value)
    return str(value)


def execution_input(record: PipelineRecord, mode: str) -> dict[str, Any]:
    """The state machine input of a run of ``record`` (``mode``: ``full`` or ``reprocess``).

    The task functions re-read the record for their data; the input carries the ids the states route
    on and what an operator looking at the execution wants to see.
    """
    data: dict[str, Any] = {
        "mode": mode,
        "studioId": record.studio_id,
        "assetId": record.asset_id,
        "uploadId": record.upload_id,
        "bucket": record.bucket,
        "key": record.key,
        "size": int(record.size),
        "fileName": record.file_name,
        "declaredContentType": record.declared_content_type,
        "run": int(record.run or 1),
    }
    if mode == "reprocess":
        data["validation"] = {
            "kind": record.kind,
            "format": record.format,
            "contentType": record.content_type,
            "size": int(record.size),
        }
        data["published"] = {"version": int(record.version)}
    return data


def _start(name: str, payload: dict[str, Any]) -> PipelineStart:
    client = _client()
    machine = _state_machine_arn()
    try:
        started = client.start_execution(stateMachineArn=machine, name=name, input=json.dumps(payload))
        return PipelineStart(
            execution_arn=started["executionArn"], status="RUNNING", started_at=_iso(started["startDate"])
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ExecutionAlreadyExists":
            raise
    existing = client.describe_execution(executionArn=execution_arn(machine, name))
    return PipelineStart(
        execution_arn=existing["executionArn"],
        status=existing["status"],
        started_at=_iso(existing["startDate"]),
    )


def start_pipeline(upload: PipelineInput) -> PipelineStart:
    """Start the pipeline of a completed upload, exactly once.

    Creates the pipeline record (table UPLOADS, PENDING, steps PENDING, emitting ``pipeline:update``)
    holding the ARN of the execution named ``upload.upload_id`` on ``ASSET_PIPELINE_STATE_MACHINE_ARN``
    (Step Functions names it so), then starts that execution. The record becomes RUNNING when the
    first step starts; nothing is written between (a record of an older release without the ARN is
    given it). Calling it again for the same upload returns the existing execution and changes
    nothing.

    Returns
    -------
    PipelineStart
        The execution's ARN, status (``RUNNING`` ...) and start time.

    Raises
    ------
    pydantic.ValidationError
        ``ASSET_PIPELINE_STATE_MACHINE_ARN`` is missing.
    botocore.exceptions.ClientError
        Step Functions refused (the record stays PENDING; a retry starts it).
    """
    record, _ = service.create(upload, execution_arn=execution_arn(_state_machine_arn(), upload.upload_id))
    started = _start(upload.upload_id, execution_input(record, "full"))
    if record.execution_arn != started.execution_arn:
        service.attach_execution(record, started.execution_arn)
    logger.info(
        "pipeline started", extra={"upload_id": upload.upload_id, "execution_arn": started.execution_arn}
    )
    return started


def start_reprocess(
    studio_id: str, asset_id: str, version: int, actor_id: str | None = None
) -> tuple[PipelineRecord, PipelineStart]:
    """Derive ``version`` of ``asset_id`` again (new thumbnails/proxy/waveform, metadata re-probed).

    Starts execution ``{uploadId}-reprocess-{n}`` in ``reprocess`` mode, which skips Validate and
    Publish. The rerun is tracked on the pipeline record (status, steps, error). A READY version stays
    READY (and current, renderable, reviewable) throughout: Finalize replaces its media and derived
    files on success; on failure it keeps its previous ones. A FAILED version is PROCESSING until
    Finalize (or MarkFailed) runs. ``actor_id`` (who asked) is recorded in the activity and the run.

    Returns
    -------
    tuple
        The pipeline record (its new run) and the started execution.

    Raises
    ------
    NotFound
        No pipeline made this version (in this studio).
    Conflict
        The version's pipeline is still running, or never got past validation.
    """
    record = service.get_by_version(studio_id, asset_id, version)
    if record is None:
        raise NotFound("No pipeline made this version", details={"assetId": asset_id, "version": version})
    if service.is_active(record):
        raise Conflict("The pipeline of this version is still running", details={"status": record.status})
    if not record.kind or record.version is None:
        raise Conflict("This upload never passed validation; upload the file again")
    service.begin_rerun(record, actor_id)
    marked = versions.set_version_processing(studio_id, asset_id, int(version), actor_id=actor_id)
    name = f"{record.upload_id}-reprocess-{int(record.run) - 1}"
    try:
        started = _start(name, execution_input(record, "reprocess"))
    except Exception:
        # leave nothing stuck: the run is FAILED (and a version it put to PROCESSING too), and
        # reprocess can be asked again; a READY version stays READY
        message = "The reprocess run could not be started; try again"
        service.finish_failed(record, "derive", "PIPELINE_START_FAILED", message)
        if marked.status == "PROCESSING":
            versions.mark_version_failed(
                studio_id, asset_id, int(version), error_code="PIPELINE_START_FAILED", message=message
            )
        raise
    service.attach_execution(record, started.execution_arn)
    return record, started
