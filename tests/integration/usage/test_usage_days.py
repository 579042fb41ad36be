"""``GET /studio/usage`` day figures: storage bytes at the end of each day (uploads opened and
aborted through the API), a day without change carrying the previous balance."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

import pytest

from keyframe import clock
from keyframe.usage import storage_days
from tests.integration.uploads.conftest import create_asset
from tests.support.identity import Session, register_studio


def _body(response: Any, status: int) -> Any:
    assert response.status == status, response.body[:500]
    return json.loads(response.body)


def _on(monkeypatch: pytest.MonkeyPatch, day: date) -> None:
    """Changes of the storage counter from now on are counted on ``day``."""
    monkeypatch.setattr(storage_days, "today", lambda: day)


def _open(api: Any, admin: Session, asset_id: str, size: int) -> str:
    body = {"fileName": "shot.mov", "size": size, "contentType": "video/quicktime"}
    opened = api.post(f"/assets/{asset_id}/uploads", json=body, token=admin.access_token)
    return str(_body(opened, 201)["uploadId"])


def test_storage_per_day_follows_uploads_and_aborts(api, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a studio that opened uploads of 1000 and 500 bytes three days ago, aborted the 500 the day
    # after, did nothing the next day and opened 200 bytes today; and another studio busy today
    admin = register_studio(api, studio_name="Days Studio")
    other = register_studio(api, studio_name="Other Days Studio")
    _, asset_id = create_asset(api, admin)
    _, other_asset = create_asset(api, other)
    today = clock.now().date()
    first = today - timedelta(days=3)
    _on(monkeypatch, first)
    _open(api, admin, asset_id, 1000)
    dropped = _open(api, admin, asset_id, 500)
    _on(monkeypatch, first + timedelta(days=1))
    assert api.delete(f"/assets/{asset_id}/uploads/{dropped}", token=admin.access_token).status == 204
    _on(monkeypatch, today)
    _open(api, admin, asset_id, 200)
    _open(api, other, other_asset, 7777)
    # When the admin reads the days from the one before the first upload to tomorrow
    start, end = first - timedelta(days=1), today + timedelta(days=1)
    body = _body(api.get(f"/studio/usage?from={start}&to={end}", token=admin.access_token), 200)
    # Then each day up to today shows its closing balance and change, today's being the counter now
    assert body["storageBytes"] == 1200
    assert body["storageByDay"] == [
        {"date": str(start), "bytes": 0, "changeBytes": 0},
        {"date": str(first), "bytes": 1500, "changeBytes": 1500},
        {"date": str(first + timedelta(days=1)), "bytes": 1000, "changeBytes": -500},
        {"date": str(first + timedelta(days=2)), "bytes": 1000, "changeBytes": 0},
        {"date": str(today), "bytes": 1200, "changeBytes": 200},
    ]
    # And a range that ended before today is closed by the later days' changes
    past = _body(api.get(f"/studio/usage?from={first}&to={first}", token=admin.access_token), 200)
    assert past["storageBytes"] == 1200
    assert past["storageByDay"] == [{"date": str(first), "bytes": 1500, "changeBytes": 1500}]
    # And a range wholly in the future has no days yet
    future = _body(api.get(f"/studio/usage?from={end}&to={end}", token=admin.access_token), 200)
    assert future["storageByDay"] == []
    assert future["playbackEgress"] == {"bytes": 0, "links": 0, "byDay": []}
