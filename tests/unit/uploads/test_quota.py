"""Quota arithmetic: completed bytes + open sessions' sizes must stay within the studio's quota."""

from __future__ import annotations

from keyframe.errors import PayloadTooLarge
from keyframe.uploads import quota
from keyframe.uploads.config import DEFAULT_QUOTA_BYTES
from keyframe.uploads.sizing import GIB


def test_a_request_that_fits_exactly_is_allowed() -> None:
    # Given 60 GiB used of 100 GiB / When 40 GiB more are asked / Then it fits exactly
    check = quota.check(100 * GIB, 60 * GIB, 40 * GIB)
    assert check.allowed
    assert check.remaining == 40 * GIB
    assert check.max_used_before == 60 * GIB


def test_one_byte_over_is_refused_with_the_numbers() -> None:
    # Given 60 GiB used of 100 GiB / When 40 GiB + 1 byte are asked
    check = quota.check(100 * GIB, 60 * GIB, 40 * GIB + 1)
    # Then it does not fit and the 413 names quota, usage and request
    assert not check.allowed
    error = check.error()
    assert isinstance(error, PayloadTooLarge)
    assert error.code == "QUOTA_EXCEEDED"
    assert error.details == {"quotaBytes": 100 * GIB, "usedBytes": 60 * GIB, "requestedBytes": 40 * GIB + 1}


def test_usage_over_the_quota_leaves_nothing() -> None:
    # Given usage above a lowered quota / Then nothing remains and even one byte is refused
    check = quota.check(10, 25, 1)
    assert check.remaining == 0
    assert not check.allowed


def test_a_negative_usage_counts_as_zero() -> None:
    assert quota.check(10, -5, 10).allowed


def test_the_default_quota_is_100_gibibytes() -> None:
    assert DEFAULT_QUOTA_BYTES == 100 * GIB
