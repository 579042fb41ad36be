"""The activity log: one immutable entry per user-facing change, written with the change itself.

Approach: :func:`record` is the one function every catalog write goes through. A service builds a
:class:`~keyframe.storage.transactions.Transaction` with its change (asset update, version put, edge pair
...) and hands it to :func:`record`, which adds the activity entry's put to the *same*
``TransactWriteItems`` and commits. So a change and its entry are stored together or not at all, and
no catalog write path can skip the log: services never commit a transaction any other way. The
only catalog writes outside it are derived denormalisations that can be recomputed from the graph
(``outdatedDependencies`` on dependents after a publish or rollback, edge counters) and that are
reported in the triggering entry. Other domains (reviews, renders) call :func:`record` without a
transaction to log their own changes.

Keys: ``pk = STUDIO#{s}#ACTIVITY``, ``sk = {ts}#{id}`` (newest first with a reverse Query). Filters
have their own GSI partitions, each sorted by the same ``{ts}#{id}``:

- ``gsi1``: ``STUDIO#{s}#PROJECT#{p}#ACTIVITY`` (``?projectId``)
- ``gsi2``: ``STUDIO#{s}#ASSET#{a}#ACTIVITY`` (``?assetId``)
- ``gsi3``: ``STUDIO#{s}#ACTOR#{u}#ACTIVITY`` (``?actorId``)

With several filters the most selective index is read (asset, then project, then actor) and the
others are applied as a DynamoDB filter within a bounded number of requests per page.
"""

from __future__ import annotations

import uuid
from typing import Any

from keyframe.catalog import cursors
from keyframe.catalog.models import ActivityItem, activity_pk, now_iso
from keyframe.catalog.schemas import ActivityEntry, ActivityPage, ActivityTarget
from keyframe.catalog.store import index_key_names, query_page
from keyframe.storage.transactions import Transaction

MAX_FILTERED_REQUESTS = 4
"""Requests a filtered activity page may cost at most."""


def entry_item(
    studio_id: str,
    *,
    actor_id: str | None,
    action: str,
    target_type: str,
    target_id: str,
    details: dict[str, Any] | None,
    project_id: str | None = None,
    asset_id: str | None = None,
) -> ActivityItem:
    """Build (do not write) the activity item for a change."""
    ts = now_iso()
    entry_id = uuid.uuid4().hex
    sort = f"{ts}#{entry_id}"
    item = ActivityItem(
        activity_pk(studio_id),
        sort,
        entry_id=entry_id,
        studio_id=studio_id,
        ts=ts,
        actor_id=actor_id,
        action=action,
        target_type=target_type,
        target_id=target_id,
        details=details or {},
        project_id=project_id,
        asset_id=asset_id,
    )
    if project_id:
        item.gsi1pk, item.gsi1sk = f"STUDIO#{studio_id}#PROJECT#{project_id}#ACTIVITY", sort
    if asset_id:
        item.gsi2pk, item.gsi2sk = f"STUDIO#{studio_id}#ASSET#{asset_id}#ACTIVITY", sort
    if actor_id:
        item.gsi3pk, item.gsi3sk = f"STUDIO#{studio_id}#ACTOR#{actor_id}#ACTIVITY", sort
    return item


def record(  # noqa: PLR0917 - the positional signature other domains call (reviews, renders)
    studio_id: str,
    actor_id: str | None,
    action: str,
    target_type: str,
    target_id: str,
    details: dict[str, Any] | None,
    project_id: str | None = None,
    asset_id: str | None = None,
    *,
    transaction: Transaction | None = None,
) -> ActivityEntry:
    """Write an activity entry, atomically with ``transaction`` when given, and commit.

    Parameters
    ----------
    studio_id:
        The studio whose log receives the entry.
    actor_id:
        The user who made the change (``None`` for the system, e.g. the pipeline).
    action:
        ``noun:verb`` such as ``asset:created``, ``version:ready``, ``dependency:added``.
    target_type, target_id:
        What the change is about (``asset``/id, ``project``/id, ``version``/``{assetId}:{n}`` ...).
    details:
        JSON-serialisable specifics (changed fields, version number, cycle ...).
    project_id, asset_id:
        For the ``?projectId`` / ``?assetId`` filters.
    transaction:
        The change to commit together with the entry (catalog table).

    Returns
    -------
    ActivityEntry
        The entry as stored.

    Raises
    ------
    keyframe.storage.transactions.Cancelled
        When a condition of ``transaction`` failed (the entry is not written either).
    """
    item = entry_item(
        studio_id,
        actor_id=actor_id,
        action=action,
        target_type=target_type,
        target_id=target_id,
        details=details,
        project_id=project_id,
        asset_id=asset_id,
    )
    tx = transaction if transaction is not None else Transaction()
    tx.put("activity", item)
    tx.commit()
    return to_entry(item)


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
    from keyframe.catalog.assets import load_asset
    from keyframe.catalog.projects import load_project

    if project_id:
        load_project(studio_id, project_id)
    if asset_id:
        load_asset(studio_id, asset_id)
