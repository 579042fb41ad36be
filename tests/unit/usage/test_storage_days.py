"""Storage bytes per day from the counter and the day changes (no AWS: the reads are given)."""

from __future__ import annotations

from datetime import date

import pytest

from keyframe.usage import storage_days

TODAY = date(2026, 12, 5)


@pytest.fixture(autouse=True)
def _today(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(storage_days, "today", lambda: TODAY)


def test_a_change_committed_between_the_reads_makes_them_read_again(monkeypatch) -> None:
    # Given an upload of 300 bytes that commits while the day changes are being read the first time
    counters = iter([(1000, 4), (1300, 5), (1300, 5), (1300, 5)])
    changes = iter([{"2026-12-04": 1000}, {"2026-12-04": 1000, "2026-12-05": 300}])
    monkeypatch.setattr(storage_days, "_counter", lambda studio_id: next(counters))
    monkeypatch.setattr(storage_days, "_changes_since", lambda studio_id, first: next(changes))
    # When yesterday and today are asked for
    days = storage_days.closing_balances("s", date(2026, 12, 4), TODAY)
    # Then the figures are those of one moment: the second, consistent, read
    assert days == [
        {"date": date(2026, 12, 4), "bytes": 1000, "changeBytes": 1000},
        {"date": TODAY, "bytes": 1300, "changeBytes": 300},
    ]


def test_days_before_the_first_recorded_change_carry_its_opening_balance(monkeypatch) -> None:
    # Given a counter of 100 bytes whose recorded changes say +400 then -300 (earlier days unrecorded)
    monkeypatch.setattr(storage_days, "_counter", lambda studio_id: (100, 2))
    monkeypatch.setattr(
        storage_days, "_changes_since", lambda studio_id, first: {"2026-12-03": 400, "2026-12-05": -300}
    )
    # When the days from the 2nd are asked for
    days = storage_days.closing_balances("s", date(2026, 12, 2), date(2026, 12, 31))
    # Then the first recorded day's opening balance (0) carries back; later days follow the changes
    assert [(d["date"].day, d["bytes"], d["changeBytes"]) for d in days] == [
        (2, 0, 0),
        (3, 400, 400),
        (4, 400, 0),
        (5, 100, -300),
    ]
