"""API shapes of catalog items: the one conversion from a stored item to what the REST API answers."""

from __future__ import annotations

from keyframe.catalog.models import AssetItem
from keyframe.catalog.schemas import Asset, AssetStatus, AssetType, OutdatedDependency
from keyframe.storage.pages import parse_record


def to_asset(item: AssetItem) -> Asset:
    """The API shape of an asset item.

    Raises
    ------
    UnreadableRecord
        A stored field does not parse (reported: log + ``UnreadableRecords`` metric); listings
        leave such an asset out (:func:`keyframe.storage.pages.readable`).
    """
    asset_id = str(item.pk).rpartition("#")[2]  # the key always parses; other fields may not
    return parse_record("asset", asset_id, item.pk, lambda: _to_asset(item))


def _to_asset(item: AssetItem) -> Asset:
    raw_outdated = item.outdated.as_dict() if item.outdated is not None else {}
    outdated = [
        OutdatedDependency(
            asset_id=dep_id,
            pinned_version=int(entry["pinnedVersion"]),
            latest_version=int(entry["latestVersion"]),
        )
        for dep_id, entry in sorted(raw_outdated.items())
    ]
    asset = Asset(
        id=item.asset_id,
        project_id=item.project_id,
        name=item.name,
        type=AssetType(item.type),
        description=item.description,
        tags=list(item.tags or []),
        rerender_on_change=bool(item.rerender_on_change),
        status=AssetStatus(item.status),
        current_version=None if item.current_version is None else int(item.current_version),
        latest_version=int(item.latest_version or 0),
        outdated_dependencies=outdated,
        archived=bool(item.archived),
        created_by=item.created_by,
        created_at=item.created_at,
        updated_at=item.updated_at,
    )
    asset._revision = int(item.revision or 1)
    return asset
