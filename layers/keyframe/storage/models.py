"""PynamoDB base classes bound to the table specs in :mod:`keyframe.storage.tables`.

Models never hard-code a table name: ``Meta.table_name`` is read from the spec's environment
variable each time PynamoDB asks, so tests and the local stack can point models at any table and a
missing variable fails loudly (``KeyError``) on first use instead of at import.
"""

from __future__ import annotations

import os
import threading
from typing import Any

import botocore.session
import pynamodb.connection.base
from pynamodb.attributes import UnicodeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex

from keyframe.storage.tables import TableSpec


class _SharedSession(botocore.session.Session):
    """A botocore session every thread may build clients from: one client at a time."""

    def __init__(self) -> None:
        super().__init__()
        self._building = threading.Lock()

    def create_client(self, *args: Any, **kwargs: Any) -> Any:
        with self._building:
            return super().create_client(*args, **kwargs)


_shared: list[_SharedSession] = []  # made on first use, not at import (8 ms)
_shared_lock = threading.Lock()


def _shared_botocore_session() -> botocore.session.Session:
    """One botocore session for every PynamoDB model, in every thread of the process.

    PynamoDB opens a new botocore session per model class (and per thread), and each re-parses
    botocore's service models (about 0.1-0.15 s apiece): with a dozen models, or a model first used
    on a worker thread (:func:`keyframe.storage.together`), that is Lambda cold start spent again.
    PynamoDB only builds its one client per model from it (under the session's lock); the clients
    are thread-safe.
    """
    with _shared_lock:
        if not _shared:
            _shared.append(_SharedSession())
        return _shared[0]


pynamodb.connection.base.get_session = _shared_botocore_session


class EnvTableName:
    """Descriptor giving the physical table name of a spec from the environment, lazily."""

    def __init__(self, spec: TableSpec) -> None:
        self.spec = spec

    def __get__(self, obj: Any, owner: Any) -> str:
        return os.environ[self.spec.env_var]


class EnvRegion:
    """Descriptor giving the AWS region from the environment, lazily (Lambda sets AWS_REGION)."""

    def __get__(self, obj: Any, owner: Any) -> str | None:
        return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")


def table_meta(spec: TableSpec) -> Any:
    """Return a PynamoDB ``Meta`` class bound to ``spec``.

    Usage::

        class StudioItem(Model):
            Meta = table_meta(TENANTS)
    """

    class Meta:
        table_name = EnvTableName(spec)
        region = EnvRegion()
        host = None
        spec_key = spec.key

    return Meta


def gsi(spec: TableSpec, number: int) -> type[GlobalSecondaryIndex]:
    """Return a PynamoDB GSI class for ``gsi{number}`` of ``spec`` (keys ``gsiNpk``/``gsiNsk``).

    Each model that uses the index declares it as ``gsi1 = gsi(TENANTS, 1)()`` and the matching
    ``gsi1pk``/``gsi1sk`` attributes; ``tests/unit/test_table_schemas.py`` checks it against the spec.
    """
    index = next(i for i in spec.indexes if i.name == f"gsi{number}")

    class Meta:
        index_name = index.name
        projection = AllProjection()

    namespace: dict[str, Any] = {
        "Meta": Meta,
        index.partition_key: UnicodeAttribute(hash_key=True, attr_name=index.partition_key),
    }
    if index.sort_key:
        namespace[index.sort_key] = UnicodeAttribute(range_key=True, attr_name=index.sort_key)
    return type(f"{spec.key.title()}Gsi{number}", (GlobalSecondaryIndex,), namespace)
