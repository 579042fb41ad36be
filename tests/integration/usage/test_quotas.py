"""Quotas: exact counters under concurrency, never negative, readable at ``GET /studio/quotas``,
per-studio overrides from configuration, and render minutes refused before any work starts."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from moto.dynamodb.responses import DynamoHandler

from keyframe import settings
from keyframe.storage.transactions import Cancelled, Transaction
from keyframe.usage import quotas, storage_days
from keyframe.usage.quotas import Quota
from tests.support.identity import register_studio


def _body(response: Any, status: int) -> Any:
    assert response.status == status, response.body[:500]
    return json.loads(response.body)


def _change(studio_id: str, quota: Quota, amount: int) -> bool:
    """Reserve (amount > 0) or release (< 0) in a transaction of its own; False when refused."""
    tx = Transaction()
    if amount > 0:
        quotas.reserve(tx, studio_id, quota, amount)
    else:
        quotas.release(tx, studio_id, quota, -amount)
    try:
        tx.commit()
    except Cancelled as exc:
        assert quotas.label(quota) in exc.failed
        return False
    return True


def test_counters_are_exact_under_concurrency_and_never_negative(aws: None, monkeypatch) -> None:
    # Given a studio allowed 5 webhook endpoints
    monkeypatch.setenv("WEBHOOK_ENDPOINTS_PER_STUDIO", "5")
    settings.reset()
    studio = "studio-concurrency"
    # When 12 requests reserve one each at the same time
    results: list[bool] = []
    threads = [
        threading.Thread(target=lambda: results.append(_change(studio, Quota.WEBHOOK_ENDPOINTS, 1)))
        for _ in range(12)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Then exactly 5 got one, and the counter says 5
    assert sorted(results) == [False] * 7 + [True] * 5
    assert quotas.used(studio, Quota.WEBHOOK_ENDPOINTS) == 5
    with pytest.raises(Exception) as refused:
        quotas.require_webhook_endpoint(studio)
    assert getattr(refused.value, "code", None) == "WEBHOOK_ENDPOINTS_QUOTA_EXCEEDED"
    # When 8 releases race (3 more than were reserved)
    results.clear()
    threads = [
        threading.Thread(target=lambda: results.append(_change(studio, Quota.WEBHOOK_ENDPOINTS, -1)))
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Then 5 were given back and the counter stopped at 0, never below
    assert sorted(results) == [False] * 3 + [True] * 5
    assert quotas.used(studio, Quota.WEBHOOK_ENDPOINTS) == 0
    quotas.require_webhook_endpoint(studio)  # room again


def test_studio_quotas_show_limits_use_and_per_studio_overrides(api, monkeypatch) -> None:
    # Given a studio with its own storage limit in STUDIO_QUOTAS, and another on the defaults
    admin = register_studio(api, studio_name="Quota Studio")
    other = register_studio(api, studio_name="Default Studio")
    monkeypatch.setenv("STUDIO_QUOTAS", json.dumps({admin.studio_id: {"storageBytes": 5000}}))
    monkeypatch.setenv("RENDER_MINUTES_PER_MONTH", "120")
    settings.reset()
    quotas.add_render_seconds(admin.studio_id, 185.4)
    # When each reads its quotas
    mine = _body(api.get("/studio/quotas", token=admin.access_token), 200)
    theirs = _body(api.get("/studio/quotas", token=other.access_token), 200)
    # Then the override applies to that studio only, and the month's render minutes are counted
    assert mine == {
        "storageBytes": {"limit": 5000, "used": 0},
        "concurrentRenders": {"limit": 4, "used": 0},
        "renderMinutesPerMonth": {"limit": 120, "used": 3},
        "webhookEndpoints": {"limit": 10, "used": 0},
        "renderVcpus": {"limit": 64, "used": 0},
    }
    assert theirs["storageBytes"] == {"limit": 100 * 1024**3, "used": 0}
    assert theirs["renderMinutesPerMonth"] == {"limit": 120, "used": 0}


def test_spent_render_minutes_refuse_a_render_before_any_work(api, monkeypatch) -> None:
    # Given a studio whose month's render minutes are spent
    admin = register_studio(api, studio_name="Busy Studio")
    monkeypatch.setenv("RENDER_MINUTES_PER_MONTH", "1")
    settings.reset()
    quotas.add_render_seconds(admin.studio_id, 60)
    # When it asks for a render of an asset that does not even exist
    refused = api.post("/assets/no-such-asset/renders", json={"preset": "hls"}, token=admin.access_token)
    # Then 429 names the quota, with Retry-After until the next month, and no job exists
    error = _body(refused, 429)["error"]
    assert error["code"] == "RENDER_MINUTES_QUOTA_EXCEEDED"
    assert error["details"] == {"quota": "renderMinutesPerMonth", "limit": 1, "used": 1, "requested": 0}
    assert 0 < int(refused.headers["Retry-After"]) <= 31 * 24 * 3600
    assert _body(api.get("/renders", token=admin.access_token), 200)["items"] == []


def test_storage_day_changes_add_up_to_the_counter_under_concurrency(aws: None, monkeypatch) -> None:
    # Given a studio allowed 500 bytes, DynamoDB requests atomic as in AWS (moto's transactions are not)
    monkeypatch.setenv("STUDIO_QUOTA_BYTES", "500")
    settings.reset()
    lock = threading.RLock()
    original = DynamoHandler.call_action

    def atomic(self: Any) -> Any:
        with lock:
            return original(self)

    monkeypatch.setattr(DynamoHandler, "call_action", atomic)
    studio = "studio-storage-days"
    # When 9 uploads of 100 bytes open at once, then 7 releases of 100 race
    granted: dict[int, list[bool]] = {100: [], -100: []}
    for amount, count in ((100, 9), (-100, 7)):

        def change(amount: int = amount) -> None:
            granted[amount].append(_change(studio, Quota.STORAGE_BYTES, amount))

        threads = [threading.Thread(target=change) for _ in range(count)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    # Then 5 got room and 5 were given back; today's change is exactly the counter's, never below 0
    assert (granted[100].count(True), granted[-100].count(True)) == (5, 5)
    today = storage_days.today()
    assert quotas.used(studio, Quota.STORAGE_BYTES) == 0
    assert storage_days.closing_balances(studio, today, today) == [
        {"date": today, "bytes": 0, "changeBytes": 0}
    ]
    assert _change(studio, Quota.STORAGE_BYTES, 300)
    assert storage_days.closing_balances(studio, today, today)[0]["changeBytes"] == 300
