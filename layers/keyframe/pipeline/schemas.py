"""JSON shapes of the pipeline routes (camelCase on the wire)."""

from __future__ import annotations

from keyframe.schemas import ApiModel


class PipelineError(ApiModel):
    """Why a step or the pipeline failed: a stable ``code`` and a human ``message``."""

    code: str
    message: str


class PipelineStep(ApiModel):
    """One step of the current run.

    ``status``: PENDING, RUNNING, SUCCEEDED, FAILED or SKIPPED; times ISO-8601 UTC; ``attempts``
    counts starts (retries included).
    """

    name: str
    status: str
    started_at: str | None = None
    ended_at: str | None = None
    attempts: int | None = None
    error: PipelineError | None = None


class PipelineStatus(ApiModel):
    """A version's pipeline (its latest run).

    ``status``: PENDING, RUNNING, SUCCEEDED or FAILED; ``run`` is 1 for the upload's run and counts
    up with each reprocess; ``kind``/``format`` are what validation found in the bytes.
    """

    status: str
    upload_id: str
    asset_id: str
    version: int | None = None
    execution_arn: str | None = None
    run: int = 1
    kind: str | None = None
    format: str | None = None
    started_at: str | None = None
    ended_at: str | None = None
    steps: list[PipelineStep]
    error: PipelineError | None = None


class ReprocessAccepted(ApiModel):
    """A reprocess run was started: poll ``GET …/pipeline`` or listen for ``pipeline:update``."""

    status: str
    upload_id: str
    asset_id: str
    version: int
    run: int
    execution_arn: str
    started_at: str
