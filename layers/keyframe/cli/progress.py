"""Progress on the terminal: one bar, status lines above it, a summary line that stays.

- Status lines go through :func:`say` (``tqdm.write``): the bar is cleared, the line printed, the bar
  drawn again below it, so a line is never written into the bar.
- A transfer that resumes starts its bar at the bytes already there (``initial``), so the bar shows
  the true fraction and tqdm's rate counts only the bytes moved in this run.
- :class:`Transfer` measures what this run moved and how long it took, and :meth:`Transfer.summary`
  is the line printed once the bar is gone (the bar itself does not stay: ``leave=False``).
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from typing import IO, Any

from tqdm import tqdm

from keyframe.cli.output import size


def say(message: str, *, file: IO[str] | None = None) -> None:
    """Print a status line on stderr above any bar that is showing."""
    tqdm.write(message, file=file or sys.stderr)


def bar(
    total: float | None,
    *,
    description: str,
    initial: float = 0,
    unit: str = "B",
    enabled: bool = True,
    file: IO[str] | None = None,
) -> tqdm:  # type: ignore[type-arg]
    """A progress bar on stderr (bytes with binary prefixes when ``unit`` is ``B``); gone once closed."""
    byte_unit = unit == "B"
    return tqdm(
        total=total, initial=initial, desc=description, unit=unit, unit_scale=byte_unit,
        unit_divisor=1024 if byte_unit else 1000, file=file or sys.stderr, leave=False,
        disable=not enabled, dynamic_ncols=True,
    )  # fmt: skip


class Transfer:
    """Bytes moved in this run (thread-safe) and their real throughput.

    Parameters
    ----------
    total:
        Size of the whole file, bytes.
    already:
        Bytes that were already there before this run (resumed), not counted as moved.
    on_bytes:
        Called with each count added (the bar's ``update``).
    clock:
        Seconds (monotonic); tests pass a fake one.
    """

    def __init__(
        self, total: int, already: int = 0, on_bytes: Callable[[int], Any] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:  # fmt: skip
        self.total = total
        self.already = already
        self.moved = 0
        self._on_bytes = on_bytes
        self._clock = clock
        self._lock = threading.Lock()
        self.started = clock()
        self.ended: float | None = None

    def update(self, count: int) -> None:
        """Add ``count`` bytes moved (negative to take back a failed attempt's bytes)."""
        with self._lock:
            self.moved += count
        if self._on_bytes is not None:
            self._on_bytes(count)

    def finish(self) -> None:
        """Stop the clock."""
        if self.ended is None:
            self.ended = self._clock()

    @property
    def seconds(self) -> float:
        """Seconds from the start to :meth:`finish` (or now)."""
        return (self.ended if self.ended is not None else self._clock()) - self.started

    @property
    def rate(self) -> float:
        """Bytes per second moved in this run (0 when no time passed)."""
        seconds = self.seconds
        return self.moved / seconds if seconds > 0 else 0.0

    def summary(self, verb: str, what: str) -> str:
        """``sent shot.mov: 20.0 MiB in 2.1 s (9.5 MiB/s); 6.7 MiB were already there``."""
        line = f"{verb} {what}: {size(self.moved)} in {self.seconds:.1f} s ({size(self.rate)}/s)"
        if self.already:
            line += f"; {size(self.already)} of {size(self.total)} were already there (resumed)"
        return line
