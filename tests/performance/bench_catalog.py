"""Catalog benchmark: DynamoDB requests per list page and per transitive traversal, and page depth.

Run alone with ``python -m tests.performance.bench_catalog`` (``make bench`` runs every bench).
Everything runs in-process on moto; items are seeded with ``BatchWriteItem`` straight into the
table (no API, no transactions). DynamoDB requests are counted with a botocore event hook on
``before-call.dynamodb`` (and items read with ``after-call.dynamodb``), registered on the clients of
the catalog's PynamoDB models.

What it shows, as ratios against a baseline measured in the same run:

- requests (and items read) per asset-list page stay constant from 1k to 100k assets, with and
  without filters (the bounded filter loop caps a page at 4 Queries);
- a transitive traversal costs one Query per non-leaf node plus one BatchGetItem per 100 nodes,
  and stays bounded on a 10k-asset graph (``maxNodes``);
- page 100 costs the same requests as page 1 (a cursor is a key, not an offset). Its *time* on moto
  is not DynamoDB's: moto answers every Query by iterating the whole table, so both pages cost
  O(table) there; on DynamoDB both are one indexed Query.

This is a measurement, not a pass/fail gate. ``BENCH_CATALOG_MAX_ASSETS`` caps the largest studio
(default 100 000); seeding stops after ``BENCH_CATALOG_SEED_SECONDS`` (default 120) and the
benchmark prints the size it actually used.
"""

from __future__ import annotations

import os
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

SEED_BATCH = 25
TYPES = ["CHARACTER", "PROP", "ENVIRONMENT", "SHOT", "RIG", "TEXTURE", "AUDIO", "OTHER"]


@dataclass
class Meter:
    """DynamoDB requests by operation and items read, from botocore events."""

    requests: Counter[str] = field(default_factory=Counter)
    items_read: int = 0

    def before(self, model: Any = None, **_: Any) -> None:
        self.requests[getattr(model, "name", "?")] += 1

    def after(self, parsed: Any = None, **_: Any) -> None:
        if isinstance(parsed, dict):
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


def graph_section(sizes: list[int]) -> None:
    from keyframe.catalog import graph

    print("\n== Transitive dependents of the root of a 4-ary tree (the impact set) ==")
    baseline: float | None = None
    for size in sizes:
        with fresh_world() as meter:
            studio_id = uuid.uuid4().hex
            started = time.perf_counter()
            root = seed_tree(studio_id, size)
            print(f"-- graph of {size:,} assets seeded in {time.perf_counter() - started:.1f} s")
            # the whole closure where it fits in maxNodes; on the big graph the default bound suffices
            # to show the cap (moto answers each Query in O(table), so more nodes cost minutes there)
            bounds = [graph.DEFAULT_MAX_NODES] + ([graph.MAX_NODES] if size <= graph.MAX_NODES else [])
            for max_nodes in bounds:
                meter.reset()
                started = time.perf_counter()
                result = graph.traverse(
                    studio_id,
                    root,
                    graph.DEPENDENTS,
                    transitive=True,
                    max_depth=graph.MAX_DEPTH,
                    max_nodes=max_nodes,
                )
                elapsed = time.perf_counter() - started
                per_node = meter.total / max(1, len(result.items))
                if baseline is None:
                    baseline = per_node
                ops = ", ".join(f"{op} {n}" for op, n in sorted(meter.requests.items()))
                print(
                    f"   graph of {size:>6,} assets, maxNodes {max_nodes:>4}: {len(result.items):>4} nodes, "
                    f"depth {max(n.depth for n in result.items)}, truncated={result.truncated}, "
                    f"{meter.total} requests ({ops}); {per_node:.3f} requests/node "
                    f"(x{per_node / baseline:.2f}); {elapsed:.1f} s on moto"
                )


def main() -> None:
    """Run the catalog benchmark and print its table."""
    largest = int(os.environ.get("BENCH_CATALOG_MAX_ASSETS", "100000"))
    budget = float(os.environ.get("BENCH_CATALOG_SEED_SECONDS", "120"))
    sizes = [s for s in (1_000, 10_000, 100_000) if s <= largest] or [largest]
    print("Catalog benchmark (moto in-process; requests counted with a botocore before-call hook)")
    listing_section(sizes, budget)
    graph_section([s for s in (1_000, 10_000) if s <= largest] or [largest])


if __name__ == "__main__":
    main()
