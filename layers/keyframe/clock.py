"""The one clock: what time it is, and how Keyframe writes a moment down.

Every stored timestamp is UTC ISO-8601 with microseconds and ``Z``, fixed width
(``2026-12-04T13:45:07.123456Z``), so timestamps sort as text (sort keys such as the activity
log's ``{ts}#{id}``) and compare as instants. Tests that need a fixed time patch :func:`now`.
"""

from __future__ import annotations

from datetime import UTC, datetime

FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
"""``strftime`` format of :func:`iso` (fixed width, microseconds)."""


def now() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    """``moment`` (aware, any zone) as fixed-width UTC ISO-8601 with microseconds and ``Z``."""
    return moment.astimezone(UTC).strftime(FORMAT)


def now_iso() -> str:
    """The current UTC time, as :func:`iso` writes it."""
    return iso(now())
