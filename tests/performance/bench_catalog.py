"""Catalog benchmark: DynamoDB requests per list page and per transitive traversal, and page depth.

Run alone with ``python -m tests.performance.bench_catalog`` (``make bench`` runs every bench).
Everything runs in-process on moto; items are seeded with ``BatchWriteItem`` straight into the
table (no API, no transactions). DynamoDB requests are counted with a botocore event hook on
``before-call.dynamodb`` (and items read with ``after-call.dynamodb``), registered on the clients of
the catalog's PynamoDB models.

What it shows, as ratios against a baseline measured in the same run:

- requests (and items read) per asset-list page stay constant from 1k to 100k assets, with and
  without filters (the bounded filter loop caps a page at 4 Queries);
- a transitive traversal costs one Query per non-leaf node plus one BatchGetItem per 100 nodes
  (about 0.26 requests per node on a 4-ary tree); a level's reads are in flight together, so with
  each request made to wait a DynamoDB round trip (5 ms; moto in-process answers in CPU time only)
  the walk of 1,000 and of 10,000 nodes takes a fraction of the one-by-one time (printed; moto's
  Query reads the key's partition there, :func:`partition_queries`, not the whole table);
- page 100 costs the same requests as page 1 (a cursor is a key, not an offset). Its *time* on moto
  is not DynamoDB's: moto answers every Query by iterating the whole table, so both pages cost
  O(table) there; on DynamoDB both are one indexed Query.

This is a measurement, not a pass/fail gate. ``BENCH_CATALOG_MAX_ASSETS`` caps the largest studio
(default 100 000, seeded in full with ``BatchWriteItem``, 25 items a request); seeding stops after
``BENCH_CATALOG_SEED_SECONDS`` (default 3600) and the benchmark prints the size it actually used.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

SEED_BATCH = 25
GRAPH_ROUND_TRIP = 0.005  # seconds: a DynamoDB request's network round trip within a region
TYPES = ["CHARACTER", "PROP", "ENVIRONMENT", "SHOT", "RIG", "TEXTURE", "AUDIO", "OTHER"]


@dataclass
class Meter:
    """DynamoDB requests by operation and items read, from botocore events."""

    requests: Counter[str] = field(default_factory=Counter)
    items_read: int = 0
    delay: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def before(self, model: Any = None, **_: Any) -> None:
        with self.lock:
            self.requests[getattr(model, "name", "?")] += 1
        if self.delay:
            time.sleep(self.delay)

    def after(self, parsed: Any = None, **_: Any) -> None:
        if isinstance(parsed, dict):
            with self.lock:
                self.items_read += int(parsed.get("ScannedCount", 0))
                for items in (parsed.get("Responses") or {}).values():
                    self.items_read += len(items)

    @property
    def total(self) -> int:
        return sum(self.requests.values())

    def reset(self) -> None:
        self.requests.clear()
        self.items_read = 0


def _models() -> list[Any]:
    from keyframe.catalog import models
    from keyframe.events.publisher import RoomCounter, RoomEvent
    from keyframe.storage.activity import ActivityItem

    return [
        models.AssetItem,
        models.ProjectItem,
        models.VersionItem,
        models.EdgeItem,
        ActivityItem,
        models.ProjectCodeItem,
        models.UploadRefItem,
        models.GraphLockItem,
        RoomCounter,
        RoomEvent,
    ]


@contextmanager
def fresh_world() -> Iterator[Meter]:
    """A fresh moto world with Keyframe's tables and a request meter hooked into every model."""
    from moto import mock_aws

    from tests.conftest import _reset_pynamodb_connections
    from tests.support import environment
    from tests.support.aws import create_resources

    environment.apply()
    from keyframe import settings

    settings.reset()
    with mock_aws():
        _reset_pynamodb_connections()
        create_resources()
        meter = Meter()
        clients = {
            id(m._get_connection().connection.client): m._get_connection().connection.client
            for m in _models()
        }
        for client in clients.values():
            client.meta.events.register("before-call.dynamodb", meter.before)
            client.meta.events.register("after-call.dynamodb", meter.after)
        yield meter
    _reset_pynamodb_connections()


def _stamp(base: datetime, n: int) -> str:
    return (base + timedelta(milliseconds=n)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _batch_write(items: list[dict[str, Any]]) -> None:
    import boto3

    from keyframe.storage.tables import CATALOG, table_name

    client = boto3.client("dynamodb")
    name = table_name(CATALOG)
    for start in range(0, len(items), SEED_BATCH):
        request = {name: [{"PutRequest": {"Item": item}} for item in items[start : start + SEED_BATCH]]}
        while request:
            request = client.batch_write_item(RequestItems=request).get("UnprocessedItems") or {}


def _asset_item(
    studio_id: str, project_id: str, asset_id: str, n: int, base: datetime, **counts: int
) -> dict:
    from keyframe.catalog.listing import index_attributes
    from keyframe.catalog.models import ASSET_SK, AssetItem, asset_pk

    stamp = _stamp(base, n)
    name = f"asset {n:06d}"
    item = AssetItem(
        asset_pk(studio_id, asset_id),
        ASSET_SK,
        asset_id=asset_id,
        studio_id=studio_id,
        project_id=project_id,
        name=name,
        name_key=name,
        type=TYPES[n % len(TYPES)],
        tags=["hero"] if n % 10 == 0 else [],
        status="IN_PROGRESS",
        latest_version=0,
        outdated={},
        archived=False,
        created_by="bench",
        created_at=stamp,
        updated_at=stamp,
        revision=1,
        dependency_count=counts.get("dependencies", 0),
        dependent_count=counts.get("dependents", 0),
        **index_attributes(
            studio_id, project_id, asset_id, created_at=stamp, updated_at=stamp, name_key=name
        ),
    )
    return item.serialize()


def _project(studio_id: str, code: str) -> str:
    from keyframe.catalog import projects
    from keyframe.catalog.schemas import ProjectCreate

    return projects.create_project(studio_id, "bench", ProjectCreate(name=code, code=code)).id


@contextmanager
def fast_item_size_check() -> Iterator[None]:
    """While seeding: skip moto's per-attribute item size check, which re-measures the whole item for
    every attribute set (quadratic; 75% of the seed's time). The seed's items are a few hundred bytes,
    far below DynamoDB's 400 KB, so nothing it would refuse gets in; every item still goes through
    ``BatchWriteItem``."""
    from moto.dynamodb.models import dynamo_type

    checked = dynamo_type.LimitedSizeDict.__setitem__
    dynamo_type.LimitedSizeDict.__setitem__ = dict.__setitem__  # type: ignore[method-assign]
    try:
        yield
    finally:
        dynamo_type.LimitedSizeDict.__setitem__ = checked  # type: ignore[method-assign]


@contextmanager
def partition_queries() -> Iterator[None]:
    """Let moto answer a base-table Query from the key's partition, as DynamoDB does.

    moto 5.2.5 answers every base-table Query by sorting and scanning the whole table (O(table) per
    request): a walk of 10,000 nodes over 30,000 items would take hours there and measure moto.
    Inside this block, a Query on the table's own key reads only the items of that partition (the
    same items, in the same order, through moto's own code after that first step). Index queries are
    unchanged.
    """
    from moto.dynamodb.models.table import Table

    local = threading.local()
    real_query, real_all_items = Table.query, Table.all_items

    def all_items(self: Any) -> Any:
        override = getattr(local, "partition", None)
        return override[1] if override is not None and override[0] is self else real_all_items(self)

    def query(self: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        index_name = args[6] if len(args) > 6 else kwargs.get("index_name")
        if index_name or hash_key is None or not self.range_key_attr:
            return real_query(self, hash_key, *args, **kwargs)
        partition = self.items.get(hash_key, {})
        local.partition = (self, [partition[k] for k in sorted(partition)])
        try:
            return real_query(self, hash_key, *args, **kwargs)
        finally:
            local.partition = None

    Table.query, Table.all_items = query, all_items  # type: ignore[method-assign]
    try:
        yield
    finally:
        Table.query, Table.all_items = real_query, real_all_items  # type: ignore[method-assign]


def seed_studio(studio_id: str, size: int, budget_seconds: float) -> tuple[int, list[str]]:
    """``size`` assets over 10 projects (as many as fit in ``budget_seconds``); returns (seeded, projects)."""
    project_ids = [_project(studio_id, f"P{i}") for i in range(10)]
    base = datetime(2026, 1, 1, tzinfo=UTC)
    started = time.perf_counter()
    seeded = 0
    chunk = 2_000
    while seeded < size and time.perf_counter() - started < budget_seconds:
        batch = [
            _asset_item(studio_id, project_ids[n % 10], f"a{n:07d}", n, base)
            for n in range(seeded, min(size, seeded + chunk))
        ]
        with fast_item_size_check():
            _batch_write(batch)
        seeded += len(batch)
    return seeded, project_ids


def seed_tree(studio_id: str, size: int, fan_out: int = 4) -> str:
    """A ``fan_out``-ary tree of ``size`` assets: asset ``i`` uses asset ``(i - 1) // fan_out``.

    Returns the root, whose dependents closure is every other asset.
    """
    from keyframe.catalog.models import EdgeItem, asset_pk, dependency_sk, dependent_sk

    project_id = _project(studio_id, "TREE")
    base = datetime(2026, 1, 1, tzinfo=UTC)
    ids = [f"n{i:06d}" for i in range(size)]
    children = Counter((i - 1) // fan_out for i in range(1, size))
    items = [
        _asset_item(studio_id, project_id, ids[i], i, base, dependencies=int(i > 0), dependents=children[i])
        for i in range(size)
    ]
    for i in range(1, size):
        source, target = ids[i], ids[(i - 1) // fan_out]
        common = {
            "source_id": source,
            "target_id": target,
            "source_project_id": project_id,
            "target_project_id": project_id,
            "created_by": "bench",
            "created_at": "t",
            "updated_at": "t",
        }
        items.append(EdgeItem(asset_pk(studio_id, source), dependency_sk(target), **common).serialize())
        items.append(EdgeItem(asset_pk(studio_id, target), dependent_sk(source), **common).serialize())
    with fast_item_size_check():
        _batch_write(items)
    return ids[0]


def measure_list_pages(meter: Meter, studio_id: str, project_id: str) -> dict[str, tuple[int, int]]:
    """Requests and items read for one page of each kind of asset list."""
    from keyframe.catalog.listing import list_assets

    kinds = {
        "studio, newest first": {},
        "project, by name": {"project_id": project_id, "sort": "name"},
        "type filter": {"type": "RIG"},
        "tag + type filter (sparse)": {"tag": "hero", "type": "AUDIO"},
        "name prefix": {"q": "asset 00001", "sort": "name"},
    }
    results = {}
    for label, query in kinds.items():
        meter.reset()
        list_assets(studio_id, limit=25, **query)
        results[label] = (meter.total, meter.items_read)
    return results


def time_page(studio_id: str, cursor: str | None) -> tuple[float, str | None]:
    from keyframe.catalog.listing import list_assets

    started = time.perf_counter()
    page = list_assets(studio_id, limit=25, cursor=cursor)
    return time.perf_counter() - started, page.next_cursor


def page_cursor(studio_id: str, seeded: int, page: int) -> str:
    """The cursor a client holds after ``page - 1`` pages of 25, newest first (built from the seed
    order, so page 100 is reached without walking 99 pages on moto)."""
    from keyframe.catalog.listing import studio_partition
    from keyframe.catalog.models import ASSET_SK, asset_pk
    from keyframe.storage import cursors

    n = seeded - 25 * (page - 1)  # the last item of the previous page, newest first
    asset_id = f"a{n:07d}"
    stamp = _stamp(datetime(2026, 1, 1, tzinfo=UTC), n)
    key = {
        "pk": {"S": asset_pk(studio_id, asset_id)},
        "sk": {"S": ASSET_SK},
        "gsi1pk": {"S": studio_partition(studio_id)},
        "gsi1sk": {"S": f"{stamp}#{asset_id}"},
    }
    scope = cursors.scope_of("assets", sort="createdAt", order="desc")
    return cursors.encode(key, studio_id=studio_id, scope=scope)


def listing_section(sizes: list[int], budget: float) -> None:
    print("\n== Asset list: DynamoDB requests (items read) per page of 25 ==")
    baseline: dict[str, int] | None = None
    for size in sizes:
        with fresh_world() as meter:
            studio_id = uuid.uuid4().hex
            started = time.perf_counter()
            seeded, project_ids = seed_studio(studio_id, size, budget)
            seed_time = time.perf_counter() - started
            results = measure_list_pages(meter, studio_id, project_ids[0])
            if baseline is None:
                baseline = {k: v[0] for k, v in results.items()}
            print(f"-- studio of {seeded:,} assets (asked {size:,}; seeded in {seed_time:.1f} s)")
            for label, (requests, read) in results.items():
                ratio = requests / baseline[label]
                print(f"   {label:<30} {requests} requests ({read:>4} items read)  x{ratio:.2f}")
            if seeded >= 25 * 100 + 1:
                first, _ = time_page(studio_id, None)
                meter.reset()
                hundredth, _ = time_page(studio_id, page_cursor(studio_id, seeded, 100))
                print(
                    f"   page 1: {first * 1000:.0f} ms, page 100: {hundredth * 1000:.0f} ms "
                    f"(ratio x{hundredth / first:.2f}; page 100 made {meter.total} request(s))"
                )


@contextmanager
def round_trip(meter: Meter, seconds: float) -> Iterator[None]:
    """Make every DynamoDB request wait ``seconds`` first, as a network round trip to DynamoDB does
    (moto in-process answers in CPU time only, so parallel reads could not show what they save)."""
    meter.delay = seconds
    try:
        yield
    finally:
        meter.delay = 0.0


def _timed_walk(meter: Meter, studio_id: str, root: str, max_nodes: int, workers: int) -> tuple[Any, float]:
    from keyframe.catalog import graph_walk as graph
    from keyframe.catalog.models import ASSET_SK, AssetItem, asset_pk

    item = AssetItem.get(asset_pk(studio_id, root), ASSET_SK)
    previous = graph.WALK_WORKERS
    graph.WALK_WORKERS = workers
    meter.reset()
    started = time.perf_counter()
    try:
        walk = graph._walk(studio_id, item, graph.DEPENDENTS, max_depth=graph.MAX_DEPTH, max_nodes=max_nodes)
    finally:
        graph.WALK_WORKERS = previous
    return walk, time.perf_counter() - started


def graph_section(sizes: list[int]) -> None:
    """Impact sets of the root of a 4-ary tree: requests per node and wall time, parallel vs one by one."""
    from keyframe.catalog import graph_walk as graph

    print(
        "\n== Transitive dependents of the root of a 4-ary tree (the impact set): requests per node and "
        f"wall time, each DynamoDB request made to wait {GRAPH_ROUND_TRIP * 1000:.0f} ms (a round trip) =="
    )
    for size in sizes:
        with fresh_world() as meter:
            studio_id = uuid.uuid4().hex
            started = time.perf_counter()
            root = seed_tree(studio_id, size)
            print(f"-- graph of {size:,} assets seeded in {time.perf_counter() - started:.1f} s")
            # the whole closure: the walk the cycle check makes (bounded at 10,000 nodes; the API's
            # impact set stops at maxNodes <= 2000 and says truncated)
            for max_nodes in (size,):
                times = {}
                with partition_queries(), round_trip(meter, GRAPH_ROUND_TRIP):
                    for workers in (graph.WALK_WORKERS, 1):
                        walk, times[workers] = _timed_walk(meter, studio_id, root, max_nodes, workers)
                nodes = len(walk.reached)
                ops = ", ".join(f"{op} {n}" for op, n in sorted(meter.requests.items()))
                depth = max(r.depth for r in walk.reached.values())
                parallel, sequential = times[graph.WALK_WORKERS], times[1]
                print(
                    f"   {size:>6,} assets, maxNodes {max_nodes:>6,}: {nodes:>6,} nodes, depth {depth}, "
                    f"truncated={walk.truncated}; {meter.total} requests ({ops}) = "
                    f"{meter.total / max(1, nodes):.3f} requests/node; wall time {parallel:.2f} s with "
                    f"{graph.WALK_WORKERS} reads in flight vs {sequential:.2f} s one by one "
                    f"(x{sequential / parallel:.1f} faster)"
                )


def main() -> None:
    """Run the catalog benchmark and print its table."""
    largest = int(os.environ.get("BENCH_CATALOG_MAX_ASSETS", "100000"))
    budget = float(os.environ.get("BENCH_CATALOG_SEED_SECONDS", "3600"))
    sizes = [s for s in (1_000, 10_000, 100_000) if s <= largest] or [largest]
    print("Catalog benchmark (moto in-process; requests counted with a botocore before-call hook)")
    listing_section(sizes, budget)
    graph_section([s for s in (1_000, 10_000) if s <= largest] or [largest])


if __name__ == "__main__":
    main()
