"""The dependency graph: "asset A uses asset B", pinned to a version of B or following its current one.

Storage: each edge is two items written in one transaction, ``DEP#{b}`` under A and ``RDEP#{a}``
under B, with the same attributes (pin, note, relationship, both project ids). Each asset item counts
its edges (``dependencyCount``, ``dependentCount``) in the same transaction, so a traversal knows
which nodes are leaves without reading their edges. Reading (walks, :func:`traverse`, the cycle
check) is :mod:`keyframe.catalog.graph_walk`, re-exported here.

Relationships: an edge says what B is to A (:class:`keyframe.catalog.schemas.Relationship`:
``REFERENCES``, ``RIG_OF``, ``MODEL_OF``, ``TEXTURE_OF``, ``LAYOUT_OF``, ``ANIMATION_OF``,
``AUDIO_OF``, ``CACHE_OF``). A new edge without one is ``REFERENCES``; a re-pin without one keeps
the edge's; edges stored before relationships existed read as ``REFERENCES``.

Built against: :func:`built_against` resolves A's direct dependencies to versions (the pin, else
B's current version) at the moment A publishes a version; the version stores them, so "sh010 v3
used rig v7" is answered by ``GET /assets/{sh010}/versions/3``.

Cycles: adding A→B is refused with 409 ``DEPENDENCY_CYCLE`` when A is reachable from B, naming the
cycle (``details.cycle = [A, B, …, A]``). Every edge *addition* also bumps the studio's graph
revision item on the condition that it did not change since the cycle check was read, so two
concurrent additions (A→B and B→A) cannot both pass their checks; the loser re-checks and is refused.

Pins: an unknown ``pinnedVersion`` answers 400 ``UNKNOWN_VERSION`` (a value of the request, like a bad
field; 404 is kept for ids in the path). When the pin is older than the dependency's current
version the dependent shows it in ``outdatedDependencies``; moving the pin recomputes that entry and
:func:`propagate_current_version` keeps it up to date when the dependency's current version moves.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pynamodb.exceptions import DoesNotExist

from keyframe.catalog.assets import archived_conflict, load_asset, rooms_of, touch
from keyframe.catalog.graph_walk import (
    DEPENDENCIES,
    DEPENDENTS,
    WALK_WORKERS,
    batch_assets,
    edges_of,
    find_cycle,
    impact_set,
    relationship_of,
    traverse,
)
from keyframe.catalog.models import (
    ASSET_SK,
    DEPENDENCY_PREFIX,
    DEPENDENT_PREFIX,
    GRAPH_SK,
    AssetItem,
    EdgeItem,
    GraphLockItem,
    asset_pk,
    dependency_sk,
    dependent_sk,
    graph_lock_pk,
    not_archived,
)
from keyframe.catalog.schemas import (
    DEFAULT_MAX_DEPTH,
    DEFAULT_MAX_NODES,
    MAX_DEPTH,
    MAX_NODES,
    AssetType,
    BuiltAgainst,
    Dependency,
    DependencyPut,
    Relationship,
)
from keyframe.catalog.version_queries import load_version
from keyframe.clock import now_iso
from keyframe.errors import Conflict, InvalidInput, NotFound, field_details
from keyframe.events.publisher import emit, stage
from keyframe.events.rooms import STUDIO_ROOM, asset_room, project_room
from keyframe.observability import logger
from keyframe.storage import activity
from keyframe.storage.transactions import Cancelled, Transaction, any_cancellation, retrying

__all__ = [
    "DEFAULT_MAX_DEPTH",
    "DEFAULT_MAX_NODES",
    "DEPENDENCIES",
    "DEPENDENTS",
    "MAX_DEPTH",
    "MAX_NODES",
    "WALK_WORKERS",
    "built_against",
    "find_cycle",
    "impact_set",
    "propagate_current_version",
    "put_dependency",
    "remove_dependency",
    "to_dependency",
    "traverse",
]


def _load_active(studio_id: str, asset_id: str) -> AssetItem:
    item = load_asset(studio_id, asset_id)
    if item.archived:
        raise archived_conflict(asset_id)
    return item


def _outdated_entry(pinned: int | None, current: int | None) -> dict[str, int] | None:
    if pinned is not None and current is not None and pinned < current:
        return {"pinnedVersion": pinned, "latestVersion": current}
    return None


def to_dependency(edge: EdgeItem, outdated: bool = False) -> Dependency:
    """The API shape of an edge."""
    return Dependency(
        asset_id=edge.source_id,
        depends_on_id=edge.target_id,
        relationship=relationship_of(edge),
        pinned_version=None if edge.pinned_version is None else int(edge.pinned_version),
        note=edge.note,
        outdated=outdated,
        created_by=edge.created_by,
        created_at=edge.created_at,
        updated_at=edge.updated_at,
    )


# --- writing edges ------------------------------------------------------------------------------


def _edge_items(
    source: AssetItem,
    target: AssetItem,
    pinned: int | None,
    note: str | None,
    relationship: Relationship,
    *,
    created_by: str,
    created_at: str,
    now: str,
) -> tuple[EdgeItem, EdgeItem]:
    common: dict[str, Any] = {
        "source_id": source.asset_id,
        "target_id": target.asset_id,
        "source_project_id": source.project_id,
        "target_project_id": target.project_id,
        "pinned_version": pinned,
        "note": note,
        "relationship": relationship.value,
        "created_by": created_by,
        "created_at": created_at,
        "updated_at": now,
    }
    forward = EdgeItem(source.pk, dependency_sk(target.asset_id), **common)
    reverse = EdgeItem(target.pk, dependent_sk(source.asset_id), **common)
    return forward, reverse


def _existing_edge(studio_id: str, asset_id: str, depends_on_id: str) -> EdgeItem | None:
    try:
        return EdgeItem.get(asset_pk(studio_id, asset_id), dependency_sk(depends_on_id), consistent_read=True)
    except DoesNotExist:
        return None


def _check_pin(studio_id: str, depends_on_id: str, pinned: int | None) -> None:
    """A pin names an existing, not failed version of the dependency."""
    if pinned is None:
        return
    try:
        pinned_item = load_version(studio_id, depends_on_id, pinned)
    except NotFound as exc:
        raise InvalidInput(
            f"Version {pinned} of the dependency does not exist",
            code="UNKNOWN_VERSION",
            details=field_details(
                "pinnedVersion", "no such version", dependsOnId=depends_on_id, version=pinned
            ),
        ) from exc
    if pinned_item.status == "FAILED":
        raise Conflict(
            f"Version {pinned} of the dependency failed processing",
            code="VERSION_FAILED",
            details={"dependsOnId": depends_on_id, "version": pinned},
        )


def _refuse_cycle(studio_id: str, asset_id: str, depends_on_id: str) -> None:
    cycle = find_cycle(studio_id, asset_id, depends_on_id)
    if cycle:
        raise Conflict(
            "This dependency would create a cycle: " + " -> ".join(cycle),
            code="DEPENDENCY_CYCLE",
            details={"cycle": cycle},
        )


@dataclass
class _EdgeWrite:
    """The transaction of one edge creation or re-pin, and what it writes."""

    tx: Transaction
    forward: EdgeItem
    outdated: bool
    project_id: str


def _relationship(request: DependencyPut, existing: EdgeItem | None) -> Relationship:
    """The request's relationship; else the existing edge's; else ``REFERENCES``."""
    if request.relationship is not None:
        return request.relationship
    return relationship_of(existing) if existing is not None else Relationship.REFERENCES


def _edge_write(
    studio_id: str,
    actor_id: str,
    asset_id: str,
    depends_on_id: str,
    request: DependencyPut,
    *,
    existing: EdgeItem | None,
    lock_revision: int,
) -> _EdgeWrite:
    """Both edge items, the source's outdated entry and counters, the target's counter and the
    graph revision (new edges only), conditioned so a concurrent change cancels it."""
    source = _load_active(studio_id, asset_id)
    target = _load_active(studio_id, depends_on_id)
    now = now_iso()
    forward, reverse = _edge_items(
        source,
        target,
        request.pinned_version,
        request.note,
        _relationship(request, existing),
        created_by=existing.created_by if existing else actor_id,
        created_at=existing.created_at if existing else now,
        now=now,
    )
    current = None if target.current_version is None else int(target.current_version)
    entry = _outdated_entry(request.pinned_version, current)
    tx = Transaction()
    guard = EdgeItem.pk.exists() if existing else EdgeItem.pk.does_not_exist()
    tx.put("forward", forward, condition=guard)
    tx.put("reverse", reverse, condition=guard)
    outdated = AssetItem.outdated[depends_on_id]
    source_actions = [*touch(source, now), outdated.set(entry) if entry else outdated.remove()]
    if existing is None:
        source_actions.append(AssetItem.dependency_count.add(1))
        tx.update(
            "target",
            AssetItem(target.pk, ASSET_SK),
            [AssetItem.dependent_count.add(1)],
            condition=not_archived(AssetItem),
        )
        unchanged = (
            GraphLockItem.revision.does_not_exist()
            if lock_revision == 0
            else GraphLockItem.revision == lock_revision
        )
        tx.update(
            "lock",
            GraphLockItem(graph_lock_pk(studio_id), GRAPH_SK),
            [GraphLockItem.revision.add(1)],
            condition=unchanged,
        )
    tx.update("source", AssetItem(source.pk, ASSET_SK), source_actions, condition=not_archived(AssetItem))
    return _EdgeWrite(tx, forward, entry is not None, source.project_id)


def put_dependency(
    studio_id: str, actor_id: str, asset_id: str, depends_on_id: str, request: DependencyPut
) -> tuple[Dependency, bool]:
    """Say "``asset_id`` uses ``depends_on_id``", pinned to a version or following the current one.

    Creating and re-pinning are the same call; re-pinning recomputes the asset's
    ``outdatedDependencies`` entry for this dependency (cleared when the pin reaches current).

    Returns
    -------
    (Dependency, bool)
        The edge, and True when it was created (False: updated).

    Raises
    ------
    NotFound
        Either asset unknown (or another studio's).
    InvalidInput
        ``SELF_DEPENDENCY``; ``UNKNOWN_VERSION`` (``pinnedVersion`` is not a version of the dependency).
    Conflict
        ``DEPENDENCY_CYCLE`` with ``details.cycle``; ``ASSET_ARCHIVED``; ``VERSION_FAILED`` (pin to a
        failed version); ``GRAPH_TOO_LARGE``.
    """
    if asset_id == depends_on_id:
        raise InvalidInput(
            "An asset cannot depend on itself", code="SELF_DEPENDENCY", details={"assetId": asset_id}
        )
    _load_active(studio_id, asset_id)
    _load_active(studio_id, depends_on_id)
    _check_pin(studio_id, depends_on_id, request.pinned_version)

    def attempt(_: int) -> tuple[Dependency, str, bool]:
        existing = _existing_edge(studio_id, asset_id, depends_on_id)
        lock_revision = 0
        if existing is None:
            lock_revision = _graph_revision(studio_id)  # read before the check it protects
            _refuse_cycle(studio_id, asset_id, depends_on_id)
        write = _edge_write(
            studio_id,
            actor_id,
            asset_id,
            depends_on_id,
            request,
            existing=existing,
            lock_revision=lock_revision,
        )
        previous = (
            None if existing is None or existing.pinned_version is None else int(existing.pinned_version)
        )
        dependency = to_dependency(write.forward, outdated=write.outdated)
        kind = "dependency:updated" if existing else "dependency:added"
        rooms = [*rooms_of(write.project_id, asset_id), asset_room(depends_on_id)]
        stage(write.tx, studio_id, kind, dependency.to_json(), rooms=rooms)
        try:
            activity.record(
                studio_id,
                actor_id,
                "dependency:updated" if existing else "dependency:added",
                "dependency",
                f"{asset_id}:{depends_on_id}",
                {
                    "dependsOnId": depends_on_id,
                    "pinnedVersion": request.pinned_version,
                    "note": request.note,
                    "relationship": write.forward.relationship,
                    "previousPinnedVersion": previous,
                },
                project_id=write.project_id,
                asset_id=asset_id,
                transaction=write.tx,
            )
        except Cancelled as exc:
            raise Cancelled(exc.failed, True) from exc  # a concurrent change: re-read, re-check, retry
        return dependency, write.project_id, existing is None

    dependency, _, created = retrying(attempt, attempts=10, retry_if=any_cancellation)
    return dependency, created


def _graph_revision(studio_id: str) -> int:
    try:
        return int(GraphLockItem.get(graph_lock_pk(studio_id), GRAPH_SK, consistent_read=True).revision or 0)
    except DoesNotExist:
        return 0


def remove_dependency(studio_id: str, actor_id: str, asset_id: str, depends_on_id: str) -> None:
    """Remove the edge "``asset_id`` uses ``depends_on_id``" (both items, counts, outdated entry).

    Raises
    ------
    NotFound
        Unknown asset, or no such dependency (``DEPENDENCY_NOT_FOUND``).
    """
    source = load_asset(studio_id, asset_id)
    edge = _existing_edge(studio_id, asset_id, depends_on_id)
    if edge is None:
        raise NotFound(
            "This asset does not depend on that asset",
            code="DEPENDENCY_NOT_FOUND",
            details={"assetId": asset_id, "dependsOnId": depends_on_id},
        )
    now = now_iso()
    tx = Transaction()
    tx.delete("forward", EdgeItem(edge.pk, edge.sk), condition=EdgeItem.pk.exists())
    tx.delete("reverse", EdgeItem(asset_pk(studio_id, depends_on_id), dependent_sk(asset_id)))
    tx.update(
        "source",
        AssetItem(source.pk, ASSET_SK),
        [*touch(source, now), AssetItem.dependency_count.add(-1), AssetItem.outdated[depends_on_id].remove()],
    )
    tx.update(
        "target",
        AssetItem(asset_pk(studio_id, depends_on_id), ASSET_SK),
        [AssetItem.dependent_count.add(-1)],
        condition=AssetItem.pk.exists(),
    )
    stage(
        tx, studio_id, "dependency:removed", {"assetId": asset_id, "dependsOnId": depends_on_id},
        rooms=[*rooms_of(source.project_id, asset_id), asset_room(depends_on_id)],
    )  # fmt: skip
    try:
        activity.record(
            studio_id,
            actor_id,
            "dependency:removed",
            "dependency",
            f"{asset_id}:{depends_on_id}",
            {"dependsOnId": depends_on_id},
            project_id=source.project_id,
            asset_id=asset_id,
            transaction=tx,
        )
    except Cancelled as exc:
        if "forward" not in exc.failed and "target" not in exc.failed:
            raise  # not a vanished edge (a conflict, the outbox write): a 500, nothing written
        raise NotFound("This asset does not depend on that asset", code="DEPENDENCY_NOT_FOUND") from exc


# --- impact of a new current version ------------------------------------------------------------


def propagate_current_version(studio_id: str, asset_id: str, project_id: str, current_version: int) -> int:
    """Tell every dependent of ``asset_id`` that its current version is now ``current_version``.

    Dependents that pin an older version get (or keep, updated) an ``outdatedDependencies`` entry;
    those pinning it or a newer one lose it. Every dependent gets ``asset:dependency-updated``
    (followers re-resolve the current version). One Query for the reverse edges, one conditional
    UpdateItem per pinning dependent, each in one transaction with its event. These entries are
    derived state (recomputable from the edges), so they are written outside the activity
    transaction; the triggering entry covers them. A dependent that only follows the current version
    has nothing stored to change: its event is stored alone (:func:`keyframe.events.publisher.emit`),
    and a retry of the caller redoes the whole propagation.

    Returns
    -------
    int
        The number of dependents told.
    """
    edges = list(edges_of(studio_id, asset_id, DEPENDENT_PREFIX))
    pinning = [e.source_id for e in edges if e.pinned_version is not None]
    dependents = batch_assets(studio_id, pinning)
    for edge in edges:
        dependent_id = edge.source_id
        pinned = None if edge.pinned_version is None else int(edge.pinned_version)
        entry = _outdated_entry(pinned, current_version)
        item = dependents.get(dependent_id)
        told = {
            "assetId": dependent_id, "dependencyId": asset_id, "currentVersion": current_version,
            "pinnedVersion": pinned, "following": pinned is None, "outdated": entry is not None,
        }  # fmt: skip
        rooms = [STUDIO_ROOM, project_room(edge.source_project_id), asset_room(dependent_id)]
        if item is None:
            emit(studio_id, "asset:dependency-updated", told, rooms=rooms)
            continue
        outdated = AssetItem.outdated[asset_id]
        actions = [outdated.set(entry) if entry else outdated.remove(), *touch(item, now_iso())]
        tx = Transaction().update(
            "asset", AssetItem(item.pk, ASSET_SK), actions, condition=AssetItem.archived == item.archived
        )
        stage(tx, studio_id, "asset:dependency-updated", told, rooms=rooms)
        try:
            tx.commit()
        except Cancelled:  # archived or restored meanwhile: its next pin change recomputes it
            logger.warning("outdated entry not updated", extra={"dependent": dependent_id})
            emit(studio_id, "asset:dependency-updated", told, rooms=rooms)
    return len(edges)


# --- versions a new version is built against ----------------------------------------------------


def built_against(studio_id: str, asset_id: str) -> list[BuiltAgainst]:
    """The asset's direct dependencies resolved to versions now: the pin, else the current version.

    One Query of the asset's edges and one ``BatchGetItem`` per 100 dependencies (catalog table);
    ordered by dependency id. A dependency with no READY version yet has ``version: None``.
    """
    edges = sorted(edges_of(studio_id, asset_id, DEPENDENCY_PREFIX), key=lambda e: e.target_id)
    targets = batch_assets(studio_id, [e.target_id for e in edges])
    found = []
    for edge in edges:
        target = targets.get(edge.target_id)
        pinned = edge.pinned_version is not None
        current = None if target is None or target.current_version is None else int(target.current_version)
        version = int(edge.pinned_version) if pinned else current
        found.append(
            BuiltAgainst(
                asset_id=edge.target_id,
                name=target.name if target else None,
                type=AssetType(target.type) if target else None,
                relationship=relationship_of(edge),
                version=version,
                pinned=pinned,
            )
        )
    return found
