"""SMPTE non-drop timecode <-> frames."""

from __future__ import annotations

import pytest

from keyframe.errors import InvalidInput
from keyframe.renders import timecode


@pytest.mark.parametrize(
    ("text", "fps", "frame"),
    [
        ("00:00:00:00", 24, 0),
        ("00:00:01:12", 24, 36),
        ("01:00:00:00", 25, 90_000),
        ("00:01:00:00", 29.97, 1800),
        ("00:00:00:23", 23.976, 23),
    ],
)
def test_timecode_to_frame(text: str, fps: float, frame: int) -> None:
    assert timecode.to_frame(text, fps) == frame
    assert timecode.from_frame(frame, fps) == text


@pytest.mark.parametrize("text", ["00:00:01:24", "00:00:60:00", "0:00:01:00", "00:00:01", "00;00;01;00", ""])
def test_bad_timecodes_are_refused(text: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        timecode.to_frame(text, 24)
    assert caught.value.code == "INVALID_TIMECODE"


def test_drop_frame_timecode_is_refused_with_a_hint() -> None:
    with pytest.raises(InvalidInput, match="drop-frame"):
        timecode.to_frame("00:01:00;02", 29.97)
