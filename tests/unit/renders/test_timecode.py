"""Trim timecodes: the studio's one timecode parser (``keyframe.timecode``), drop-frame included."""

from __future__ import annotations

import pytest

from keyframe.errors import InvalidInput
from keyframe.renders.presets import RenderOptions, SourceMedia, plan, timecode_frame

NTSC = SourceMedia(
    width=1920, height=1080, fps=30000 / 1001, duration=120.0, frame_count=3597, has_audio=True
)


@pytest.mark.parametrize(
    ("text", "fps", "frame"),
    [
        ("00:00:00:00", 24, 0),
        ("00:00:01:12", 24, 36),
        ("01:00:00:00", 25, 90_000),
        ("00:01:00:00", 29.97, 1800),
        ("00:00:00:23", 23.976, 23),
        ("00:01:00;02", 29.97, 1800),  # drop-frame: ;00 and ;01 do not exist at minute 1
        ("00:10:00;00", 29.97, 17982),  # every tenth minute keeps them
        ("00:01:00;04", 59.94, 3600),
    ],
)
def test_a_trim_timecode_is_the_source_frame_it_names(text: str, fps: float, frame: int) -> None:
    assert timecode_frame(text, fps) == frame


@pytest.mark.parametrize(
    ("text", "fps"),
    [
        ("00:00:01:24", 24),  # the frame label must be below the nominal rate
        ("00:00:60:00", 24),
        ("0:00:01:00", 24),
        ("00:00:01", 24),
        ("00;00;01;00", 24),
        ("", 24),
        ("00:00:01;00", 24),  # 24 fps has no drop-frame form
        ("00:01:00;00", 29.97),  # a label drop-frame skips
    ],
)
def test_unusable_timecodes_are_refused_as_invalid_timecode(text: str, fps: float) -> None:
    with pytest.raises(InvalidInput) as caught:
        timecode_frame(text, fps)
    assert caught.value.code == "INVALID_TIMECODE"


def test_a_review_comments_drop_frame_timecode_is_a_valid_trim_point() -> None:
    # Given a 29.97 fps source and a comment's drop-frame timecode
    options = RenderOptions.model_validate({"startTimecode": "00:00:59;28", "endTimecode": "00:01:00;02"})
    # When a review copy is planned from it
    planned = plan("review-mp4", options, NTSC)
    # Then the range is the two frames before the minute (labels ;00 and ;01 of minute 1 are skipped)
    assert (planned.frames.start, planned.frames.end) == (1798, 1800)
