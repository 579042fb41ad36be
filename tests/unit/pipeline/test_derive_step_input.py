"""What the derive Lambda function reads from the execution input to start FFmpeg at once."""

from __future__ import annotations

from keyframe.pipeline.derive_step import PlannedSource, planned_source

STATE = {
    "studioId": "s1",
    "assetId": "a1",
    "uploadId": "u1",
    "bucket": "media",
    "key": "originals/u1/clip.mp4",
    "run": 2,
    "validation": {"kind": "video", "format": "mp4"},
}


def test_a_validated_execution_state_names_the_source_before_it_is_published() -> None:
    # The version only names the derived files' keys: FFmpeg starts without it
    assert planned_source(STATE) == PlannedSource("media", "originals/u1/clip.mp4", "video")
    assert planned_source({**STATE, "published": {"version": 3}}) == planned_source(STATE)


def test_a_state_without_the_validated_kind_starts_nothing_early() -> None:
    state = {key: value for key, value in STATE.items() if key != "validation"}
    assert planned_source(state) is None
    assert planned_source({**STATE, "validation": None}) is None
    assert planned_source({key: value for key, value in STATE.items() if key != "key"}) is None
