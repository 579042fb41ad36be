"""The dependency graph: "asset A uses asset B", pinned to a version of B or following its current one.

Storage: each edge is two items written in one transaction, ``DEP#{b}`` under A and ``RDEP#{a}``
under B, with the same attributes (pin, note, both project ids). Each asset item counts its edges
(``dependencyCount``, ``dependentCount``) in the same transaction, so a traversal knows which nodes
are leaves without reading their edges.

Traversal (:func:`traverse`) goes level by level: one Query per node of the frontier that has edges
(nodes with a zero count cost nothing) and one ``BatchGetItem`` per 100 newly reached nodes for
their names, types and counts; a level's reads run in parallel (:data:`WALK_WORKERS` at a time), so
a walk waits for about one round trip per level rather than one per node. It is bounded in depth
(default 10, max 20) and in nodes (default 500, max 2000) and says ``truncated: true`` when a bound
cut it short. The dependents closure is the impact set of a change.

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

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pynamodb.exceptions import DoesNotExist, UpdateError

from keyframe.catalog.assets import archived_conflict, load_asset, rooms_of, touch
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
    AssetStatus,
    AssetType,
    Dependency,
    DependencyPut,
    GraphLimits,
    GraphNode,
    GraphResult,
)
from keyframe.catalog.version_queries import load_version
from keyframe.clock import now_iso
from keyframe.errors import Conflict, InvalidInput, NotFound, field_details
from keyframe.events.publisher import emit
from keyframe.events.rooms import STUDIO_ROOM, asset_room, project_room
from keyframe.observability import logger
from keyframe.storage import activity
from keyframe.storage.transactions import Cancelled, Transaction, any_cancellation, retrying

DEFAULT_MAX_DEPTH = 10
MAX_DEPTH = 20
DEFAULT_MAX_NODES = 500
MAX_NODES = 2000
CYCLE_CHECK_MAX_NODES = 10_000
"""A cycle check that would visit more nodes refuses the edge (409 ``GRAPH_TOO_LARGE``)."""

BATCH_GET_SIZE = 100
WALK_WORKERS = 8
"""Reads of one walk level in flight at once (the level's Queries, the BatchGetItems of its new nodes)."""
DEPENDENCIES = "dependencies"
T = TypeVar("T")
R = TypeVar("R")
DEPENDENTS = "dependents"


# --- reading edges and nodes --------------------------------------------------------------------


def _edges(studio_id: str, asset_id: str, prefix: str) -> Iterable[EdgeItem]:
    """Every edge item of one direction under ``asset_id`` (one Query, paged by DynamoDB if huge)."""
    return EdgeItem.query(asset_pk(studio_id, asset_id), EdgeItem.sk.startswith(prefix))


def _parallel(read: Callable[[T], R], inputs: list[T]) -> list[R]:
    """``[read(x) for x in inputs]``, up to :data:`WALK_WORKERS` at a time (in order; one input inline).

    DynamoDB answers each read in milliseconds of network wait, so a level's reads overlap instead
    of queueing; the bound keeps one walk from taking every connection of the client's pool (10).
    """
    if len(inputs) <= 1:
        return [read(x) for x in inputs]
    with ThreadPoolExecutor(min(WALK_WORKERS, len(inputs)), thread_name_prefix="graph-walk") as pool:
        return list(pool.map(read, inputs))


def _batch_assets(studio_id: str, asset_ids: list[str]) -> dict[str, AssetItem]:
    """Asset items by id with ``BatchGetItem`` (100 keys per request, the requests in parallel);
    unknown ids are absent."""
    chunks = [asset_ids[start : start + BATCH_GET_SIZE] for start in range(0, len(asset_ids), BATCH_GET_SIZE)]

    def read(chunk: list[str]) -> list[AssetItem]:
        return list(AssetItem.batch_get([(asset_pk(studio_id, a), ASSET_SK) for a in chunk]))

    return {item.asset_id: item for items in _parallel(read, chunks) for item in items}


def _edge_list(walk: _Walk, node: AssetItem) -> list[EdgeItem]:
    return list(_edges(walk.studio_id, node.asset_id, walk.prefix))


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
        pinned_version=None if edge.pinned_version is None else int(edge.pinned_version),
        note=edge.note,
        outdated=outdated,
        created_by=edge.created_by,
        created_at=edge.created_at,
        updated_at=edge.updated_at,
    )


# --- traversal ----------------------------------------------------------------------------------


@dataclass
class _Reached:
    depth: int
    path: list[str]
    via: list[str]
    edge: EdgeItem | None
    item: AssetItem | None = None


@dataclass
class _Walk:
    """The state of a bounded breadth-first walk in one direction."""

    studio_id: str
    root_id: str
    direction: str
    max_nodes: int
    stop_at: str | None = None
    reached: dict[str, _Reached] = field(default_factory=dict)
    truncated: bool = False
    found_target: str | None = None

    @property
    def prefix(self) -> str:
        return DEPENDENCY_PREFIX if self.direction == DEPENDENCIES else DEPENDENT_PREFIX

    def has_edges(self, node: AssetItem) -> bool:
        """From the node's edge counter: a leaf in this direction needs no Query."""
        count = node.dependency_count if self.direction == DEPENDENCIES else node.dependent_count
        return bool(int(count or 0))

    def path_to(self, asset_id: str) -> list[str]:
        return [self.root_id] if asset_id == self.root_id else self.reached[asset_id].path

    def expand(self, node: AssetItem, depth: int, edges: list[EdgeItem]) -> list[str]:
        """Record the nodes first reached at ``depth`` through ``node``'s ``edges`` (read by the caller).

        Sets ``truncated`` when ``max_nodes`` is hit and ``found_target`` when ``stop_at`` is reached.
        """
        new_ids: list[str] = []
        for edge in edges:
            other = edge.target_id if self.direction == DEPENDENCIES else edge.source_id
            seen = self.reached.get(other)
            if other == self.root_id:
                continue
            if seen is not None:
                if seen.depth == depth and node.asset_id not in seen.via:
                    seen.via.append(node.asset_id)
                continue
            if len(self.reached) >= self.max_nodes:
                self.truncated = True
                break
            self.reached[other] = _Reached(
                depth, [*self.path_to(node.asset_id), other], [node.asset_id], edge
            )
            new_ids.append(other)
            if other == self.stop_at:
                self.found_target = other
                break
        return new_ids


def _walk(
    studio_id: str,
    root: AssetItem,
    direction: str,
    *,
    max_depth: int,
    max_nodes: int,
    stop_at: str | None = None,
) -> _Walk:
    """Breadth-first walk from ``root``: per level, one Query per node with edges, then one
    BatchGetItem per 100 new nodes; stops at the bounds or when ``stop_at`` is reached."""
    walk = _Walk(studio_id, root.asset_id, direction, max_nodes, stop_at)
    frontier: list[AssetItem] = [root]
    for depth in range(1, max_depth + 1):
        new_ids: list[str] = []
        expanding = [node for node in frontier if walk.has_edges(node)]
        # the level's Queries in parallel; their edges are then taken in frontier order, so the result
        # (paths, via, where a bound cuts) is the one a sequential walk gives
        for node, edges in zip(expanding, _parallel(lambda n: _edge_list(walk, n), expanding), strict=True):
            new_ids += walk.expand(node, depth, edges)
            if walk.truncated or walk.found_target:
                break
        if walk.found_target:
            return walk
        items = _batch_assets(studio_id, new_ids)
        for asset_id, item in items.items():
            walk.reached[asset_id].item = item
        frontier = [items[a] for a in new_ids if a in items]
        if walk.truncated or not frontier:
            return walk
    # depth bound reached: truncated if any node of the last level has further edges
    walk.truncated = any(walk.has_edges(node) for node in frontier)
    return walk


def traverse(
    studio_id: str,
    asset_id: str,
    direction: str,
    *,
    transitive: bool = False,
    max_depth: int = DEFAULT_MAX_DEPTH,
    max_nodes: int = DEFAULT_MAX_NODES,
) -> GraphResult:
    """The dependencies (what ``asset_id`` uses) or dependents (what uses it, the impact set).

    Parameters
    ----------
    direction:
        ``"dependencies"`` or ``"dependents"``.
    transitive:
        False: direct neighbours only (depth 1). True: the closure, level by level.
    max_depth, max_nodes:
        Bounds (1-20 levels, 1-2000 nodes); ``truncated`` says when one was hit.

    Returns
    -------
    GraphResult
        Nodes nearest first, each with ``depth``, ``path`` from the root and ``via``.

    Raises
    ------
    NotFound
        Unknown asset (or another studio's).
    InvalidInput
        Bounds out of range.
    """
    if direction not in (DEPENDENCIES, DEPENDENTS):
        raise InvalidInput(f"Unknown direction {direction!r}")
    if not 1 <= max_depth <= MAX_DEPTH:
        raise InvalidInput(
            f"maxDepth must be 1..{MAX_DEPTH}", details=field_details("maxDepth", f"must be 1..{MAX_DEPTH}")
        )
    if not 1 <= max_nodes <= MAX_NODES:
        raise InvalidInput(
            f"maxNodes must be 1..{MAX_NODES}", details=field_details("maxNodes", f"must be 1..{MAX_NODES}")
        )
    root = load_asset(studio_id, asset_id)
    depth = max_depth if transitive else 1
    walk = _walk(studio_id, root, direction, max_depth=depth, max_nodes=max_nodes)
    nodes = []
    for other, reached in walk.reached.items():
        item = reached.item
        edge = reached.edge
        nodes.append(
            GraphNode(
                asset_id=other,
                name=item.name if item else None,
                type=AssetType(item.type) if item else None,
                status=AssetStatus(item.status) if item else None,
                current_version=None
                if item is None or item.current_version is None
                else int(item.current_version),
                archived=bool(item.archived) if item else False,
                depth=reached.depth,
                path=reached.path,
                via=reached.via,
                pinned_version=None
                if edge is None or edge.pinned_version is None
                else int(edge.pinned_version),
                note=edge.note if edge else None,
            )
        )
    nodes.sort(key=lambda n: (n.depth, n.path))
    return GraphResult(
        asset_id=asset_id,
        direction=direction,
        transitive=transitive,
        items=nodes,
        truncated=walk.truncated,
        limits=GraphLimits(max_depth=depth, max_nodes=max_nodes),
    )


def find_cycle(studio_id: str, asset_id: str, depends_on_id: str) -> list[str] | None:
    """The cycle that the edge ``asset_id`` → ``depends_on_id`` would close, or None.

    Returns
    -------
    list of str or None
        ``[asset_id, depends_on_id, …, asset_id]`` following "uses" edges.

    Raises
    ------
    Conflict
        ``GRAPH_TOO_LARGE``: the check would visit more than 10 000 assets.
    """
    if asset_id == depends_on_id:
        return [asset_id, asset_id]
    start = load_asset(studio_id, depends_on_id)
    walk = _walk(
        studio_id,
        start,
        DEPENDENCIES,
        max_depth=CYCLE_CHECK_MAX_NODES,
        max_nodes=CYCLE_CHECK_MAX_NODES,
        stop_at=asset_id,
    )
    if walk.found_target:
        return [asset_id, *walk.reached[asset_id].path]
    if walk.truncated:
        raise Conflict(
            "The dependency graph is too large to check this edge for cycles",
            code="GRAPH_TOO_LARGE",
            details={"maxNodes": CYCLE_CHECK_MAX_NODES},
        )
    return None


# --- writing edges ------------------------------------------------------------------------------


def _edge_items(
    source: AssetItem,
    target: AssetItem,
    pinned: int | None,
    note: str | None,
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
                    "previousPinnedVersion": previous,
                },
                project_id=write.project_id,
                asset_id=asset_id,
                transaction=write.tx,
            )
        except Cancelled as exc:
            raise Cancelled(exc.failed, True) from exc  # a concurrent change: re-read, re-check, retry
        return to_dependency(write.forward, outdated=write.outdated), write.project_id, existing is None

    dependency, project_id, created = retrying(attempt, attempts=10, retry_if=any_cancellation)
    emit(
        studio_id,
        "dependency:added" if created else "dependency:updated",
        dependency.to_json(),
        rooms=[*rooms_of(project_id, asset_id), asset_room(depends_on_id)],
    )
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
        raise NotFound("This asset does not depend on that asset", code="DEPENDENCY_NOT_FOUND") from exc
    emit(
        studio_id,
        "dependency:removed",
        {"assetId": asset_id, "dependsOnId": depends_on_id},
        rooms=[*rooms_of(source.project_id, asset_id), asset_room(depends_on_id)],
    )


# --- impact of a new current version ------------------------------------------------------------


def propagate_current_version(studio_id: str, asset_id: str, project_id: str, current_version: int) -> int:
    """Tell every dependent of ``asset_id`` that its current version is now ``current_version``.

    Dependents that pin an older version get (or keep, updated) an ``outdatedDependencies`` entry;
    those pinning it or a newer one lose it. Every dependent gets ``asset:dependency-updated``
    (followers re-resolve the current version). One Query for the reverse edges, one conditional
    UpdateItem per pinning dependent. These entries are derived state (recomputable from the edges),
    so they are written outside the activity transaction; the triggering entry covers them.

    Returns
    -------
    int
        The number of dependents told.
    """
    edges = list(_edges(studio_id, asset_id, DEPENDENT_PREFIX))
    pinning = [e.source_id for e in edges if e.pinned_version is not None]
    dependents = _batch_assets(studio_id, pinning)
    for edge in edges:
        dependent_id = edge.source_id
        pinned = None if edge.pinned_version is None else int(edge.pinned_version)
        entry = _outdated_entry(pinned, current_version)
        item = dependents.get(dependent_id)
        if item is not None:
            outdated = AssetItem.outdated[asset_id]
            actions = [outdated.set(entry) if entry else outdated.remove(), *touch(item, now_iso())]
            try:
                AssetItem(item.pk, ASSET_SK).update(
                    actions=actions, condition=AssetItem.archived == item.archived
                )
            except UpdateError:  # archived or restored meanwhile: its next pin change recomputes it
                logger.warning("outdated entry not updated", extra={"dependent": dependent_id})
        emit(
            studio_id,
            "asset:dependency-updated",
            {
                "assetId": dependent_id,
                "dependencyId": asset_id,
                "currentVersion": current_version,
                "pinnedVersion": pinned,
                "following": pinned is None,
                "outdated": entry is not None,
            },
            rooms=[STUDIO_ROOM, project_room(edge.source_project_id), asset_room(dependent_id)],
        )
    return len(edges)
