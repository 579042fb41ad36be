"""JSON shapes of the pipeline routes (camelCase on the wire)."""

from __future__ import annotations

from pydantic import Field

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
    up with each reprocess; ``kind``/``format`` are what validation found in the bytes; ``revision``
    counts the record's changes (the newest view has the highest).
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
    revision: int = Field(
        ge=0,
        description=(
            "Counts the pipeline's changes: 1 when it was created, one more with every change (0: "
            "stored before revisions were counted). Of two views of one pipeline the one with the "
            "higher revision is the newer: `pipeline:update` events may be numbered (`seq`) in another "
            "order than the changes were made, so show an update only if its revision is higher than "
            "the one shown."
        ),
    )


class ReprocessAccepted(ApiModel):
    """A reprocess run was started: poll ``GET …/pipeline`` or listen for ``pipeline:update``."""

    status: str
    upload_id: str
    asset_id: str
    version: int
    run: int
    execution_arn: str
    started_at: str
