"""Make moto's DynamoDB ``Query`` read the items it can match, not the whole table.

moto (5.2) answers every ``Query`` by sorting *all* the table's items (``Table.all_items``, a sort
whose every comparison recomputes moto's typed values) and only then keeping those with the asked
partition key. So a query costs time in proportion to the whole table, and the local stack slows
down as its data grows: in a py-spy profile of the local stack under the e2e tests, 18 % of the
emulator process's samples were in that sort and filter. DynamoDB reads one partition.

With :func:`queries_read_what_they_match` applied:

- a query on the table reads its partition (``Table.items[partition key]``);
- a query on an index reads the items unsorted and skips those that lack its partition key, or
  whose string partition key differs from the asked one.

moto then runs its own query on those candidates exactly as before: it keeps what matches, sorts
the matches by the index's keys and then the table's keys (a total order, so the candidates' order
does not matter), pages, projects and filters. The answer (items, their order, ``Count``,
``ScannedCount``, ``LastEvaluatedKey``) is the one moto gives on the whole table:
``tests/integration/local/test_dynamodb_queries.py`` compares both on random tables and queries.
Scans and every other operation are untouched. The local stack's emulator
(:func:`keyframe.local.emulator.moto_app`) and the test worlds (``tests/support/aws.py``) apply it.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.dynamodb.models.table import Table

_candidates: ContextVar[tuple[Table, list[Item]] | None] = ContextVar(
    "keyframe_query_candidates", default=None
)
_narrowing: ContextVar[bool] = ContextVar("keyframe_query_narrowing", default=True)
_state = {"applied": False}


def queries_read_what_they_match() -> None:
    """Patch moto's ``Table.query`` so that it considers only its candidates (idempotent, process-wide)."""
    if _state["applied"]:
        return
    original_query = Table.query
    original_all_items = Table.all_items
    signature = inspect.signature(original_query)

    @functools.wraps(original_all_items)
    def all_items(self: Table) -> list[Item]:
        narrowed = _candidates.get()
        if narrowed is not None and narrowed[0] is self:
            return narrowed[1]
        return original_all_items(self)

    @functools.wraps(original_query)
    def query(self: Table, *args: Any, **kwargs: Any) -> Any:
        if not _narrowing.get():
            return original_query(self, *args, **kwargs)
        asked = signature.bind(self, *args, **kwargs).arguments
        found = _read(self, asked.get("hash_key"), asked.get("index_name"), asked.get("hash_key_conditions"))
        token = _candidates.set((self, found))
        try:
            return original_query(self, *args, **kwargs)
        finally:
            _candidates.reset(token)

    Table.all_items = all_items  # type: ignore[method-assign]
    Table.query = query  # type: ignore[method-assign]
    _state["applied"] = True


@contextmanager
def moto_own_reads() -> Iterator[None]:
    """Within the block, queries in this context read the whole table as moto does (for comparisons)."""
    token = _narrowing.set(False)
    try:
        yield
    finally:
        _narrowing.reset(token)


def _read(
    table: Table,
    hash_key: DynamoType | None,
    index_name: str | None,
    conditions: list[tuple[str, DynamoType]] | None,
) -> list[Item]:
    """The items a query can match: a superset of moto's matches, in no particular order."""
    if not index_name:
        if hash_key is None:
            return _every_item(table)
        partition = table.items.get(hash_key)
        if partition is None:
            return []
        return list(partition.values()) if isinstance(partition, dict) else [partition]
    wanted = conditions or []
    if len(wanted) == 1 and wanted[0][1].type == "S":  # every Keyframe index: one string partition key
        return _items_with_string(table, *wanted[0])
    return [item for item in _every_item(table) if all(_may_equal(item, name, v) for name, v in wanted)]


def _items_with_string(table: Table, name: str, value: DynamoType) -> list[Item]:
    """The items whose ``name`` is the string ``value`` or of another type (moto's to judge): what
    :func:`_may_equal` keeps, in one pass without a call per item (about 3x faster)."""
    asked = value.value
    found: list[Item] = []
    keep = found.append
    for partition in table.items.values():
        for item in partition.values() if isinstance(partition, dict) else (partition,):
            attribute = item.attrs.get(name)
            if attribute is not None and (attribute.value == asked or attribute.type != "S"):
                keep(item)
    return found


def _every_item(table: Table) -> list[Item]:
    """Every item of ``table``, unsorted (moto's ``all_items`` without its sort)."""
    items: list[Item] = []
    for partition in table.items.values():
        if isinstance(partition, dict):
            items.extend(partition.values())
        else:
            items.append(partition)
    return items


def _may_equal(item: Item, name: str, value: DynamoType) -> bool:
    """False only where moto's own test fails too: the attribute is missing, or both are strings
    that differ (numbers are left to moto, which compares them as decimals: ``2`` = ``2.0``)."""
    found = item.attrs.get(name)
    if found is None:
        return False
    return found.type != "S" or value.type != "S" or found.value == value.value
