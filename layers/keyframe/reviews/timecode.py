"""SMPTE timecode ``HH:MM:SS:FF`` (and drop-frame ``HH:MM:SS;FF``) to and from frame numbers.

A comment may carry a ``frame`` (an int >= 0, the frame number on the version's timeline), a
``timecode``, or both. When the project's frame rate is known the two must agree::

    frame == start_frame + to_frames(timecode, fps)

(timecode ``00:00:00:00`` is the project's first frame, ``startFrame``, often 0, 1 or 1001), and a
missing one is derived from the other. Drop-frame timecode exists only for 29.97 and 59.94 fps: it
skips the labels ``;00`` and ``;01`` (``;00`` to ``;03`` at 59.94) at the start of every minute except
each tenth, so the label stays close to the wall clock.

Examples
--------
>>> to_frames(parse_timecode("00:01:00;02"), 29.97)
1800
>>> str(from_frames(1800, 29.97, drop_frame=True))
'00:01:00;02'
"""

from __future__ import annotations

import re
from dataclasses import dataclass

TIMECODE_PATTERN = re.compile(r"^(\d{2}):([0-5]\d):([0-5]\d)([:;])(\d{2})$")
"""``HH:MM:SS:FF`` or ``HH:MM:SS;FF`` (drop-frame), two digits each, minutes and seconds below 60."""

_NTSC_TOLERANCE = 0.01


@dataclass(frozen=True)
class Timecode:
    """A parsed timecode label (no frame rate attached)."""

    hours: int
    minutes: int
    seconds: int
    frames: int
    drop_frame: bool = False

    def __str__(self) -> str:
        separator = ";" if self.drop_frame else ":"
        return f"{self.hours:02d}:{self.minutes:02d}:{self.seconds:02d}{separator}{self.frames:02d}"


def parse_timecode(text: str) -> Timecode:
    """Parse ``HH:MM:SS:FF`` or drop-frame ``HH:MM:SS;FF``.

    Raises
    ------
    ValueError
        Not a timecode (wrong shape, minutes or seconds over 59).
    """
    match = TIMECODE_PATTERN.match(text.strip())
    if not match:
        raise ValueError("a timecode is HH:MM:SS:FF (or HH:MM:SS;FF for drop-frame)")
    hours, minutes, seconds, separator, frames = match.groups()
    return Timecode(int(hours), int(minutes), int(seconds), int(frames), drop_frame=separator == ";")


def _nominal(fps: float) -> int:
    if fps <= 0:
        raise ValueError("the frame rate must be positive")
    return round(fps)


def _dropped_per_minute(fps: float) -> int:
    """Labels skipped per minute in drop-frame: 2 at 29.97, 4 at 59.94.

    Raises
    ------
    ValueError
        The rate has no drop-frame form.
    """
    nominal = _nominal(fps)
    if nominal not in (30, 60) or abs(fps - nominal * 1000 / 1001) > _NTSC_TOLERANCE:
        raise ValueError(f"drop-frame timecode needs 29.97 or 59.94 fps, not {fps:g}")
    return nominal // 15


def to_frames(timecode: Timecode, fps: float) -> int:
    """Frames from ``00:00:00:00`` to ``timecode`` at ``fps`` frames a second.

    Raises
    ------
    ValueError
        The frame label is not below the nominal rate, or the drop-frame label does not exist.
    """
    nominal = _nominal(fps)
    if timecode.frames >= nominal:
        raise ValueError(f"the frame label {timecode.frames:02d} is not below {nominal} fps")
    total = ((timecode.hours * 60 + timecode.minutes) * 60 + timecode.seconds) * nominal + timecode.frames
    if not timecode.drop_frame:
        return total
    drop = _dropped_per_minute(fps)
    if timecode.seconds == 0 and timecode.frames < drop and timecode.minutes % 10 != 0:
        raise ValueError(f"{timecode} is a skipped drop-frame label")
    minutes = timecode.hours * 60 + timecode.minutes
    return total - drop * (minutes - minutes // 10)


def from_frames(frames: int, fps: float, *, drop_frame: bool = False) -> Timecode:
    """The timecode label ``frames`` frames after ``00:00:00:00`` at ``fps``.

    Raises
    ------
    ValueError
        Negative frame count, or drop-frame asked for a rate without one.
    """
    if frames < 0:
        raise ValueError("frames must be >= 0")
    nominal = _nominal(fps)
    if drop_frame:
        drop = _dropped_per_minute(fps)
        per_ten_minutes = nominal * 600 - drop * 9
        per_minute = nominal * 60 - drop
        tens, rest = divmod(frames, per_ten_minutes)
        frames += drop * 9 * tens
        if rest > drop:
            frames += drop * ((rest - drop) // per_minute)
    seconds_total, frame_label = divmod(frames, nominal)
    minutes_total, seconds = divmod(seconds_total, 60)
    hours, minutes = divmod(minutes_total, 60)
    return Timecode(hours, minutes, seconds, frame_label, drop_frame=drop_frame)
