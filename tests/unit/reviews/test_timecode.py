"""Timecode parsing and frame conversion (non-drop and drop-frame)."""

from __future__ import annotations

import pytest

from keyframe.reviews.timecode import Timecode, from_frames, parse_timecode, to_frames


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("00:00:00:00", Timecode(0, 0, 0, 0)),
        ("01:02:03:04", Timecode(1, 2, 3, 4)),
        ("23:59:59:29", Timecode(23, 59, 59, 29)),
        ("00:01:00;02", Timecode(0, 1, 0, 2, drop_frame=True)),
        (" 00:00:10:05 ", Timecode(0, 0, 10, 5)),
    ],
)
def test_valid_timecodes_parse(text, expected) -> None:
    assert parse_timecode(text) == expected


@pytest.mark.parametrize(
    "text",
    ["", "0:0:0:0", "00:00:00", "00:60:00:00", "00:00:60:00", "00-00-00-00", "00:00:00:000", "aa:bb:cc:dd"],
)
def test_invalid_timecodes_are_refused(text) -> None:
    with pytest.raises(ValueError, match="timecode"):
        parse_timecode(text)


def test_labels_print_back_with_their_separator() -> None:
    assert str(parse_timecode("00:01:00;02")) == "00:01:00;02"
    assert str(parse_timecode("10:00:00:00")) == "10:00:00:00"


@pytest.mark.parametrize(
    ("text", "fps", "frames"),
    [
        ("00:00:01:00", 24, 24),
        ("00:00:10:12", 24, 252),
        ("01:00:00:00", 25, 90000),
        ("00:00:01:00", 23.976, 24),  # NTSC rates count nominal frames in non-drop timecode
        ("00:01:00:00", 29.97, 1800),
    ],
)
def test_non_drop_frame_conversion(text, fps, frames) -> None:
    assert to_frames(parse_timecode(text), fps) == frames
    assert str(from_frames(frames, fps)) == text


@pytest.mark.parametrize(
    ("text", "fps", "frames"),
    [
        ("00:00:59;29", 29.97, 1799),
        ("00:01:00;02", 29.97, 1800),  # ;00 and ;01 are skipped at minute 1
        ("00:10:00;00", 29.97, 17982),  # but not at minute 10
        ("01:00:00;00", 29.97, 107892),
        ("00:01:00;04", 59.94, 3600),
    ],
)
def test_drop_frame_conversion(text, fps, frames) -> None:
    assert to_frames(parse_timecode(text), fps) == frames
    assert str(from_frames(frames, fps, drop_frame=True)) == text


@pytest.mark.parametrize("fps", [29.97, 59.94])
def test_drop_frame_round_trips_every_frame_of_eleven_minutes(fps) -> None:
    for frame in range(0, int(fps * 60 * 11), 7):
        assert to_frames(from_frames(frame, fps, drop_frame=True), fps) == frame


def test_skipped_drop_frame_labels_do_not_exist() -> None:
    with pytest.raises(ValueError, match="skipped"):
        to_frames(parse_timecode("00:01:00;00"), 29.97)


def test_drop_frame_needs_an_ntsc_rate() -> None:
    with pytest.raises(ValueError, match=r"29\.97 or 59\.94"):
        to_frames(parse_timecode("00:00:01;00"), 24)


def test_a_frame_label_must_be_below_the_rate() -> None:
    with pytest.raises(ValueError, match="below 24"):
        to_frames(parse_timecode("00:00:01:24"), 24)


def test_negative_frames_have_no_timecode() -> None:
    with pytest.raises(ValueError):
        from_frames(-1, 24)
