"""Favorite assets of a member (favorites table; assets read from the catalog table).

A favorite is one item per (member, asset), so marking twice keeps the first ``favoritedAt`` and
unmarking twice is harmless. :func:`favoured_by` is the reverse lookup other domains use (the
notifications of a new version go to the members who favourited the asset).
"""

from __future__ import annotations

from pynamodb.exceptions import DoesNotExist, PutError

from keyframe import clock
from keyframe.catalog.assets import archived_conflict, load_asset
from keyframe.catalog.models import ASSET_SK, AssetItem, asset_pk
from keyframe.catalog.thumbnails import thumbnail_link
from keyframe.catalog.views import to_asset
from keyframe.favorites.models import (
    FavoriteItem,
    asset_favorites_key,
    favorite_sk,
    member_favorites_key,
    member_pk,
)
from keyframe.favorites.schemas import MAX_LIST_LIMIT, Favorite, FavoritePage
from keyframe.storage import cursors
from keyframe.storage.pages import index_key_names, query_page

FAVOURED_BY_PAGE = 500
"""Members read per Query of :func:`favoured_by`."""


def _favorite(item: FavoriteItem, asset: AssetItem) -> Favorite:
    view = to_asset(asset).model_copy(update={"thumbnail": thumbnail_link(asset.thumbnail_key)})
    return Favorite(asset_id=item.asset_id, favorited_at=item.favorited_at, asset=view)


def _visible(asset: AssetItem | None) -> bool:
    """A member can see the asset: it exists in the studio and is not archived."""
    return asset is not None and not asset.archived


def add_favorite(studio_id: str, user_id: str, asset_id: str) -> tuple[Favorite, bool]:
    """Mark ``asset_id`` as a favorite of the member (idempotent).

    Returns
    -------
    tuple
        The favorite, and True when it was new (False: it already was one, ``favoritedAt`` unchanged).

    Raises
    ------
    NotFound
        ``ASSET_NOT_FOUND``: unknown asset or another studio's.
    Conflict
        ``ASSET_ARCHIVED``: the asset is archived.
    """
    asset = load_asset(studio_id, asset_id)
    if asset.archived:
        raise archived_conflict(asset_id)
    now = clock.now_iso()
    item = FavoriteItem(
        member_pk(studio_id, user_id),
        favorite_sk(asset_id),
        studio_id=studio_id,
        user_id=user_id,
        asset_id=asset_id,
        favorited_at=now,
        gsi1pk=member_favorites_key(studio_id, user_id),
        gsi1sk=f"{now}#{asset_id}",
        gsi2pk=asset_favorites_key(studio_id, asset_id),
        gsi2sk=user_id,
    )
    try:
        item.save(condition=FavoriteItem.pk.does_not_exist())
    except PutError as exc:
        if exc.cause_response_code != "ConditionalCheckFailedException":
            raise
        existing = FavoriteItem.get(item.pk, item.sk, consistent_read=True)
        return _favorite(existing, asset), False
    return _favorite(item, asset), True


def remove_favorite(studio_id: str, user_id: str, asset_id: str) -> None:
    """Unmark ``asset_id`` (idempotent while the asset exists).

    A favorite is removed even when its asset is archived or gone; with no favorite, an id that is
    not an asset of the studio answers 404 as everywhere else.

    Raises
    ------
    NotFound
        ``ASSET_NOT_FOUND``: not a favorite and not an asset of the studio.
    """
    key = (member_pk(studio_id, user_id), favorite_sk(asset_id))
    try:
        FavoriteItem.get(*key, consistent_read=True).delete()
    except DoesNotExist:
        load_asset(studio_id, asset_id)


def list_favorites(
    studio_id: str, user_id: str, *, limit: int = 25, cursor: str | None = None
) -> FavoritePage:
    """The member's favorites, newest first, leaving out assets they can no longer see.

    One Query of ``gsi1`` (favorites table) and one BatchGetItem of the page's assets (catalog
    table). The cursor is signed for the studio, the member and this listing.

    Raises
    ------
    InvalidInput
        ``INVALID_CURSOR``: tampered, or issued for another studio, member or listing.
    """
    scope = cursors.scope_of("me/favorites", userId=user_id)
    start = cursors.decode(cursor, studio_id=studio_id, scope=scope)
    page = query_page(
        FavoriteItem,
        member_favorites_key(studio_id, user_id),
        index="gsi1",
        forward=False,
        limit=max(1, min(limit, MAX_LIST_LIMIT)),
        start_key=start,
        key_names=index_key_names("gsi1"),
    )
    assets = {
        a.asset_id: a
        for a in AssetItem.batch_get([(asset_pk(studio_id, f.asset_id), ASSET_SK) for f in page.items])
    }
    items = [_favorite(f, assets[f.asset_id]) for f in page.items if _visible(assets.get(f.asset_id))]
    next_cursor = cursors.encode(page.next_key, studio_id=studio_id, scope=scope) if page.next_key else None
    return FavoritePage(items=items, next_cursor=next_cursor)


def favoured_by(studio_id: str, asset_id: str) -> list[str]:
    """The user ids of the studio's members who marked ``asset_id`` as a favorite, sorted.

    For notifications (a new version of an asset goes to those who favourited it). Reads ``gsi2`` of
    the favorites table (eventually consistent: a favorite marked in the last second may be missing).
    An unknown asset, or another studio's, simply has nobody.

    Parameters
    ----------
    studio_id, asset_id:
        The studio and the asset.

    Returns
    -------
    list[str]
        User ids, each once, in ascending order.
    """
    users = [
        item.user_id
        for item in FavoriteItem.gsi2.query(
            asset_favorites_key(studio_id, asset_id), page_size=FAVOURED_BY_PAGE
        )
    ]
    return sorted(set(users))
