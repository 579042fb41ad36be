"""The activity log's write side: one immutable entry per user-facing change, committed with it.

Approach: :func:`record` is the one commit primitive for a change users see. A service builds a
labelled :class:`~keyframe.storage.transactions.Transaction` with its change (asset update, render
job and slot counter, upload session and quota ...) and hands it to :func:`record`, which adds the
activity entry's put (label ``activity``) to the *same* ``TransactWriteItems`` and commits. So a
change and its entry are stored together or not at all, whatever table the change lives in. Wrap
the build-and-record in :func:`keyframe.storage.transactions.retrying` to retry conflicts.

The only catalog writes outside it are derived denormalisations that can be recomputed from the
graph (``outdatedDependencies`` on dependents after a publish or rollback, edge counters) and that
are reported in the triggering entry.

Keys (catalog table): ``pk = STUDIO#{s}#ACTIVITY``, ``sk = {ts}#{id}`` (newest first with a reverse
Query). Filters have their own GSI partitions, each sorted by the same ``{ts}#{id}``:

- ``gsi1``: ``STUDIO#{s}#PROJECT#{p}#ACTIVITY`` (``?projectId``)
- ``gsi2``: ``STUDIO#{s}#ASSET#{a}#ACTIVITY`` (``?assetId``)
- ``gsi3``: ``STUDIO#{s}#ACTOR#{u}#ACTIVITY`` (``?actorId``)

The read side (``GET /activity``) is :mod:`keyframe.catalog.activity`.
"""

from __future__ import annotations

import uuid
from typing import Any

from pynamodb.attributes import JSONAttribute, UnicodeAttribute
from pynamodb.models import Model

from keyframe.clock import now_iso
from keyframe.storage.models import gsi, table_meta
from keyframe.storage.tables import CATALOG
from keyframe.storage.transactions import Transaction

LABEL = "activity"
"""The label of the entry's put in its transaction."""


def activity_pk(studio_id: str) -> str:
    """Partition key of the studio's activity log."""
    return f"STUDIO#{studio_id}#ACTIVITY"


class ActivityItem(Model):
    """One immutable activity-log entry (catalog table).

    GSIs: ``gsi1`` by project, ``gsi2`` by asset, ``gsi3`` by actor.
    """

    Meta = table_meta(CATALOG)
    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    entry_id = UnicodeAttribute(attr_name="id")
    studio_id = UnicodeAttribute(attr_name="studioId")
    ts = UnicodeAttribute()
    actor_id = UnicodeAttribute(null=True, attr_name="actorId")
    action = UnicodeAttribute()
    target_type = UnicodeAttribute(attr_name="targetType")
    target_id = UnicodeAttribute(attr_name="targetId")
    details = JSONAttribute(null=True)
    project_id = UnicodeAttribute(null=True, attr_name="projectId")
    asset_id = UnicodeAttribute(null=True, attr_name="assetId")
    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)
    gsi2pk = UnicodeAttribute(null=True)
    gsi2sk = UnicodeAttribute(null=True)
    gsi3pk = UnicodeAttribute(null=True)
    gsi3sk = UnicodeAttribute(null=True)
    gsi1 = gsi(CATALOG, 1)()
    gsi2 = gsi(CATALOG, 2)()
    gsi3 = gsi(CATALOG, 3)()

    @property
    def id(self) -> str:
        """The entry's id (``entry_id``), as ``GET /activity`` shows it."""
        return str(self.entry_id)


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


def record(  # noqa: PLR0917 - one positional signature for every domain
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
) -> ActivityItem:
    """Commit ``transaction`` together with the activity entry of its change (one ``TransactWriteItems``).

    Parameters
    ----------
    studio_id:
        The studio whose log receives the entry.
    actor_id:
        The user who made the change (``None`` for the system, e.g. the pipeline).
    action:
        ``noun:verb`` name of the change, e.g. ``asset:created``, ``version:ready``.
    target_type, target_id:
        What the change is about (``asset``/id, ``project``/id, ``version``/``{assetId}:{n}`` ...).
    details:
        JSON-serialisable specifics (changed fields, version number, cycle ...).
    project_id, asset_id:
        For the ``?projectId`` / ``?assetId`` filters.
    transaction:
        The labelled change to commit with the entry (any table); ``None`` logs the entry alone.

    Returns
    -------
    ActivityItem
        The entry as stored (catalog table).

    Raises
    ------
    keyframe.storage.transactions.Cancelled
        When a condition of ``transaction`` failed or another transaction conflicted (the entry is
        not written either).
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
    tx.put(LABEL, item)
    tx.commit()
    return item
