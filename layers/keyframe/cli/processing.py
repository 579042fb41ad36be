"""Waiting for an upload to become a version: polls the upload and its version until READY or FAILED.

Only the public API is read: ``GET /assets/{assetId}/uploads/{uploadId}`` (the pipeline's status)
and, once the upload names its version, ``GET /assets/{assetId}/versions/{version}``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from keyframe.cli.client import ApiClient, ApiError

VERSION_FAILED = "FAILED"
VERSION_READY = "READY"
_PIPELINE_FAILED = {"FAILED", "TIMED_OUT", "ABORTED"}


@dataclass(frozen=True)
class Outcome:
    """Where processing ended: ``status`` READY or FAILED, the version (if any) and why it failed."""

    status: str
    version: int | None
    reason: str | None = None


def pipeline_outcome(upload: dict[str, Any], version: dict[str, Any] | None) -> Outcome | None:
    """Read a final outcome from an upload's status and its version (``None``: still processing).

    The version's own status (catalog) wins when known; otherwise a failed pipeline execution
    (``FAILED``/``TIMED_OUT``/``ABORTED``) ends the wait with its error.
    """
    number = upload.get("version")
    if version is not None:
        status = str(version.get("status") or "").upper()
        if status == VERSION_READY:
            return Outcome(VERSION_READY, version.get("version", number))
        if status == VERSION_FAILED:
            error = version.get("error") or {}
            reason = error.get("message") or error.get("code")
            return Outcome(VERSION_FAILED, version.get("version", number), reason)
    pipeline = upload.get("pipeline") or {}
    status = str(pipeline.get("status") or "").upper()
    if status == VERSION_READY and number is not None:
        return Outcome(VERSION_READY, number)
    if status in _PIPELINE_FAILED or status == VERSION_FAILED:
        error = pipeline.get("error")
        reason = (
            ((error.get("message") or error.get("code")) if isinstance(error, dict) else error)
            or pipeline.get("reason")
            or pipeline.get("cause")
            or f"the pipeline ended {status}"
        )
        return Outcome(VERSION_FAILED, number, str(reason))
    return None


def wait_for_version(
    api: ApiClient,
    asset_id: str,
    upload_id: str,
    *,
    timeout: float,
    interval: float = 2.0,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Outcome | None:
    """Poll the upload (and its version once known) until READY or FAILED; ``None`` on timeout."""
    deadline = clock() + timeout
    while True:
        upload = api.get(f"/assets/{asset_id}/uploads/{upload_id}")
        version_body = None
        if upload.get("version") is not None:
            try:
                version_body = api.get(f"/assets/{asset_id}/versions/{upload['version']}")
            except ApiError as exc:
                if exc.status != 404:
                    raise
        outcome = pipeline_outcome(upload, version_body)
        if outcome is not None:
            return outcome
        if clock() >= deadline:
            return None
        sleep(min(interval, max(0.0, deadline - clock())))
        interval = min(interval * 1.5, 10.0)
