"""REST routes of your favorites and playback positions (served by ``catalog-api``).

Every route acts on the verified caller's own items in the token's studio: favorites ask for
``asset:read``, playback positions for ``render:read`` (every role). Another studio's asset or
render answers 404.
"""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query

from keyframe.favorites.schemas import (
    MAX_LIST_LIMIT,
    Favorite,
    FavoritePage,
    PlaybackPosition,
    PlaybackPositionPut,
)
from keyframe.http.auth import authorize
from keyframe.http.contract import answers
from keyframe.http.params import AssetId, RenderJobId
from keyframe.identity.permissions import Permission

router = Router()


@router.put(
    "/me/playback/<renderJobId>",
    tags=["me"],
    summary="Remember where you stopped playing a render (seconds from its start)",
    operation_id="putPlaybackPosition",
    openapi_extensions=answers("RENDER_NOT_FOUND"),
)
def put_playback_position(renderJobId: RenderJobId, body: PlaybackPositionPut) -> PlaybackPosition:
    """200 with the stored position; the latest write wins."""
    from keyframe.favorites import playback

    principal = authorize(Permission.RENDER_READ)
    return playback.save_position(principal.studio_id, principal.user_id, renderJobId, body.position_seconds)


@router.get(
    "/me/playback/<renderJobId>",
    tags=["me"],
    summary="Where you stopped playing a render, to resume there (0 if never played)",
    operation_id="getPlaybackPosition",
    openapi_extensions=answers("RENDER_NOT_FOUND"),
)
def get_playback_position(renderJobId: RenderJobId) -> PlaybackPosition:
    """200 with the position (``updatedAt`` null when you never played it)."""
    from keyframe.favorites import playback

    principal = authorize(Permission.RENDER_READ)
    return playback.get_position(principal.studio_id, principal.user_id, renderJobId)


@router.put(
    "/me/favorites/<assetId>",
    tags=["me"],
    summary="Add an asset to your favorites (idempotent)",
    operation_id="addFavorite",
    openapi_extensions=answers("ASSET_ARCHIVED", "ASSET_NOT_FOUND"),
)
def add_favorite(assetId: AssetId) -> Response[Favorite]:
    """201 when added, 200 when it already was a favorite (its ``favoritedAt`` kept)."""
    from keyframe.favorites import favorites

    principal = authorize(Permission.ASSET_READ)
    favorite, created = favorites.add_favorite(principal.studio_id, principal.user_id, assetId)
    return Response(status_code=201 if created else 200, content_type="application/json", body=favorite)


@router.delete(
    "/me/favorites/<assetId>",
    status_code=204,
    tags=["me"],
    summary="Remove an asset from your favorites (idempotent)",
    operation_id="removeFavorite",
    openapi_extensions=answers("ASSET_NOT_FOUND"),
)
def remove_favorite(assetId: AssetId) -> Response[None]:
    """204 whether or not it was a favorite; 404 only for an id that is not an asset of your studio."""
    from keyframe.favorites import favorites

    principal = authorize(Permission.ASSET_READ)
    favorites.remove_favorite(principal.studio_id, principal.user_id, assetId)
    return Response(status_code=204, content_type=None, body=None)


@router.get(
    "/me/favorites",
    tags=["me"],
    summary="Your favorite assets, newest first (paginated; assets you can no longer see are left out)",
    operation_id="listFavorites",
    openapi_extensions=answers("INVALID_CURSOR"),
)
def list_favorites(
    limit: Annotated[int, Query(ge=1, le=MAX_LIST_LIMIT)] = 25,
    cursor: Annotated[str | None, Query(max_length=4096)] = None,
) -> FavoritePage:
    """A page ``{items: [{assetId, favoritedAt, asset}], nextCursor}``."""
    from keyframe.favorites import favorites

    principal = authorize(Permission.ASSET_READ)
    return favorites.list_favorites(principal.studio_id, principal.user_id, limit=limit, cursor=cursor)
