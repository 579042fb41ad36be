"""What the derive Lambda function reads from the execution input to start FFmpeg at once."""

from __future__ import annotations

from keyframe.media.derive import DeriveJob
from keyframe.pipeline.derive_step import planned_job

STATE = {
    "studioId": "s1",
    "assetId": "a1",
    "uploadId": "u1",
    "bucket": "media",
    "key": "originals/u1/clip.mp4",
    "run": 2,
    "validation": {"kind": "video", "format": "mp4"},
    "published": {"version": 3},
}


def test_a_full_execution_state_describes_the_job() -> None:
    assert planned_job(STATE) == DeriveJob("s1", "a1", 3, "media", "originals/u1/clip.mp4", "video", run=2)


def test_a_state_without_the_published_version_starts_nothing_early() -> None:
    state = {key: value for key, value in STATE.items() if key != "published"}
    assert planned_job(state) is None
    assert planned_job({**STATE, "validation": None}) is None
