"""Make moto's DynamoDB ``Query`` read the items it can match, not the whole table.

moto (5.2) answers every ``Query`` by sorting *all* the table's items (``Table.all_items``, a sort
whose every comparison recomputes moto's typed values) and only then keeping those with the asked
partition key. So a query costs time in proportion to the whole table, and the local stack slows
down as its data grows: in a py-spy profile of the local stack under the e2e tests, 18 % of the
emulator process's samples were in that sort and filter. DynamoDB reads one partition.

With :func:`queries_read_what_they_match` applied:

- a query on the table reads its partition (``Table.items[partition key]``);
- a query on an index whose partition key is asked as a string reads the items filed under that
  string in the index's map (:class:`_IndexMap`, one per table and attribute, built on the first such
  query), plus those whose attribute has another type (moto's to judge);
- any other query on an index reads the items unsorted and skips those that lack its partition key,
  or whose string partition key differs from the asked one.

An index map is kept up to date by the requests themselves: after every ``PutItem``, ``UpdateItem``,
``DeleteItem``, ``BatchWriteItem`` and ``TransactWriteItems`` (failed ones too: a cancelled
transaction is rolled back by then), under the one DynamoDB lock
(:func:`keyframe.local.atomic.after_each_request`), each
item key the request names is filed again as the table now holds it. Any other request that is not a
known read forgets every map (they are built again when next needed), and so does
:func:`forget_index_maps`, which whoever writes ``Table.items`` directly calls (the snapshot
restore). A candidate the map holds is also checked to be the item the table holds now.

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
import weakref
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.dynamodb.models.table import Table
from moto.dynamodb.responses import DynamoHandler

from keyframe.local.atomic import after_each_request, make_dynamodb_atomic, serialised

_candidates: ContextVar[tuple[Table, list[Item]] | None] = ContextVar(
    "keyframe_query_candidates", default=None
)
_narrowing: ContextVar[bool] = ContextVar("keyframe_query_narrowing", default=True)
_state = {"applied": False}


def queries_read_what_they_match() -> None:
    """Patch moto's ``Table.query`` so that it considers only its candidates (idempotent, process-wide).

    Makes moto's DynamoDB atomic first (:func:`keyframe.local.atomic.make_dynamodb_atomic`): the index
    maps are read and filed again under its one lock, after each request."""
    if _state["applied"]:
        return
    make_dynamodb_atomic()
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
    after_each_request(_file_again_or_forget)
    _state["applied"] = True


def forget_index_maps() -> None:
    """Forget every index map (each is built again on its next query): call it after writing
    ``Table.items`` without a DynamoDB request."""
    with serialised():
        _maps.clear()


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
        name, value = wanted[0]
        return _index_map(table, name).candidates(table, value.value)
    return [item for item in _every_item(table) if all(_may_equal(item, name, v) for name, v in wanted)]


_Key = tuple[DynamoType, DynamoType | None]
_maps: weakref.WeakKeyDictionary[Table, dict[str, _IndexMap]] = weakref.WeakKeyDictionary()
ITEM_WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"})
"""Requests after which the item keys they name are filed again in the index maps."""
READS = frozenset(
    {
        "GetItem", "BatchGetItem", "Query", "Scan", "TransactGetItems", "DescribeTable", "ListTables",
        "DescribeTimeToLive", "DescribeContinuousBackups", "ListTagsOfResource", "DescribeEndpoints",
        "DescribeLimits",
    }
)  # fmt: skip
"""Requests that change no item: every other one forgets the index maps."""


class _IndexMap:
    """The items of one table by the string value of one attribute (an index's partition key).

    ``by_value`` files the items whose attribute is a string under it; ``others`` holds those whose
    attribute has another type (a query asking a string never matches them, but moto judges);
    ``filed`` says where each item key is. Read and changed under the DynamoDB lock only.
    """

    def __init__(self, table: Table, name: str) -> None:
        self.name = name
        self.by_value: dict[Any, dict[_Key, Item]] = {}
        self.others: dict[_Key, Item] = {}
        self.filed: dict[_Key, Any] = {}
        for item in _every_item(table):
            self.file((item.hash_key, item.range_key), item)

    def file(self, key: _Key, item: Item | None) -> None:
        """File ``item`` under ``key`` (``None``: the table no longer holds one), replacing what was."""
        if key in self.filed:
            where = self.filed.pop(key)
            bucket = self.others if where is _OTHER else self.by_value[where]
            bucket.pop(key, None)
            if where is not _OTHER and not bucket:
                del self.by_value[where]
        attribute = None if item is None else item.attrs.get(self.name)
        if item is None or attribute is None:
            return
        if attribute.type == "S":
            self.by_value.setdefault(attribute.value, {})[key] = item
            self.filed[key] = attribute.value
        else:
            self.others[key] = item
            self.filed[key] = _OTHER

    def candidates(self, table: Table, value: str) -> list[Item]:
        """The items filed under ``value`` and those of another type, each still the one ``table``
        holds."""
        found = [*self.by_value.get(value, {}).values(), *self.others.values()]
        return [item for item in found if _held(table, item)]


_OTHER = object()


def _index_map(table: Table, name: str) -> _IndexMap:
    maps = _maps.setdefault(table, {})
    if name not in maps:
        maps[name] = _IndexMap(table, name)
    return maps[name]


def _stored(table: Table, key: _Key) -> Item | None:
    """The item ``table`` holds under ``key``, if any (without moto's ``get_item``, which adds an
    empty partition for a missing one)."""
    partition = table.items.get(key[0])
    return partition.get(key[1]) if isinstance(partition, dict) else partition


def _held(table: Table, item: Item) -> bool:
    """True when ``item`` is the object ``table`` holds under its keys."""
    return _stored(table, (item.hash_key, item.range_key)) is item


def _file_again_or_forget(handler: DynamoHandler) -> None:
    """:func:`_file_again`; if that fails, forget every map (built again when next needed)."""
    try:
        _file_again(handler)
    except Exception:
        _maps.clear()
        raise


def _file_again(handler: DynamoHandler) -> None:
    """After a request: file the item keys a write named again in their tables' maps; after a request
    that is neither such a write nor a known read, forget every map."""
    if not _maps:
        return
    action = handler._get_action()
    if action in READS:
        return
    body = handler.body
    if action not in ITEM_WRITES or not isinstance(body, dict):
        _maps.clear()
        return
    backend = handler.dynamodb_backend
    for table_name, attributes in _named_keys(action, body):
        try:
            table = backend.get_table(table_name)  # by name or by ARN, as moto resolves it
        except Exception:  # no such table: moto refused the write; start over to be safe
            _maps.clear()
            return
        maps = _maps.get(table)
        if not maps:
            continue
        try:
            key = _key_of(table, attributes)
        except (KeyError, TypeError, AttributeError):  # a malformed request moto refused: start over
            maps.clear()
            continue
        item = _stored(table, key)
        for index_map in maps.values():
            index_map.file(key, item)


def _named_keys(action: str, body: dict[str, Any]) -> Iterable[tuple[Any, dict[str, Any]]]:
    """``(table name, the item or key attributes)`` of each item a write request names."""
    if action == "BatchWriteItem":
        for table_name, requests in (body.get("RequestItems") or {}).items():
            for request in requests:
                put, delete = request.get("PutRequest"), request.get("DeleteRequest")
                yield table_name, (put or {}).get("Item") or (delete or {}).get("Key") or {}
    elif action == "TransactWriteItems":
        for entry in body.get("TransactItems") or []:
            for kind in ("Put", "Update", "Delete"):
                if kind in entry:
                    operation = entry[kind]
                    yield operation.get("TableName"), operation.get("Item") or operation.get("Key") or {}
    else:
        yield body.get("TableName"), body.get("Item") or body.get("Key") or {}


def _key_of(table: Table, attributes: dict[str, Any]) -> _Key:
    hash_key = DynamoType(attributes[table.hash_key_attr])
    range_key = DynamoType(attributes[table.range_key_attr]) if table.range_key_attr else None
    return hash_key, range_key


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
