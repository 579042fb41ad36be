"""The one clock: one timestamp form that sorts as text, and one seam tests move time with."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from keyframe import clock

LAYER = Path(__file__).resolve().parents[3] / "layers" / "keyframe"


def test_a_moment_is_written_with_microseconds_fixed_width_in_utc() -> None:
    moment = datetime(2026, 12, 4, 14, 45, 7, 123456, tzinfo=timezone(timedelta(hours=1)))
    assert clock.iso(moment) == "2026-12-04T13:45:07.123456Z"
    assert clock.iso(datetime(2026, 12, 4, 13, 45, 7, tzinfo=UTC)) == "2026-12-04T13:45:07.000000Z"
    assert clock.iso(1_780_000_000) == "2026-05-28T20:26:40.000000Z"
    assert clock.iso_seconds(moment) == "2026-12-04T13:45:07Z"
    assert clock.parse("2026-12-04T13:45:07.123456Z") == moment
    assert clock.parse("2026-12-04T13:45:07Z") == moment.replace(microsecond=0)


def test_timestamps_sort_as_text_in_time_order() -> None:
    start = datetime(2026, 12, 4, 13, 45, 7, tzinfo=UTC)
    steps = [timedelta(0), timedelta(microseconds=1), timedelta(milliseconds=1), timedelta(seconds=1)]
    written = [clock.iso(start + step) for step in steps]
    assert sorted(written) == written and len({len(w) for w in written}) == 1


def test_patching_now_moves_every_reading(monkeypatch: pytest.MonkeyPatch) -> None:
    later = datetime(2030, 1, 2, 3, 4, 5, 600000, tzinfo=UTC)
    monkeypatch.setattr(clock, "now", lambda: later)
    assert clock.now_iso() == "2030-01-02T03:04:05.600000Z"
    assert clock.epoch() == later.timestamp()


def test_the_domains_read_the_time_only_through_the_clock() -> None:
    # Given every module of the layer but the clock, the local emulator (it imitates AWS's own formats
    # and clocks) and the CLI (a client on the artist's machine: it imports nothing of the server)
    reads = re.compile(r"datetime\.now\(|datetime\.utcnow\(|\btime\.time\(|\btime\.time_ns\(")
    by_name = re.compile(r"from keyframe\.clock import [^\n]*\bnow\b")
    offenders = []
    for path in LAYER.rglob("*.py"):
        relative = path.relative_to(LAYER).as_posix()
        if relative == "clock.py" or relative.startswith(("local/", "cli/")):
            continue
        text = path.read_text(encoding="utf-8")
        offenders += [f"{relative}: {m.group(0)}" for m in (*reads.finditer(text), *by_name.finditer(text))]
    # Then none reads the wall clock itself, or copies clock.now past the tests' patch
    assert offenders == []
