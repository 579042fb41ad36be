"""The activity log's read side: ``GET /activity``, newest first, filterable.

Entries are written with their change by :func:`keyframe.storage.activity.record` (the one commit
primitive); their keys and GSIs are described there. With several filters the most selective index
is read (asset, then project, then actor) and the others are applied as a DynamoDB filter within a
bounded number of requests per page.
"""

from __future__ import annotations

from keyframe.catalog.assets import load_asset
from keyframe.catalog.projects import load_project
from keyframe.catalog.schemas import ActivityEntry, ActivityPage, ActivityTarget
from keyframe.storage import cursors
from keyframe.storage.activity import ActivityItem, activity_pk
from keyframe.storage.pages import index_key_names, query_page

MAX_FILTERED_REQUESTS = 4
"""Requests a filtered activity page may cost at most."""


def to_entry(item: ActivityItem) -> ActivityEntry:
    """The API shape of an activity item."""
    return ActivityEntry(
        id=item.entry_id,
        ts=item.ts,
        actor=item.actor_id,
        action=item.action,
        target=ActivityTarget(type=item.target_type, id=item.target_id),
        details=item.details or {},
        project_id=item.project_id,
        asset_id=item.asset_id,
    )


def list_activity(
    studio_id: str,
    *,
    project_id: str | None = None,
    asset_id: str | None = None,
    actor_id: str | None = None,
    limit: int = 25,
    cursor: str | None = None,
) -> ActivityPage:
    """A page of the studio's activity, newest first (catalog table; at most 4 requests).

    Raises
    ------
    NotFound
        ``projectId`` or ``assetId`` is not one of the studio's (archived ones count).
    InvalidInput
        ``INVALID_CURSOR`` for a tampered or foreign cursor.
    """
    scope = cursors.scope_of("activity", projectId=project_id, assetId=asset_id, actorId=actor_id)
    start = cursors.decode(cursor, studio_id=studio_id, scope=scope)
    _check_exists(studio_id, project_id, asset_id)
    filters = []
    if asset_id:
        index, hash_key = "gsi2", f"STUDIO#{studio_id}#ASSET#{asset_id}#ACTIVITY"
        if project_id:
            filters.append(ActivityItem.project_id == project_id)
        if actor_id:
            filters.append(ActivityItem.actor_id == actor_id)
    elif project_id:
        index, hash_key = "gsi1", f"STUDIO#{studio_id}#PROJECT#{project_id}#ACTIVITY"
        if actor_id:
            filters.append(ActivityItem.actor_id == actor_id)
    elif actor_id:
        index, hash_key = "gsi3", f"STUDIO#{studio_id}#ACTOR#{actor_id}#ACTIVITY"
    else:
        index, hash_key = None, activity_pk(studio_id)
    condition = None
    for f in filters:
        condition = f if condition is None else condition & f
    page = query_page(
        ActivityItem,
        hash_key,
        index=index,
        filter_condition=condition,
        forward=False,
        limit=limit,
        start_key=start,
        max_requests=MAX_FILTERED_REQUESTS if condition is not None else 1,
        key_names=index_key_names(index),
    )
    next_cursor = cursors.encode(page.next_key, studio_id=studio_id, scope=scope) if page.next_key else None
    return ActivityPage(items=[to_entry(i) for i in page.items], next_cursor=next_cursor)


def _check_exists(studio_id: str, project_id: str | None, asset_id: str | None) -> None:
    """Filters name the studio's own project and asset, or the answer is 404 (one GetItem each)."""
    if project_id:
        load_project(studio_id, project_id)
    if asset_id:
        load_asset(studio_id, asset_id)
