"""The one clock: what time it is, and how Keyframe writes a moment down.

Every stored or answered moment (``createdAt``, ``updatedAt``, event ``occurredAt``, sort keys such
as the activity log's ``{ts}#{id}``) is UTC ISO-8601 with microseconds and ``Z``, fixed width
(``2026-12-04T13:45:07.123456Z``): :func:`iso`, :func:`now_iso`. One precision and one width, so
timestamps sort as text and compare as instants; a shorter form in the same sort-key partition
would not sort (``Z`` sorts after ``.`` and after the digits).

The one exception is the expiry of a presigned link (``expiresAt`` of a download, thumbnail,
avatar, playback or upload-part URL, and of a live ticket): whole seconds, :func:`iso_seconds`,
because the link lives whole seconds (S3's ``X-Amz-Expires``) and clients show it as is.

Epoch seconds (token claims, TTL attributes, rate-limit windows, leases) come from :func:`epoch`.

Tests stop or move time in one place: ``monkeypatch.setattr(clock, "now", lambda: moment)``. Every
other function here reads :func:`now` through the module, and the domains read the time only
through this module: call ``clock.now()`` (``from keyframe import clock``), never import ``now`` by
name (that copy would not see the patch). Durations and timeouts use ``time.monotonic`` instead.
"""

from __future__ import annotations

from datetime import UTC, datetime

FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
"""``strftime`` format of :func:`iso` (fixed width, microseconds)."""

SECONDS_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
"""``strftime`` format of :func:`iso_seconds` (a presigned link's expiry)."""


def now() -> datetime:
    """The current time, timezone-aware UTC (the seam tests patch)."""
    return datetime.now(UTC)


def epoch() -> float:
    """The current time in seconds since the Unix epoch (float; ``int()`` it for whole seconds)."""
    return now().timestamp()


def _moment(moment: datetime | float) -> datetime:
    if isinstance(moment, datetime):
        return moment.astimezone(UTC)
    return datetime.fromtimestamp(moment, UTC)


def iso(moment: datetime | float) -> str:
    """``moment`` (an aware datetime in any zone, or epoch seconds) as fixed-width UTC ISO-8601 with
    microseconds and ``Z``."""
    return _moment(moment).strftime(FORMAT)


def now_iso() -> str:
    """The current UTC time, as :func:`iso` writes it."""
    return iso(now())


def iso_seconds(moment: datetime | float) -> str:
    """``moment`` as UTC ISO-8601 in whole seconds with ``Z`` (fractions dropped): a presigned link's
    ``expiresAt``."""
    return _moment(moment).strftime(SECONDS_FORMAT)


def parse(text: str) -> datetime:
    """An ISO-8601 moment as written here (``…Z``; any precision or offset) as an aware datetime.

    Raises
    ------
    ValueError
        ``text`` is not ISO-8601.
    """
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
