"""Timecode parsing and frame conversion (non-drop and drop-frame)."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, Field, ValidationError

from keyframe import timecode
from keyframe.timecode import Timecode, from_frames, parse_timecode, to_frames


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


# --- the public API other domains reuse (renders trims, burn-ins) ---------------------------------


@pytest.mark.parametrize(
    ("text", "fps", "start", "frame"),
    [
        ("00:00:01:12", 24, 0, 36),
        ("00:00:01:00", 23.976, 1001, 1025),  # 23.976 counts 24 labels a second, non-drop
        ("01:00:00:00", 23.976, 0, 86400),
        ("00:00:02:00", 25, 1, 51),
        ("00:01:00:00", 29.97, 0, 1800),  # non-drop at 29.97
        ("00:01:00;02", 29.97, 0, 1800),  # drop-frame at 29.97: the same frame, another label
        ("00:10:00;00", 29.97, 1001, 18983),
        ("00:01:00;04", 59.94, 0, 3600),
    ],
)
def test_a_label_names_a_frame_on_a_timeline(text, fps, start, frame) -> None:
    assert timecode.timecode_to_frame(text, fps, start_frame=start) == frame


@pytest.mark.parametrize(
    ("frame", "fps", "start", "drop", "text"),
    [
        (36, 24, 0, None, "00:00:01:12"),
        (1025, 23.976, 1001, None, "00:00:01:00"),  # 23.976 has no drop-frame form: non-drop
        (1800, 29.97, 0, None, "00:01:00;02"),  # 29.97 writes drop-frame by default
        (1800, 29.97, 0, False, "00:01:00:00"),  # unless asked for non-drop
        (3600, 59.94, 0, None, "00:01:00;04"),
        (1001, 30, 1001, None, "00:00:00:00"),  # 30 fps is not 29.97: non-drop
    ],
)
def test_a_frame_has_a_label(frame, fps, start, drop, text) -> None:
    assert timecode.frame_to_timecode(frame, fps, start_frame=start, drop_frame=drop) == text
    assert timecode.timecode_to_frame(text, fps, start_frame=start) == frame


def test_drop_frame_rates_are_the_ntsc_ones() -> None:
    assert [timecode.is_drop_frame_rate(f) for f in (29.97, 30000 / 1001, 59.94, 23.976, 24, 25, 30, 60)] == [
        True,
        True,
        True,
        False,
        False,
        False,
        False,
        False,
    ]
    assert [timecode.nominal_rate(f) for f in (23.976, 29.97, 59.94, 25)] == [24, 30, 60, 25]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: timecode.timecode_to_frame("00:00:01;00", 23.976), r"29\.97 or 59\.94"),
        (lambda: timecode.frame_to_timecode(10, 23.976, drop_frame=True), r"29\.97 or 59\.94"),
        (lambda: timecode.frame_to_timecode(1000, 24, start_frame=1001), "before the first frame"),
        (lambda: timecode.timecode_to_frame("00:01:00;01", 29.97), "skipped"),
        (lambda: timecode.timecode_to_frame("1:00:00:00", 24), "HH:MM:SS:FF"),
        (lambda: timecode.nominal_rate(0), "positive"),
    ],
)
def test_impossible_conversions_raise_value_error(call, message) -> None:
    with pytest.raises(ValueError, match=message):
        call()


def test_format_is_the_inverse_of_parse() -> None:
    for text in ("00:00:00:00", "12:34:56:23", "00:01:00;02"):
        assert timecode.format_timecode(parse_timecode(text)) == text


def test_the_regex_string_validates_pydantic_fields() -> None:
    class Trim(BaseModel):
        start: str = Field(pattern=timecode.TIMECODE_REGEX)

    assert Trim(start="00:00:01;02").start == "00:00:01;02"
    with pytest.raises(ValidationError):
        Trim(start="00:60:00:00")


def test_the_public_api_is_declared() -> None:
    assert set(timecode.__all__) == {
        "TIMECODE_PATTERN",
        "TIMECODE_REGEX",
        "Timecode",
        "format_timecode",
        "frame_to_timecode",
        "from_frames",
        "is_drop_frame_rate",
        "nominal_rate",
        "parse_timecode",
        "timecode_to_frame",
        "to_frames",
    }
    assert all(hasattr(timecode, name) for name in timecode.__all__)
