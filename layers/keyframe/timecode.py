"""SMPTE timecode ``HH:MM:SS:FF`` (and drop-frame ``HH:MM:SS;FF``) to and from frame numbers.

This is Keyframe's one timecode module, in the shared kernel: pure functions with no I/O and no
domain errors (bad input raises :class:`ValueError`; callers turn it into
``InvalidInput(code="INVALID_TIMECODE")``). Reviews use it for comments, renders for trims; any other
domain (burn-ins, probe start timecodes) should too.

Public API
----------
=================================================  ===============================================
:data:`TIMECODE_REGEX`                             the label's shape as a regex string (pydantic
                                                   ``Field(pattern=...)``); :data:`TIMECODE_PATTERN`
                                                   is it compiled
:func:`parse_timecode` / :func:`format_timecode`   text <-> :class:`Timecode` (``str(tc)`` formats)
:func:`to_frames` / :func:`from_frames`            :class:`Timecode` <-> frames since ``00:00:00:00``
:func:`timecode_to_frame` / :func:`frame_to_timecode`  text <-> frame number, with a start frame
:func:`nominal_rate`, :func:`is_drop_frame_rate`   the rate labels count at; whether it has DF
=================================================  ===============================================

Frame rates
-----------
A label counts frames at the *nominal* rate, the frame rate rounded (24 for 23.976, 30 for 29.97,
60 for 59.94):

- integer rates (24, 25, 30, 48, 50, 60 ...) and 23.976 (24000/1001) have only non-drop timecode
  (SMPTE 12M defines no drop-frame form for 23.976: its labels drift from the wall clock by 0.1 %);
- 29.97 (30000/1001) and 59.94 (60000/1001) have both: non-drop ``HH:MM:SS:FF`` and drop-frame
  ``HH:MM:SS;FF``. Drop-frame skips the labels ``;00`` and ``;01`` (``;00`` to ``;03`` at 59.94) at
  the start of every minute except each tenth, so the label stays close to the wall clock. The
  separator says which one a label is; :func:`frame_to_timecode` writes drop-frame by default at
  these rates (``drop_frame=False`` for non-drop).

A frame number on a timeline relates to a label through the timeline's first frame::

    frame == start_frame + to_frames(parse_timecode(label), fps)

(``00:00:00:00`` is ``start_frame``, often 0, 1 or 1001.) A comment may carry a ``frame``, a
``timecode`` or both; with the project's rate the two must agree and a missing one is derived.

Examples
--------
>>> timecode_to_frame("00:00:01:12", 24)
36
>>> timecode_to_frame("00:00:01:00", 23.976, start_frame=1001)
1025
>>> frame_to_timecode(1800, 29.97)
'00:01:00;02'
>>> frame_to_timecode(1800, 29.97, drop_frame=False)
'00:01:00:00'
>>> to_frames(parse_timecode("00:01:00;02"), 29.97)
1800
>>> str(from_frames(1800, 29.97, drop_frame=True))
'00:01:00;02'
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
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
]

TIMECODE_REGEX = r"^(\d{2}):([0-5]\d):([0-5]\d)([:;])(\d{2})$"
"""``HH:MM:SS:FF`` or ``HH:MM:SS;FF`` (drop-frame), two digits each, minutes and seconds below 60."""
TIMECODE_PATTERN = re.compile(TIMECODE_REGEX)
""":data:`TIMECODE_REGEX` compiled."""

_NTSC_TOLERANCE = 0.01


@dataclass(frozen=True)
class Timecode:
    """A parsed timecode label (no frame rate attached); ``str()`` formats it back."""

    hours: int
    minutes: int
    seconds: int
    frames: int
    drop_frame: bool = False

    def __str__(self) -> str:
        separator = ";" if self.drop_frame else ":"
        return f"{self.hours:02d}:{self.minutes:02d}:{self.seconds:02d}{separator}{self.frames:02d}"


def parse_timecode(text: str) -> Timecode:
    """Parse ``HH:MM:SS:FF`` or drop-frame ``HH:MM:SS;FF`` (surrounding spaces are ignored).

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


def format_timecode(timecode: Timecode) -> str:
    """``HH:MM:SS:FF`` (``HH:MM:SS;FF`` when drop-frame): the same as ``str(timecode)``."""
    return str(timecode)


def nominal_rate(fps: float) -> int:
    """The integer rate a label's frame field counts at: ``round(fps)`` (24 for 23.976).

    Raises
    ------
    ValueError
        ``fps`` is not positive.
    """
    if fps <= 0:
        raise ValueError("the frame rate must be positive")
    return max(1, round(fps))


def is_drop_frame_rate(fps: float) -> bool:
    """True for 29.97 and 59.94 fps (within 0.01), the rates that have drop-frame timecode."""
    nominal = nominal_rate(fps)
    return nominal in (30, 60) and abs(fps - nominal * 1000 / 1001) <= _NTSC_TOLERANCE


def _dropped_per_minute(fps: float) -> int:
    """Labels skipped per minute in drop-frame: 2 at 29.97, 4 at 59.94.

    Raises
    ------
    ValueError
        The rate has no drop-frame form.
    """
    if not is_drop_frame_rate(fps):
        raise ValueError(f"drop-frame timecode needs 29.97 or 59.94 fps, not {fps:g}")
    return nominal_rate(fps) // 15


def to_frames(timecode: Timecode, fps: float) -> int:
    """Frames from ``00:00:00:00`` to ``timecode`` at ``fps`` frames a second.

    Raises
    ------
    ValueError
        The frame label is not below the nominal rate, the label is drop-frame at a rate without
        drop-frame, or it is a drop-frame label that is skipped (``00:01:00;00`` at 29.97).
    """
    nominal = nominal_rate(fps)
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
    nominal = nominal_rate(fps)
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


def timecode_to_frame(text: str, fps: float, *, start_frame: int = 0) -> int:
    """The frame number a timecode label names on a timeline starting at ``start_frame``.

    Parameters
    ----------
    text:
        ``HH:MM:SS:FF`` or drop-frame ``HH:MM:SS;FF``.
    fps:
        The timeline's frame rate (frames per second, e.g. 24, 23.976, 29.97).
    start_frame:
        The frame number of ``00:00:00:00`` (default 0).

    Returns
    -------
    int
        ``start_frame + to_frames(parse_timecode(text), fps)``.

    Raises
    ------
    ValueError
        Malformed label, frame field not below the nominal rate, drop-frame at a rate without it,
        or a skipped drop-frame label.
    """
    return start_frame + to_frames(parse_timecode(text), fps)


def frame_to_timecode(frame: int, fps: float, *, start_frame: int = 0, drop_frame: bool | None = None) -> str:
    """The timecode label of frame number ``frame`` on a timeline starting at ``start_frame``.

    Parameters
    ----------
    frame:
        A frame number, at least ``start_frame``.
    fps:
        The timeline's frame rate (frames per second).
    start_frame:
        The frame number of ``00:00:00:00`` (default 0).
    drop_frame:
        Write drop-frame (``HH:MM:SS;FF``); ``None`` (default) means "when the rate has it"
        (29.97, 59.94). ``False`` always writes non-drop.

    Raises
    ------
    ValueError
        ``frame`` before ``start_frame``, or drop-frame asked for a rate without one.
    """
    if frame < start_frame:
        raise ValueError(f"frame {frame} is before the first frame {start_frame}")
    drop = is_drop_frame_rate(fps) if drop_frame is None else drop_frame
    return str(from_frames(frame - start_frame, fps, drop_frame=drop))
