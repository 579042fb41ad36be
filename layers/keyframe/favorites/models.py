"""PynamoDB models of the favorites table: favorite assets and playback positions per member.

=============================  ======================  =============================================
pk                             sk                      item
=============================  ======================  =============================================
``STUDIO#{s}#USER#{u}``        ``FAVORITE#{assetId}``  :class:`FavoriteItem`
``STUDIO#{s}#USER#{u}``        ``PLAYBACK#{jobId}``    :class:`PlaybackPositionItem`
=============================  ======================  =============================================

Indexes of a favorite:

- ``gsi1``: ``STUDIO#{s}#USER#{u}#FAVORITES`` / ``{favoritedAt}#{assetId}``: the member's favorites,
  newest first (``GET /me/favorites``);
- ``gsi2``: ``STUDIO#{s}#ASSET#{a}#FAVORITES`` / ``{userId}``: who favourited an asset.
"""

from __future__ import annotations

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.models import Model

from keyframe.storage.models import gsi, table_meta
from keyframe.storage.tables import FAVORITES


def member_pk(studio_id: str, user_id: str) -> str:
    """``STUDIO#{studioId}#USER#{userId}``: every item of one member."""
    return f"STUDIO#{studio_id}#USER#{user_id}"


def favorite_sk(asset_id: str) -> str:
    """``FAVORITE#{assetId}``."""
    return f"FAVORITE#{asset_id}"


def playback_sk(render_job_id: str) -> str:
    """``PLAYBACK#{renderJobId}``."""
    return f"PLAYBACK#{render_job_id}"


def member_favorites_key(studio_id: str, user_id: str) -> str:
    """gsi1pk of a member's favorites."""
    return f"STUDIO#{studio_id}#USER#{user_id}#FAVORITES"


def asset_favorites_key(studio_id: str, asset_id: str) -> str:
    """gsi2pk of an asset's favorites (one item per member who favourited it)."""
    return f"STUDIO#{studio_id}#ASSET#{asset_id}#FAVORITES"


class FavoriteItem(Model):
    """One member's favorite asset (favorites table)."""

    Meta = table_meta(FAVORITES)

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    studio_id = UnicodeAttribute(attr_name="studioId")
    user_id = UnicodeAttribute(attr_name="userId")
    asset_id = UnicodeAttribute(attr_name="assetId")
    favorited_at = UnicodeAttribute(attr_name="favoritedAt")
    gsi1pk = UnicodeAttribute()
    gsi1sk = UnicodeAttribute()
    gsi2pk = UnicodeAttribute()
    gsi2sk = UnicodeAttribute()
    gsi1 = gsi(FAVORITES, 1)()
    gsi2 = gsi(FAVORITES, 2)()


class PlaybackPositionItem(Model):
    """Where one member stopped playing one render (favorites table)."""

    Meta = table_meta(FAVORITES)

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    studio_id = UnicodeAttribute(attr_name="studioId")
    user_id = UnicodeAttribute(attr_name="userId")
    render_job_id = UnicodeAttribute(attr_name="renderJobId")
    position_seconds = NumberAttribute(attr_name="positionSeconds")
    updated_at = UnicodeAttribute(attr_name="updatedAt")
