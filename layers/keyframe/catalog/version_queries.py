"""Reading versions: one version, a page of an asset's versions, and their API shape (catalog table)."""

from __future__ import annotations

from pynamodb.exceptions import DoesNotExist

from keyframe.catalog import thumbnails
from keyframe.catalog.assets import load_asset
from keyframe.catalog.models import VERSION_PREFIX, VersionItem, asset_pk, version_sk
from keyframe.catalog.schemas import (
    BuiltAgainst,
    FileInfo,
    ReviewStatus,
    Version,
    VersionError,
    VersionPage,
    VersionStatus,
)
from keyframe.errors import NotFound
from keyframe.storage import cursors
from keyframe.storage.pages import query_page


def to_version(item: VersionItem) -> Version:
    """The API shape of a version item."""
    return Version(
        asset_id=item.asset_id,
        project_id=item.project_id,
        version=int(item.version),
        created_by=item.created_by,
        created_at=item.created_at,
        change_note=item.change_note,
        file=FileInfo.model_validate(item.file),
        media=item.media,
        derived=item.derived,
        status=VersionStatus(item.status),
        error=VersionError.model_validate(item.error) if item.error else None,
        processed_at=item.processed_at,
        review_status=None if item.review_status is None else ReviewStatus(item.review_status),
        upload_id=item.upload_id,
        dependencies=None
        if item.built_against is None
        else [BuiltAgainst.model_validate(d) for d in item.built_against],
    )


def version_not_found(asset_id: str, version: int) -> NotFound:
    """``VERSION_NOT_FOUND`` (404) for version ``version`` of ``asset_id``."""
    return NotFound(
        f"Version {version} of this asset does not exist",
        code="VERSION_NOT_FOUND",
        details={"assetId": asset_id, "version": version},
    )


def load_version(studio_id: str, asset_id: str, version: int) -> VersionItem:
    """The version item (consistent read).

    Raises
    ------
    NotFound
        ``VERSION_NOT_FOUND`` (also for another studio's asset).
    """
    try:
        return VersionItem.get(asset_pk(studio_id, asset_id), version_sk(version), consistent_read=True)
    except DoesNotExist as exc:
        raise version_not_found(asset_id, version) from exc


def get_version(studio_id: str, asset_id: str, version: int) -> Version:
    """One version of an asset of the studio.

    Raises
    ------
    NotFound
        ``ASSET_NOT_FOUND`` (unknown or other studio's asset) or ``VERSION_NOT_FOUND``.
    """
    try:
        return to_version(load_version(studio_id, asset_id, version))
    except NotFound:
        load_asset(studio_id, asset_id)  # distinguish "no such asset" from "no such version"
        raise


def list_versions(
    studio_id: str, asset_id: str, *, limit: int = 25, cursor: str | None = None
) -> VersionPage:
    """A page of an asset's versions, newest first (one GetItem + one Query).

    Raises
    ------
    NotFound
        Unknown asset.
    InvalidInput
        ``INVALID_CURSOR``.
    """
    scope = cursors.scope_of(f"assets/{asset_id}/versions")
    start = cursors.decode(cursor, studio_id=studio_id, scope=scope)
    load_asset(studio_id, asset_id)
    page = query_page(
        VersionItem,
        asset_pk(studio_id, asset_id),
        range_key_condition=VersionItem.sk.startswith(VERSION_PREFIX),
        forward=False,
        limit=limit,
        start_key=start,
    )
    next_cursor = cursors.encode(page.next_key, studio_id=studio_id, scope=scope) if page.next_key else None
    items = [
        to_version(i).model_copy(
            update={"thumbnail": thumbnails.thumbnail_link(thumbnails.thumbnail_key(i.derived))}
        )
        for i in page.items
    ]
    return VersionPage(items=items, next_cursor=next_cursor)
