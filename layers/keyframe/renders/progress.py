"""FFmpeg progress: parse ``-progress pipe:1`` output, compute percent and ETA, throttle updates.

``ffmpeg -progress pipe:1 -nostats`` writes blocks of ``key=value`` lines to stdout, each ending with
``progress=continue`` (or ``progress=end`` for the last)::

    frame=72
    fps=48.10
    out_time_us=3000000
    speed=2.01x
    progress=continue

:class:`ProgressParser` turns blocks into :class:`ProgressSample`; :class:`ProgressTracker` turns
samples into at most one :class:`ProgressUpdate` every :data:`UPDATE_INTERVAL_SECONDS` (plus the
final one), with a percent that never goes down.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

UPDATE_INTERVAL_SECONDS = 2.0
"""Minimum time between two progress updates written to the job record (seconds)."""


@dataclass(frozen=True)
class ProgressSample:
    """One ``-progress`` block.

    Attributes
    ----------
    out_time:
        Seconds of output written so far.
    frame:
        Frames encoded so far.
    fps:
        Encoding speed in frames per second (0 when unknown).
    speed:
        Media seconds encoded per wall-clock second (``2.01x`` -> 2.01; 0 when unknown).
    done:
        True for the last block (``progress=end``).
    """

    out_time: float
    frame: int
    fps: float
    speed: float
    done: bool


def _number(value: str | None) -> float:
    if not value:
        return 0.0
    try:
        number = float(value.strip().rstrip("x"))
    except ValueError:  # "N/A" before the first frame
        return 0.0
    return number if math.isfinite(number) and number > 0 else 0.0


class ProgressParser:
    """Accumulates ``key=value`` lines; :meth:`feed` returns a sample at the end of each block."""

    def __init__(self) -> None:
        self._fields: dict[str, str] = {}

    def feed(self, line: str) -> ProgressSample | None:
        """Take one line of FFmpeg's progress output.

        Returns
        -------
        ProgressSample or None
            A sample when ``line`` is the ``progress=...`` line closing a block, else ``None``.
        """
        key, sep, value = line.strip().partition("=")
        if not sep:
            return None
        if key != "progress":
            self._fields[key.strip()] = value.strip()
            return None
        fields, self._fields = self._fields, {}
        # out_time_us is microseconds; out_time_ms is ALSO microseconds (a historical FFmpeg quirk)
        micros = _number(fields.get("out_time_us") or fields.get("out_time_ms"))
        return ProgressSample(
            out_time=micros / 1_000_000,
            frame=int(_number(fields.get("frame"))),
            fps=_number(fields.get("fps")),
            speed=_number(fields.get("speed")),
            done=value.strip() == "end",
        )


def percent(out_time: float, duration: float) -> int:
    """Whole percent of ``duration`` (seconds) done at ``out_time`` (seconds), 0-99.

    100 is reserved for a finished render (see :meth:`ProgressTracker.observe`).
    """
    if duration <= 0:
        return 0
    return max(0, min(99, int(100 * out_time / duration)))


def eta_seconds(
    out_time: float, duration: float, speed: float, fps: float = 0.0, source_fps: float = 0.0
) -> int | None:
    """Seconds of wall-clock time left, rounded up; ``None`` when nothing tells.

    Parameters
    ----------
    out_time, duration:
        Output seconds written so far / in total.
    speed:
        Media seconds per wall second (FFmpeg's ``speed``); preferred when known.
    fps, source_fps:
        Encoding frames per second and the source frame rate; used when ``speed`` is unknown.

    Examples
    --------
    >>> eta_seconds(out_time=1.0, duration=3.0, speed=2.0)
    1
    >>> eta_seconds(out_time=1.0, duration=3.0, speed=0.0, fps=12.0, source_fps=24.0)
    4
    """
    remaining = max(0.0, duration - out_time)
    if speed > 0:
        return math.ceil(remaining / speed)
    if fps > 0 and source_fps > 0:
        return math.ceil(remaining * source_fps / fps)
    return None


@dataclass(frozen=True)
class ProgressUpdate:
    """What is written to the job record and emitted as ``render:progress``."""

    progress: int
    fps: float
    eta: int | None

    def to_json(self) -> dict:
        """``{"progress", "fps", "eta"}`` (``eta`` in seconds, ``None`` when unknown)."""
        return {"progress": self.progress, "fps": round(self.fps, 2), "eta": self.eta}


class ProgressTracker:
    """Monotonic percent and a throttle: at most one update per ``interval`` seconds, plus the last.

    Parameters
    ----------
    duration:
        Seconds of output expected.
    source_fps:
        Frame rate of the source (for the ETA when FFmpeg gives no speed).
    interval:
        Minimum seconds between two updates.
    clock:
        A monotonic clock (injected by tests).
    """

    def __init__(
        self,
        duration: float,
        source_fps: float = 0.0,
        *,
        interval: float = UPDATE_INTERVAL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.duration = duration
        self.source_fps = source_fps
        self.interval = interval
        self.clock = clock
        self.progress = 0
        self._last_sent: float | None = None

    def observe(self, sample: ProgressSample) -> ProgressUpdate | None:
        """Fold one sample in; return an update when one is due (always for the final sample).

        The percent never decreases; the final sample (``progress=end``) always gives 100 and ETA 0.
        """
        new = 100 if sample.done else percent(sample.out_time, self.duration)
        self.progress = max(self.progress, new)
        now = self.clock()
        if not sample.done and self._last_sent is not None and now - self._last_sent < self.interval:
            return None
        self._last_sent = now
        eta = (
            0
            if sample.done
            else eta_seconds(sample.out_time, self.duration, sample.speed, sample.fps, self.source_fps)
        )
        return ProgressUpdate(self.progress, sample.fps, eta)
