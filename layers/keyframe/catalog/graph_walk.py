"""Reading the dependency graph: edges, bounded walks (:func:`traverse`) and the cycle check.

Traversal (:func:`traverse`) goes level by level: one Query per node of the frontier that has edges
(nodes with a zero count cost nothing) and one ``BatchGetItem`` per 100 newly reached nodes for
their names, types and counts; a level's reads run in parallel (:data:`WALK_WORKERS` at a time), so
a walk waits for about one round trip per level rather than one per node. It is bounded in depth
(default 10, max 20) and in nodes (default 500, max 2000) and says ``truncated: true`` when a bound
cut it short. The dependents closure is the impact set of a change.

Writing edges is :mod:`keyframe.catalog.graph` (which re-exports the names here).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TypeVar

from keyframe.catalog.assets import load_asset
from keyframe.catalog.models import (
    ASSET_SK,
    DEPENDENCY_PREFIX,
    DEPENDENT_PREFIX,
    AssetItem,
    EdgeItem,
    asset_pk,
)
from keyframe.catalog.schemas import (
    DEFAULT_MAX_DEPTH,
    DEFAULT_MAX_NODES,
    MAX_DEPTH,
    MAX_NODES,
    AssetStatus,
    AssetType,
    GraphLimits,
    GraphNode,
    GraphResult,
    Relationship,
)
from keyframe.errors import Conflict, InvalidInput, field_details

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


def edges_of(studio_id: str, asset_id: str, prefix: str) -> Iterable[EdgeItem]:
    """Every edge item of one direction under ``asset_id`` (one Query, paged by DynamoDB if huge)."""
    return EdgeItem.query(asset_pk(studio_id, asset_id), EdgeItem.sk.startswith(prefix))


def relationship_of(edge: EdgeItem) -> Relationship:
    """An edge's relationship (``REFERENCES`` for edges stored before relationships existed)."""
    try:
        return Relationship(edge.relationship) if edge.relationship else Relationship.REFERENCES
    except ValueError:
        return Relationship.REFERENCES


def _parallel(read: Callable[[T], R], inputs: list[T]) -> list[R]:
    """``[read(x) for x in inputs]``, up to :data:`WALK_WORKERS` at a time (in order; one input inline).

    DynamoDB answers each read in milliseconds of network wait, so a level's reads overlap instead
    of queueing; the bound keeps one walk from taking every connection of the client's pool (10).
    """
    if len(inputs) <= 1:
        return [read(x) for x in inputs]
    with ThreadPoolExecutor(min(WALK_WORKERS, len(inputs)), thread_name_prefix="graph-walk") as pool:
        return list(pool.map(read, inputs))


def batch_assets(studio_id: str, asset_ids: list[str]) -> dict[str, AssetItem]:
    """Asset items by id with ``BatchGetItem`` (100 keys per request, the requests in parallel);
    unknown ids are absent."""
    chunks = [asset_ids[start : start + BATCH_GET_SIZE] for start in range(0, len(asset_ids), BATCH_GET_SIZE)]

    def read(chunk: list[str]) -> list[AssetItem]:
        return list(AssetItem.batch_get([(asset_pk(studio_id, a), ASSET_SK) for a in chunk]))

    return {item.asset_id: item for items in _parallel(read, chunks) for item in items}


def _edge_list(walk: _Walk, node: AssetItem) -> list[EdgeItem]:
    return list(edges_of(walk.studio_id, node.asset_id, walk.prefix))


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
        items = batch_assets(studio_id, new_ids)
        for asset_id, item in items.items():
            walk.reached[asset_id].item = item
        frontier = [items[a] for a in new_ids if a in items]
        if walk.truncated or not frontier:
            return walk
    # depth bound reached: truncated if any node of the last level has further edges
    walk.truncated = any(walk.has_edges(node) for node in frontier)
    return walk


def impact_set(studio_id: str, asset_id: str, *, max_nodes: int = DEFAULT_MAX_NODES) -> list[AssetItem]:
    """The asset and every asset that uses it, transitively (nearest first), as stored items.

    The same walk as :func:`traverse` in the ``dependents`` direction (up to :data:`MAX_DEPTH` levels
    and ``max_nodes`` nodes), for callers that need the assets' own fields (their opt-ins, current
    versions); a node cut off by a bound is left out.

    Raises
    ------
    NotFound
        Unknown asset (or another studio's).
    """
    root = load_asset(studio_id, asset_id)
    walk = _walk(studio_id, root, DEPENDENTS, max_depth=MAX_DEPTH, max_nodes=max_nodes)
    reached = sorted(walk.reached.items(), key=lambda kv: (kv[1].depth, kv[1].path))
    return [root, *(r.item for _, r in reached if r.item is not None)]


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
                relationship=relationship_of(edge) if edge else None,
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
