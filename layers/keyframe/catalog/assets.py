"""Assets: create, read, edit (with ``If-Match``), archive and restore (catalog table).

An asset's name is unique in its project, case-insensitively: creating or renaming puts an
:class:`~keyframe.catalog.models.AssetNameItem` with ``attribute_not_exists`` in the same transaction
as the asset (a rename also deletes the old name's item), so of concurrent creations with one name
exactly one succeeds and the others answer 409 ``ASSET_NAME_TAKEN``. An archived asset keeps its name
reserved. Transactions cancelled only by a conflict with a concurrent one are retried.

An asset item carries a ``revision`` that every write increments; its ETag is ``"{id}.{revision}"``.
``PATCH`` with ``If-Match`` writes with the condition ``revision = :seen``, so a stale ETag answers
412 even when two editors race. Archiving removes the listing GSI keys (see
:mod:`keyframe.catalog.listing`), restoring puts them back; nothing is deleted.
"""

from __future__ import annotations

import uuid
from typing import Any

from pynamodb.attributes import Attribute
from pynamodb.exceptions import DoesNotExist

from keyframe.catalog.listing import index_attributes
from keyframe.catalog.models import (
    ASSET_NAME_SK,
    ASSET_SK,
    AssetItem,
    AssetNameItem,
    asset_name_pk,
    asset_pk,
    is_archived,
    not_archived,
)
from keyframe.catalog.projects import load_project
from keyframe.catalog.schemas import (
    Asset,
    AssetCreate,
    AssetStatus,
    AssetType,
    AssetUpdate,
)
from keyframe.catalog.views import to_asset
from keyframe.clock import now_iso
from keyframe.errors import Conflict, NotFound, PreconditionFailed
from keyframe.events.publisher import stage
from keyframe.events.rooms import STUDIO_ROOM, asset_room, project_room
from keyframe.storage import activity
from keyframe.storage.pages import parse_record
from keyframe.storage.transactions import Cancelled, Transaction, any_cancellation, retrying


def name_key(name: str) -> str:
    """The case-insensitive form of a name used for sorting and prefix search."""
    return name.casefold()


def rooms_of(project_id: str, asset_id: str) -> list[str]:
    """The rooms an asset's events go to."""
    return [STUDIO_ROOM, project_room(project_id), asset_room(asset_id)]


def not_found(asset_id: str) -> NotFound:
    """The error for an unknown (or other studio's) asset."""
    return NotFound("Asset not found", code="ASSET_NOT_FOUND", details={"assetId": asset_id})


def name_taken(name: str, project_id: str) -> Conflict:
    """The error for a name another asset of the project holds (archived assets hold theirs)."""
    return Conflict(
        f"An asset named {name!r} already exists in this project",
        code="ASSET_NAME_TAKEN",
        details={"field": "name", "name": name, "projectId": project_id},
    )


def _name_item(studio_id: str, project_id: str, name: str, asset_id: str = "") -> AssetNameItem:
    return AssetNameItem(asset_name_pk(studio_id, project_id, name), ASSET_NAME_SK, asset_id=asset_id)


COMMIT_ATTEMPTS = 8
"""Attempts of a write whose transaction was cancelled only by a concurrent one (no condition failed)."""


def archived_conflict(asset_id: str) -> Conflict:
    """The error for a write to an archived asset."""
    return Conflict(
        "The asset is archived; restore it first", code="ASSET_ARCHIVED", details={"assetId": asset_id}
    )


def load_asset(studio_id: str, asset_id: str) -> AssetItem:
    """The asset item (consistent read), archived or not.

    Raises
    ------
    NotFound
        Unknown id or another studio's asset.
    UnreadableRecord
        The stored item does not parse (reported: log + ``UnreadableRecords`` metric).
    """
    key = asset_pk(studio_id, asset_id)
    try:
        return parse_record(
            "asset", asset_id, key, lambda: AssetItem.get(key, ASSET_SK, consistent_read=True)
        )
    except DoesNotExist as exc:
        raise not_found(asset_id) from exc


def get_asset(studio_id: str, asset_id: str) -> Asset:
    """One asset of the studio (archived ones included, flagged ``archived``).

    Parameters
    ----------
    studio_id, asset_id:
        The caller's studio and the asset.

    Returns
    -------
    Asset
        With ``etag`` / ``revision`` for conditional writes.

    Raises
    ------
    NotFound
        Unknown id or another studio's asset.
    UnreadableRecord
        500 ``RECORD_UNREADABLE``: the stored asset does not parse (reported, see
        :func:`keyframe.storage.pages.parse_record`).
    """
    return to_asset(load_asset(studio_id, asset_id))


def touch(item: AssetItem, now: str) -> list[Any]:
    """Update actions every write to an asset carries: ``updatedAt``, ``revision`` and the
    ``updatedAt`` sort keys of the listing indexes (only while the asset is listed)."""
    actions: list[Any] = [AssetItem.updated_at.set(now), AssetItem.revision.add(1)]
    if not item.archived:
        actions += [
            AssetItem.gsi2sk.set(f"{now}#{item.asset_id}"),
            AssetItem.gsi5sk.set(f"{now}#{item.asset_id}"),
        ]
    return actions


def create_asset(studio_id: str, actor_id: str, request: AssetCreate) -> Asset:
    """Create an asset in one of the studio's projects (status ``IN_PROGRESS``, no versions).

    Raises
    ------
    NotFound
        ``PROJECT_NOT_FOUND``: unknown project or another studio's.
    Conflict
        ``PROJECT_ARCHIVED``; ``ASSET_NAME_TAKEN`` (case-insensitively, archived assets included).
    """
    project = load_project(studio_id, request.project_id)
    if project.archived:
        raise Conflict(
            "The project is archived", code="PROJECT_ARCHIVED", details={"projectId": request.project_id}
        )
    now = now_iso()
    asset_id = str(uuid.uuid4())
    key = name_key(request.name)
    item = AssetItem(
        asset_pk(studio_id, asset_id),
        ASSET_SK,
        asset_id=asset_id,
        studio_id=studio_id,
        project_id=request.project_id,
        name=request.name,
        name_key=key,
        type=request.type.value,
        description=request.description,
        tags=list(request.tags),
        status=AssetStatus.IN_PROGRESS.value,
        current_version=None,
        latest_version=0,
        outdated={},
        archived=False,
        created_by=actor_id,
        created_at=now,
        updated_at=now,
        revision=1,
        dependency_count=0,
        dependent_count=0,
        **index_attributes(
            studio_id, request.project_id, asset_id, created_at=now, updated_at=now, name_key=key
        ),
    )
    created = to_asset(item).to_json()

    def attempt(_: int) -> None:
        tx = Transaction()
        tx.put("asset", item, condition=AssetItem.pk.does_not_exist())
        tx.put(
            "name",
            _name_item(studio_id, request.project_id, request.name, asset_id),
            condition=AssetNameItem.pk.does_not_exist(),
        )
        tx.check("project", type(project), project.pk, project.sk, not_archived(type(project)))
        stage(tx, studio_id, "asset:created", created, rooms=rooms_of(request.project_id, asset_id))
        try:
            activity.record(
                studio_id,
                actor_id,
                "asset:created",
                "asset",
                asset_id,
                {"name": request.name, "type": request.type.value},
                project_id=request.project_id,
                asset_id=asset_id,
                transaction=tx,
            )
        except Cancelled as exc:
            if "name" in exc.failed:
                raise name_taken(request.name, request.project_id) from exc
            if "project" in exc.failed:
                raise Conflict("The project is archived", code="PROJECT_ARCHIVED") from exc
            raise  # a conflict with a concurrent transaction: tried again

    retrying(attempt, attempts=COMMIT_ATTEMPTS, retry_if=any_cancellation)
    return to_asset(item)


def _holds(reservation: AssetNameItem, asset_id: str) -> bool:
    """Whether ``asset_id`` holds the name ``reservation`` (assets made before names were reserved
    hold none; their name is then not released by a rename)."""
    try:
        stored = AssetNameItem.get(reservation.pk, reservation.sk, consistent_read=True)
    except DoesNotExist:
        return False
    return stored.asset_id == asset_id


def _parse_if_match(value: str) -> set[str] | None:
    """The entity tags of an ``If-Match`` header (``None`` for ``*``)."""
    tags = set()
    for part in value.split(","):
        tag = part.strip()
        if tag == "*":
            return None
        if tag.startswith("W/"):
            tag = tag[2:]
        if tag:
            tags.add(tag)
    return tags


_COLUMNS: dict[str, Attribute[Any]] = {
    "name": AssetItem.name,
    "type": AssetItem.type,
    "description": AssetItem.description,
    "tags": AssetItem.tags,
    "rerender_on_change": AssetItem.rerender_on_change,
}


def _commit_update(
    studio_id: str,
    actor_id: str,
    item: AssetItem,
    *,
    revision: int,
    actions: list[Any],
    changes: dict[str, Any],
    event: dict[str, Any],
) -> None:
    """Write an asset edit, its name reservation move, its activity entry and its ``asset:updated``
    event (``event`` = the asset as the edit leaves it) in one transaction."""
    asset_id = item.asset_id
    condition = not_archived(AssetItem) & (AssetItem.revision == revision)
    new_name = changes["name"]["to"] if "name" in changes else None
    renamed = new_name is not None and asset_name_pk(studio_id, item.project_id, item.name) != asset_name_pk(
        studio_id, item.project_id, new_name
    )
    old_name = _name_item(studio_id, item.project_id, item.name)
    releases_old = renamed and _holds(old_name, asset_id)

    def attempt(_: int) -> None:
        tx = Transaction().update("asset", AssetItem(item.pk, item.sk), actions, condition=condition)
        if renamed:
            tx.put(
                "name",
                _name_item(studio_id, item.project_id, str(new_name), asset_id),
                condition=AssetNameItem.pk.does_not_exist(),
            )
            if releases_old:
                tx.delete("old-name", old_name, condition=AssetNameItem.asset_id == asset_id)
        stage(tx, studio_id, "asset:updated", event, rooms=rooms_of(item.project_id, asset_id))
        try:
            activity.record(
                studio_id,
                actor_id,
                "asset:updated",
                "asset",
                asset_id,
                {"changes": changes},
                project_id=item.project_id,
                asset_id=asset_id,
                transaction=tx,
            )
        except Cancelled as exc:
            if "asset" in exc.failed or "old-name" in exc.failed:
                raise PreconditionFailed("The asset changed since you read it; reload and retry") from exc
            if "name" in exc.failed:
                raise name_taken(str(new_name), item.project_id) from exc
            raise  # a conflict with a concurrent transaction: tried again

    retrying(attempt, attempts=COMMIT_ATTEMPTS, retry_if=any_cancellation)


def update_asset(
    studio_id: str, actor_id: str, asset_id: str, request: AssetUpdate, *, if_match: str | None = None
) -> Asset:
    """Edit an asset's name, type, description or tags.

    Parameters
    ----------
    if_match:
        The ``If-Match`` header: when given, the write only happens if the asset's ETag is still one
        of these tags.

    Raises
    ------
    NotFound
        Unknown asset.
    Conflict
        ``ASSET_ARCHIVED``.
        ``ASSET_NAME_TAKEN``: the new name is another asset's in the project (case-insensitively).
    PreconditionFailed
        The ETag no longer matches (someone changed the asset), checked atomically with the write.
    """
    item = load_asset(studio_id, asset_id)
    asset = to_asset(item)
    wanted = _parse_if_match(if_match) if if_match is not None else None
    if wanted is not None and asset.etag not in wanted:
        raise PreconditionFailed(
            "The asset changed since you read it; reload and retry",
            details={"etag": asset.etag},
        )
    if item.archived:
        raise archived_conflict(asset_id)
    given = request.model_dump(mode="json", exclude_unset=True)
    changes: dict[str, Any] = {}
    for field, value in given.items():
        current = getattr(item, field)
        if field == "tags":
            current = list(current or [])
        if value != current:
            changes[field] = {"from": current, "to": value}
    if not changes:
        return asset
    now = now_iso()
    actions = touch(item, now)
    for field, change in changes.items():
        value = change["to"]
        actions.append(_COLUMNS[field].remove() if value is None else _COLUMNS[field].set(value))
    if "name" in changes:
        key = name_key(changes["name"]["to"])
        actions += [
            AssetItem.name_key.set(key),
            AssetItem.gsi3sk.set(f"{key}\x1f{asset_id}"),
            AssetItem.gsi6sk.set(f"{key}\x1f{asset_id}"),
        ]
    edited = {name: AssetType(c["to"]) if name == "type" else c["to"] for name, c in changes.items()}
    event = {**asset.model_copy(update={**edited, "updated_at": now}).to_json(), "changes": sorted(changes)}
    _commit_update(
        studio_id, actor_id, item, revision=asset.revision, actions=actions, changes=changes, event=event
    )
    return get_asset(studio_id, asset_id)


def archive_asset(studio_id: str, actor_id: str, asset_id: str) -> Asset:
    """Archive an asset: hidden from every list, still readable by id; no file or version is deleted.

    Archiving an archived asset returns it unchanged.

    Raises
    ------
    NotFound
        Unknown asset.
    """
    item = load_asset(studio_id, asset_id)
    if item.archived:
        return to_asset(item)
    now = now_iso()
    actions: list[Any] = [
        AssetItem.updated_at.set(now),
        AssetItem.revision.add(1),
        AssetItem.archived.set(True),
        AssetItem.archived_at.set(now),
    ]
    for name in index_attributes(
        studio_id, item.project_id, asset_id, created_at=now, updated_at=now, name_key=item.name_key
    ):
        actions.append(getattr(AssetItem, name).remove())
    tx = Transaction().update(
        "asset",
        AssetItem(item.pk, item.sk),
        actions,
        condition=not_archived(AssetItem),
    )
    archived = to_asset(item).model_copy(update={"archived": True, "updated_at": now}).to_json()
    stage(tx, studio_id, "asset:archived", archived, rooms=rooms_of(item.project_id, asset_id))
    try:
        activity.record(
            studio_id,
            actor_id,
            "asset:archived",
            "asset",
            asset_id,
            {"name": item.name},
            project_id=item.project_id,
            asset_id=asset_id,
            transaction=tx,
        )
    except Cancelled as exc:
        if "asset" in exc.failed:
            return get_asset(studio_id, asset_id)  # archived meanwhile by someone else
        raise
    return get_asset(studio_id, asset_id)


def restore_asset(studio_id: str, actor_id: str, asset_id: str) -> Asset:
    """Bring an archived asset back into the lists (restoring an active asset returns it unchanged).

    Raises
    ------
    NotFound
        Unknown asset.
    """
    item = load_asset(studio_id, asset_id)
    if not item.archived:
        return to_asset(item)
    now = now_iso()
    keys = index_attributes(
        studio_id,
        item.project_id,
        asset_id,
        created_at=item.created_at,
        updated_at=now,
        name_key=item.name_key,
    )
    actions: list[Any] = [
        AssetItem.updated_at.set(now),
        AssetItem.revision.add(1),
        AssetItem.archived.set(False),
        AssetItem.archived_at.remove(),
    ]
    actions += [getattr(AssetItem, name).set(value) for name, value in keys.items()]
    tx = Transaction().update(
        "asset",
        AssetItem(item.pk, item.sk),
        actions,
        condition=is_archived(AssetItem),
    )
    restored = to_asset(item).model_copy(update={"archived": False, "updated_at": now}).to_json()
    stage(tx, studio_id, "asset:restored", restored, rooms=rooms_of(item.project_id, asset_id))
    try:
        activity.record(
            studio_id,
            actor_id,
            "asset:restored",
            "asset",
            asset_id,
            {"name": item.name},
            project_id=item.project_id,
            asset_id=asset_id,
            transaction=tx,
        )
    except Cancelled as exc:
        if "asset" in exc.failed:
            return get_asset(studio_id, asset_id)
        raise
    return get_asset(studio_id, asset_id)
