"""SMPTE timecode (``HH:MM:SS:FF``, non-drop-frame) to frame numbers and back.

Frames are counted from 0 at ``00:00:00:00``. The frame field counts at the *nominal* rate: the
frame rate rounded to the nearest integer (30 for 29.97, 24 for 23.976), as non-drop timecode does.
Drop-frame timecode (``HH:MM:SS;FF``) is refused: say frames instead.
"""

from __future__ import annotations

import re

from keyframe.errors import InvalidInput

TIMECODE_PATTERN = r"^\d{2}:[0-5]\d:[0-5]\d[:;]\d{2}$"
_TIMECODE = re.compile(TIMECODE_PATTERN)


def nominal_rate(fps: float) -> int:
    """The integer frame rate timecode counts at (``round(fps)``, at least 1)."""
    if fps <= 0:
        raise ValueError("fps must be positive")
    return max(1, round(fps))


def to_frame(timecode: str, fps: float) -> int:
    """Frame number of ``timecode`` at ``fps``.

    Parameters
    ----------
    timecode:
        ``HH:MM:SS:FF`` (non-drop).
    fps:
        The source frame rate (frames per second).

    Returns
    -------
    int
        ``((HH*60 + MM)*60 + SS) * nominal_rate + FF``.

    Raises
    ------
    InvalidInput
        (code ``INVALID_TIMECODE``) malformed, drop-frame, or ``FF`` not below the nominal rate.

    Examples
    --------
    >>> to_frame("00:00:01:12", 24)
    36
    """
    if not _TIMECODE.match(timecode or ""):
        raise InvalidInput(f"{timecode!r} is not a timecode HH:MM:SS:FF", code="INVALID_TIMECODE")
    if ";" in timecode:
        raise InvalidInput(
            f"{timecode!r} is drop-frame timecode; use non-drop HH:MM:SS:FF or frame numbers",
            code="INVALID_TIMECODE",
        )
    hours, minutes, seconds, frames = (int(part) for part in timecode.split(":"))
    rate = nominal_rate(fps)
    if frames >= rate:
        raise InvalidInput(
            f"{timecode!r}: the frame field must be below {rate} at {fps:g} fps", code="INVALID_TIMECODE"
        )
    return ((hours * 60 + minutes) * 60 + seconds) * rate + frames


def from_frame(frame: int, fps: float) -> str:
    """The non-drop timecode of ``frame`` at ``fps`` (inverse of :func:`to_frame`).

    Examples
    --------
    >>> from_frame(36, 24)
    '00:00:01:12'
    """
    if frame < 0:
        raise ValueError("frame must be >= 0")
    rate = nominal_rate(fps)
    seconds, frames = divmod(frame, rate)
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}:{frames:02d}"
