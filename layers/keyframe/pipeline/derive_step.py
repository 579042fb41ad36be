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

In the derive Lambda function (:func:`derive_in_lambda`) step 3 starts first, on a thread, from what
the execution input says (:func:`planned_job`), while steps 1 and 2 run: FFmpeg does not wait for
the record's read and write. The step's failures and exit codes are the same.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from keyframe import exit_codes
from keyframe.errors import KeyframeError
from keyframe.media import derive as media_derive
from keyframe.media.derive import DeriveJob, DeriveOutput, derive
from keyframe.media.errors import InvalidMediaError
from keyframe.media.ffmpeg import MediaToolError
from keyframe.observability import logger
from keyframe.pipeline import service

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


def derive_in_lambda(event: dict[str, object]) -> dict[str, object]:
    """The ``DeriveInLambda`` task: :func:`run_derive` for the execution input ``event``
    (``studioId``, ``uploadId``; FFmpeg starts at once on what the input says, :func:`planned_job`);
    returns ``{"derivedIn": "lambda"}``.

    Raises
    ------
    InvalidMediaError
        FFmpeg cannot read the file (the step is recorded FAILED; the run goes to MarkFailed).
    DeriveHandedToBatch
        Any other failure (recorded; the state machine hands the step to Batch).
    """
    studio_id, upload_id = str(event["studioId"]), str(event["uploadId"])
    code = run_derive(studio_id, upload_id, planned=planned_job(event))
    if code == exit_codes.OK:
        return {"derivedIn": "lambda"}
    if code == exit_codes.INVALID_INPUT:
        step = service.require(studio_id, upload_id).step(STEP)
        raise InvalidMediaError(
            str((step.get("error") or {}).get("message") or "FFmpeg could not read the file")
        )
    raise DeriveHandedToBatch(
        f"derive of upload {upload_id} failed in Lambda (exit {code}); Batch takes over"
    )


def planned_job(state: dict[str, Any]) -> DeriveJob | None:
    """The :class:`DeriveJob` a pipeline execution's state describes (ids, ``bucket``/``key``, ``run``,
    ``validation.kind`` from Validate, ``published.version`` from Publish), or ``None`` when it lacks
    any of them. :func:`run_derive` starts FFmpeg on it before the record is read."""
    try:
        return DeriveJob(
            str(state["studioId"]),
            str(state["assetId"]),
            int(state["published"]["version"]),
            str(state["bucket"]),
            str(state["key"]),
            str(state["validation"]["kind"]),
            run=int(state.get("run") or 1),
        )
    except (KeyError, TypeError, ValueError):
        return None


def run_derive(studio_id: str, upload_id: str, *, planned: DeriveJob | None = None) -> int:
    """Run the Derive step of upload ``upload_id``; returns the exit code (see the module docstring).

    ``planned`` (the job the execution input describes, :func:`planned_job`) is started on a thread
    at once, while the record is read and the step recorded RUNNING; it is used if it is the job the
    record describes (else the record's job runs after it). The call returns only once it ended.
    """
    logger.append_keys(upload_id=upload_id, studio_id=studio_id)
    pool: ThreadPoolExecutor | None = None
    early: Future[DeriveOutput] | None = None
    try:
        if planned is not None:
            # the client is made here: boto3's default session is not safe to share across threads
            s3 = media_derive.s3_client()
            pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="derive")
            early = pool.submit(derive, planned, s3=s3)
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
        output = early.result() if early is not None and job == planned else derive(job)
        service.step_succeeded(
            studio_id, upload_id, STEP, *service.set_derived(output.media.to_json(), output.derived)
        )
        logger.info("derive done", extra={"seconds": output.seconds, "derived": output.derived})
        return exit_codes.OK
    except InvalidMediaError as exc:
        logger.warning("derive refused the file", extra={"code": exc.code, "reason": exc.message})
        _record_failure(studio_id, upload_id, exc.code, exc.message)
        return exit_codes.INVALID_INPUT
    except (MediaToolError, KeyframeError) as exc:
        logger.error("derive failed", extra={"reason": str(exc)})
        _record_failure(studio_id, upload_id, "DERIVE_FAILED", str(exc))
        return exit_codes.RETRY
    except Exception as exc:
        logger.exception("derive crashed")
        _record_failure(studio_id, upload_id, "DERIVE_FAILED", f"{type(exc).__name__}: {exc}")
        return exit_codes.RETRY
    finally:
        if pool is not None:
            pool.shutdown(wait=True)  # FFmpeg never outlives the invocation


def _record_failure(studio_id: str, upload_id: str, code: str, message: str) -> None:
    try:
        service.step_failed(studio_id, upload_id, STEP, code, message)
    except Exception:  # the table may be what failed: the exit code still tells Batch
        logger.exception("could not record the derive failure")
