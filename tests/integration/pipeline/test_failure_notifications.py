"""An upload whose pipeline fails notifies its uploader (inbox and their sockets)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from keyframe.local import lambdas
from keyframe.media.errors import TypeMismatchError
from tests.integration.pipeline.conftest import Uploader, make_place, sample_event
from tests.support.identity import add_member, register_studio


def test_the_uploader_is_told_their_pipeline_failed(
    api: Any, stored_upload: Uploader, samples: dict[str, Path]
) -> None:
    # Given an artist's upload that Validate refuses
    admin = register_studio(api)
    artist = add_member(api, admin, "ARTIST")
    where = make_place(admin.studio_id, artist.user_id)
    event = stored_upload(samples["zip"], "clip.mp4", "video/mp4", where=where)
    with pytest.raises(TypeMismatchError):
        lambdas.invoke("pipeline-validate", event)
    # When MarkFailed runs
    failed = sample_event(
        "mark_failed_lambda_error", **{k: event[k] for k in ("studioId", "assetId", "uploadId")}
    )
    result = lambdas.invoke("pipeline-mark-failed", failed)
    # Then the artist has one pipeline-failed notification with the reason; the admin none
    [note] = api.get("/me/notifications", token=artist.access_token).json()["items"]
    assert note["type"] == "pipeline-failed" and note["title"] == "Processing of clip.mp4 failed"
    assert note["body"] == result["message"] and note["target"]["uploadId"] == event["uploadId"]
    assert note["actorId"] is None
    assert api.get("/me/notifications", token=admin.access_token).json()["items"] == []
