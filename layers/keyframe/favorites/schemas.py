"""API shapes of favorites and playback positions (camelCase on the wire)."""

from __future__ import annotations

from pydantic import Field

from keyframe.catalog.schemas import Asset
from keyframe.schemas import ApiModel, RequestModel

MAX_LIST_LIMIT = 100
"""The most favorites a page of ``GET /favorites`` holds (``limit``'s maximum)."""

MAX_POSITION_SECONDS = 7 * 24 * 3600.0
"""The largest position accepted (a week of footage; no render is longer)."""


class Favorite(ApiModel):
    """One of your favorite assets, with the asset as ``GET /assets`` lists it."""

    asset_id: str
    favorited_at: str = Field(description="when you first marked it (UTC ISO-8601)")
    asset: Asset


class FavoritePage(ApiModel):
    """A page of your favorites, newest first; ``nextCursor`` is null on the last page.

    Assets you can no longer see (archived, or gone) are left out, so a page may hold fewer items
    than ``limit`` while ``nextCursor`` still continues.
    """

    items: list[Favorite]
    next_cursor: str | None = None


class PlaybackPositionPut(RequestModel):
    """Where you stopped: ``positionSeconds`` from the start of the render (0 to a week)."""

    position_seconds: float = Field(ge=0, le=MAX_POSITION_SECONDS, allow_inf_nan=False)


class PlaybackPosition(ApiModel):
    """Where you stopped playing a render; ``updatedAt`` is null when you never played it (position 0)."""

    render_job_id: str
    position_seconds: float = Field(description="seconds from the start of the render")
    updated_at: str | None = None
