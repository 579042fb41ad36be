"""Mention handles in text and how they match members (no AWS: the member list is given)."""

from __future__ import annotations

import pytest

from keyframe.notifications.mentions import Member, handles, match
from keyframe.notifications.models import new_notification_id
from keyframe.notifications.service import excerpt

MEMBERS = [Member("u1", "Dora Lee"), Member("u2", "Arlo"), Member("u3", "Sam One"), Member("u4", "Sam Two")]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("@Dora look", ["Dora"]),
        ("hi @DoraLee, and @arlo.", ["DoraLee", "arlo"]),
        ("mail ana@example.com or @@x", []),
        ("@Dora @dora @Dora", ["Dora", "dora"]),
        ("(@Arlo) -@Sam-", ["Arlo", "Sam"]),
        ("no mention", []),
    ],
)
def test_handles_are_read_from_text(text, expected) -> None:
    assert handles(text) == expected


@pytest.mark.parametrize(
    ("written", "ids"),
    [
        (["DoraLee"], ["u1"]),
        (["doralee", "DORA"], ["u1"]),
        (["arlo", "Dora"], ["u2", "u1"]),
        (["Sam"], []),  # two members named Sam: ambiguous, stays text
        (["SamTwo"], ["u4"]),
        (["Zed", "Lee"], []),  # nobody, and a last name alone is no handle
    ],
)
def test_handles_name_members_by_full_name_or_a_unique_first_name(written, ids) -> None:
    assert [m.user_id for m in match(written, MEMBERS)] == ids


def test_ids_sort_by_time_and_excerpts_are_cut() -> None:
    # Given ids made a microsecond apart / Then they sort in time order and are 32 hex characters
    first, second = new_notification_id(1_000_000_000), new_notification_id(2_000_000_000)
    assert first < second and len(first) == 32 and int(first, 16) >= 0
    # And an excerpt keeps short text and cuts long text with an ellipsis
    assert excerpt("short") == "short" and excerpt(None) is None
    assert excerpt("x" * 300, 10) == "x" * 9 + "…"
