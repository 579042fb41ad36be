"""The Derive step as the media container or the derive Lambda function runs it: bookkeeping around
:func:`keyframe.media.derive.derive`.

``python -m keyframe.media.worker derive --studio-id S --upload-id U`` calls :func:`run_derive`:

1. reads the pipeline record (table UPLOADS) for the version, the original's bucket/key and kind;
2. records the ``derive`` step RUNNING (``pipeline:update``);
3. probes the original and makes and uploads its derivatives (media bucket);
4. writes ``media`` and ``derived`` into the record, where Finalize reads them (a Batch job's output
   does not flow back through ``submitJob.sync``), and records the step SUCCEEDED;
5. returns the process exit code (:mod:`keyframe.exit_codes`): 0, 3 for an invalid file (Batch does
   not retry), 1 otherwise.

In the derive Lambda function (:func:`derive_in_lambda`) FFmpeg starts first, on a thread, on the
original and kind the execution input names (:func:`planned_source`): it makes the files in a
temporary folder (:func:`keyframe.media.derive.render`) while this thread publishes the upload as
its version (the Publish step, :func:`keyframe.pipeline.tasks.publish`, when the input carries no
``published`` version yet), reads the record and records the step RUNNING; the files are uploaded
under the version's keys once both are done. The step's failures and exit codes are the same.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from functools import partial
from tempfile import TemporaryDirectory
from typing import Any

from keyframe import exit_codes
from keyframe.errors import KeyframeError
from keyframe.media import derive as media_derive
from keyframe.media.derive import DeriveJob, Rendered, derive, render, upload
from keyframe.media.errors import InvalidMediaError
from keyframe.media.ffmpeg import MediaToolError
from keyframe.observability import logger
from keyframe.pipeline import service, tasks
from keyframe.pipeline.errors import TransientError

STEP = "derive"

LAMBDA_DERIVE_MAX_BYTES = 1024**3
"""Sources up to this size (1 GiB) are derived in the ``pipeline-derive`` Lambda function (state
``DeriveInLambda``), larger ones by the Batch media job (``Derive``); the state machine's ``DeriveWhere``
choice holds the same number (a unit test keeps them equal). 1 GiB is about 2 minutes of 1080p ProRes
422 HQ or 15 minutes of 10 Mbit/s H.264: its one-pass proxy encode fits well within Lambda's 15
minutes on 6 vCPUs, and the source is streamed (only the derivatives go to ``/tmp``)."""


class DeriveHandedToBatch(RuntimeError):
    """The Lambda derive failed for a reason other than the file (network, FFmpeg killed, a timeout
    coming): the state machine catches it and runs the Batch media job, which records its own attempt."""


class PublishFailed(RuntimeError):
    """The Lambda derive's Publish step was refused (not a transient error): the step recorded its
    error, and the state machine's catch sends the run to MarkFailed, as a failed Publish task did."""


@dataclass(frozen=True)
class PlannedSource:
    """The original and kind an execution input names (:func:`planned_source`): what FFmpeg needs to
    start; the version only names the uploaded files' keys."""

    bucket: str
    key: str
    kind: str


def derive_in_lambda(event: dict[str, Any]) -> dict[str, Any]:
    """The ``DeriveInLambda`` task: Publish (unless the input has ``published``, as a reprocess run
    or a retried task after Publish has) beside FFmpeg, then :func:`run_derive` for the execution
    input ``event`` (``studioId``, ``uploadId``; FFmpeg starts at once on what the input says,
    :func:`planned_source`).

    Returns
    -------
    dict
        ``{"derivedIn": "lambda", "version": 3}`` (the version the files were derived for).

    Raises
    ------
    InvalidMediaError
        FFmpeg cannot read the file (the step is recorded FAILED; the run goes to MarkFailed).
    PublishFailed
        Publish refused the upload (recorded on the publish step; the run goes to MarkFailed).
    TransientError
        Publish met throttling or an unreachable table (the task is retried).
    DeriveHandedToBatch
        Any other failure (recorded; the state machine hands the step to Batch).
    """
    studio_id, upload_id = str(event["studioId"]), str(event["uploadId"])
    publish = None if event.get("published") else partial(_publish, event)
    code, version = _derive(studio_id, upload_id, planned=planned_source(event), publish=publish)
    if code == exit_codes.OK:
        return {"derivedIn": "lambda", "version": version}
    if code == exit_codes.INVALID_INPUT:
        step = service.require(studio_id, upload_id).step(STEP)
        raise InvalidMediaError(
            str((step.get("error") or {}).get("message") or "FFmpeg could not read the file")
        )
    raise DeriveHandedToBatch(
        f"derive of upload {upload_id} failed in Lambda (exit {code}); Batch takes over"
    )


def _publish(event: dict[str, Any]) -> None:
    try:
        tasks.publish(event)
    except TransientError:
        raise
    except Exception as exc:  # recorded on the publish step by run_step
        raise PublishFailed(f"{type(exc).__name__}: {exc}") from exc


def planned_source(state: dict[str, Any]) -> PlannedSource | None:
    """The original (``bucket``/``key``) and ``validation.kind`` (from Validate) a pipeline
    execution's state names, or ``None`` when it lacks any of them. :func:`run_derive` starts FFmpeg
    on it before the record is read."""
    try:
        return PlannedSource(str(state["bucket"]), str(state["key"]), str(state["validation"]["kind"]))
    except (KeyError, TypeError):
        return None


def run_derive(studio_id: str, upload_id: str, *, planned: PlannedSource | None = None) -> int:
    """Run the Derive step of upload ``upload_id``; returns the exit code (see the module docstring).

    ``planned`` (the original the execution input names, :func:`planned_source`) is rendered on a
    thread at once, while the record is read and the step recorded RUNNING; its files are used if it
    is the original and kind the record names (else the record's job is derived after it). The call
    returns only once FFmpeg ended.
    """
    return _derive(studio_id, upload_id, planned=planned)[0]


def _derive(
    studio_id: str,
    upload_id: str,
    *,
    planned: PlannedSource | None,
    publish: Callable[[], None] | None = None,
) -> tuple[int, int | None]:
    """:func:`run_derive`, with ``publish`` run on this thread first (while FFmpeg runs; its
    exceptions propagate, nothing is recorded for the derive step); returns the exit code and the
    version derived (``None`` unless it succeeded)."""
    logger.append_keys(upload_id=upload_id, studio_id=studio_id)
    with ExitStack() as scope:
        early: Future[Rendered] | None = None
        s3: Any = None
        if planned is not None:
            # the client is made here: boto3's default session is not safe to share across threads
            s3 = media_derive.s3_client()
            folder = scope.enter_context(TemporaryDirectory(prefix="keyframe-derive-"))
            pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="derive")
            scope.callback(pool.shutdown, wait=True)  # FFmpeg never outlives the call, nor its folder
            early = pool.submit(render, planned.bucket, planned.key, planned.kind, folder, s3=s3)
        if publish is not None:
            publish()
        try:
            record = service.require(studio_id, upload_id)
            if record.version is None or not record.kind:
                raise InvalidMediaError(
                    "Derive ran before the upload was validated and published", code="PIPELINE_ORDER"
                )
            service.step_started(studio_id, upload_id, STEP, record=record)
            job = DeriveJob(
                studio_id,
                record.asset_id,
                int(record.version),
                record.bucket,
                record.key,
                record.kind,
                run=int(record.run or 1),
            )
            if early is not None and planned == PlannedSource(job.bucket, job.key, job.kind):
                output = upload(early.result(), job, s3=s3)
            else:
                output = derive(job)
            service.step_succeeded(
                studio_id, upload_id, STEP, *service.set_derived(output.media.to_json(), output.derived)
            )
            logger.info("derive done", extra={"seconds": output.seconds, "derived": output.derived})
            return exit_codes.OK, job.version
        except InvalidMediaError as exc:
            logger.warning("derive refused the file", extra={"code": exc.code, "reason": exc.message})
            _record_failure(studio_id, upload_id, exc.code, exc.message)
            return exit_codes.INVALID_INPUT, None
        except (MediaToolError, KeyframeError) as exc:
            logger.error("derive failed", extra={"reason": str(exc)})
            _record_failure(studio_id, upload_id, "DERIVE_FAILED", str(exc))
            return exit_codes.RETRY, None
        except Exception as exc:
            logger.exception("derive crashed")
            _record_failure(studio_id, upload_id, "DERIVE_FAILED", f"{type(exc).__name__}: {exc}")
            return exit_codes.RETRY, None


def _record_failure(studio_id: str, upload_id: str, code: str, message: str) -> None:
    try:
        service.step_failed(studio_id, upload_id, STEP, code, message)
    except Exception:  # the table may be what failed: the exit code still tells Batch
        logger.exception("could not record the derive failure")
