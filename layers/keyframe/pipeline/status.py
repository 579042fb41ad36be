"""Read a pipeline's status: by upload (the uploads API) or by version (``GET …/pipeline``).

Returns the record's public view, a dict with camelCase keys::

    {"status": "RUNNING", "uploadId": "…", "assetId": "…", "version": 3, "executionArn": "…",
     "run": 1, "kind": "video", "format": "mp4", "startedAt": "…Z",
     "steps": [{"name": "validate", "status": "SUCCEEDED", "startedAt": "…", "endedAt": "…",
                "attempts": 1}, …],
     "error": {"code": "INVALID_MEDIA", "message": "…"}}   # only when FAILED

Table: UPLOADS (pipeline records; gsi1 by asset and version).
"""

from __future__ import annotations

from typing import Any

from keyframe.pipeline import service


def for_upload(studio_id: str, upload_id: str) -> dict[str, Any] | None:
    """The pipeline of ``upload_id`` in ``studio_id``, or ``None``.

    ``{status, version?, steps, error?, …}`` (see the module docstring).
    """
    record = service.get(studio_id, upload_id)
    return service.view(record) if record else None


def for_version(studio_id: str, asset_id: str, version: int) -> dict[str, Any] | None:
    """The pipeline that made ``version`` of ``asset_id`` (its latest run), or ``None``."""
    record = service.get_by_version(studio_id, asset_id, version)
    return service.view(record) if record else None
