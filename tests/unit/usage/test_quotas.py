"""Quota limits and refusals (no AWS: the use is given, the limits come from the environment)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from keyframe import clock, settings
from keyframe.errors import PayloadTooLarge, TooManyRequests
from keyframe.usage import quotas
from keyframe.usage.quotas import CODES, Quota


def test_each_quota_has_its_own_code_naming_it() -> None:
    assert set(CODES) == set(Quota) and len(set(CODES.values())) == len(Quota)
    assert all(code.endswith("_QUOTA_EXCEEDED") for code in CODES.values())


def test_storage_is_413_and_the_others_429_with_the_numbers(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given the defaults
    settings.reset()
    # When storage is refused / Then 413 with quota, limit, use and request
    storage = quotas.refusal("s", Quota.STORAGE_BYTES, 10, current=100 * 1024**3 - 5)
    assert isinstance(storage, PayloadTooLarge) and storage.code == "STORAGE_QUOTA_EXCEEDED"
    assert storage.details == {
        "quota": "storageBytes", "limit": 100 * 1024**3, "used": 100 * 1024**3 - 5, "requested": 10,
    }  # fmt: skip
    # And the concurrent renders refusal is a 429 with its Retry-After (default or given)
    renders = quotas.refusal("s", Quota.CONCURRENT_RENDERS, 1, current=4)
    assert isinstance(renders, TooManyRequests) and renders.retry_after == 15
    assert quotas.refusal("s", Quota.CONCURRENT_RENDERS, 1, current=4, retry_after=7).retry_after == 7


def test_spent_render_minutes_wait_for_the_next_month(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given the last day of December, one hour before midnight
    monkeypatch.setattr(clock, "now", lambda: datetime(2026, 12, 31, 23, 0, tzinfo=UTC))
    # Then a render minutes refusal asks to come back in an hour, when January starts
    refused = quotas.refusal("s", Quota.RENDER_MINUTES_PER_MONTH, 0, current=6000)
    assert isinstance(refused, TooManyRequests) and refused.retry_after == 3600


def test_a_studio_override_replaces_only_what_it_names(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given an override of one studio's concurrent renders
    monkeypatch.setenv("STUDIO_QUOTAS", json.dumps({"big": {"concurrentRenders": 40}}))
    monkeypatch.setenv("STUDIO_QUOTA_BYTES", "1000")
    settings.reset()
    # Then that studio has 40 and the default storage; another studio has the defaults
    assert quotas.limit("big", Quota.CONCURRENT_RENDERS) == 40
    assert quotas.limit("big", Quota.STORAGE_BYTES) == 1000
    assert quotas.limit("small", Quota.CONCURRENT_RENDERS) == 4


def test_a_malformed_override_fails_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STUDIO_QUOTAS", json.dumps({"big": {"storage": 1}}))
    settings.reset()
    with pytest.raises(ValueError, match="storage"):
        quotas.limit("big", Quota.STORAGE_BYTES)
