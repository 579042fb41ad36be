"""The one schema source of every DynamoDB table.

``TABLES`` is read by three consumers that must never drift:

- ``infra/`` builds each ``aws_dynamodb.TableV2`` from it (keys, GSIs, TTL, streams);
- ``keyframe.local`` and the integration tests create the tables on moto from
  :func:`create_table_request`;
- ``tests/unit/test_table_schemas.py`` proves every PynamoDB model's keys and indexes match it.

All key attributes are strings. Partition/sort keys are named ``pk``/``sk`` and overloaded GSIs
``gsi1``…``gsiN`` with ``gsiNpk``/``gsiNsk`` attributes, so one table serves several entity types
(single-table design per domain). Every item key of a studio begins with ``STUDIO#{studioId}``, which
is how tenancy is enforced in the data layer. The only exceptions are lookups made before any studio
is known, each of which stores and checks the studio it belongs to: ``USER#``, ``EMAIL#``,
``INVITATION#``, ``REFRESH#``, ``LOGIN#`` (tenants), ``TICKET#`` and ``CONN#`` (live), and the
Powertools idempotency ``id``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class IndexSpec:
    """A global secondary index with string keys and ALL projection."""

    name: str
    partition_key: str
    sort_key: str | None = None


@dataclass(frozen=True)
class TableSpec:
    """A DynamoDB table as Keyframe uses it.

    Attributes
    ----------
    key:
        Short logical name ("tenants"); the CDK construct id and the local physical name derive from it.
    env_var:
        The environment variable through which handlers learn the physical table name.
    partition_key, sort_key:
        Key attribute names (type S).
    indexes:
        Global secondary indexes (type S keys, projection ALL).
    ttl_attribute:
        Number attribute holding an epoch-seconds expiry, or None.
    stream:
        Whether a NEW_AND_OLD_IMAGES stream is enabled.
    """

    key: str
    env_var: str
    partition_key: str = "pk"
    sort_key: str | None = "sk"
    indexes: tuple[IndexSpec, ...] = field(default_factory=tuple)
    ttl_attribute: str | None = None
    stream: bool = False

    def key_attributes(self) -> list[str]:
        """Every attribute name used in the table's or an index's key schema (each once)."""
        names: list[str] = [self.partition_key] + ([self.sort_key] if self.sort_key else [])
        for index in self.indexes:
            for name in (index.partition_key, index.sort_key):
                if name and name not in names:
                    names.append(name)
        return names

    def physical_name(self, stage: str) -> str:
        """The table name used on the local stack and in tests: ``keyframe-{stage}-{key}``."""
        return f"keyframe-{stage}-{self.key}"


def _gsis(count: int) -> tuple[IndexSpec, ...]:
    return tuple(IndexSpec(f"gsi{i}", f"gsi{i}pk", f"gsi{i}sk") for i in range(1, count + 1))


TENANTS = TableSpec(key="tenants", env_var="TENANTS_TABLE", indexes=_gsis(1), ttl_attribute="ttl")
"""Studios, users, memberships, invitations, refresh-token families, login throttling."""

CATALOG = TableSpec(
    key="catalog", env_var="CATALOG_TABLE", indexes=_gsis(6), ttl_attribute="ttl", stream=True
)
"""Projects, assets, versions, dependencies, activity log, the outbox of domain events (kept 7 days,
``ttl``; its stream feeds :mod:`keyframe.outbox.stream`), webhook endpoints and their deliveries."""

UPLOADS = TableSpec(key="uploads", env_var="UPLOADS_TABLE", indexes=_gsis(1), ttl_attribute="ttl")
"""Multipart upload sessions and pipeline step records."""

RENDERS = TableSpec(key="renders", env_var="RENDERS_TABLE", indexes=_gsis(2), ttl_attribute="ttl")
"""Render jobs and per-studio concurrency counters."""

LIVE = TableSpec(key="live", env_var="LIVE_TABLE", indexes=_gsis(1), ttl_attribute="ttl")
"""WebSocket tickets, connections, room memberships, room event logs (24 h), comments."""

IDEMPOTENCY = TableSpec(
    key="idempotency",
    env_var="IDEMPOTENCY_TABLE",
    partition_key="id",
    sort_key=None,
    ttl_attribute="expiration",
)
"""Powertools Idempotency persistence (its own fixed schema: ``id`` + ``expiration``)."""

FAVORITES = TableSpec(key="favorites", env_var="FAVORITES_TABLE", indexes=_gsis(2))
"""Each member's favorite assets and playback positions (``keyframe.favorites``)."""

TABLES: tuple[TableSpec, ...] = (TENANTS, CATALOG, UPLOADS, RENDERS, LIVE, IDEMPOTENCY, FAVORITES)


def table_name(spec: TableSpec) -> str:
    """The physical name of ``spec`` for this process, read from its environment variable.

    Raises
    ------
    KeyError
        If the variable is not set: resource names never have silent defaults.
    """
    return os.environ[spec.env_var]


def create_table_request(spec: TableSpec, name: str) -> dict[str, Any]:
    """The boto3 ``dynamodb.create_table`` arguments for ``spec`` named ``name`` (on-demand billing)."""
    key_schema = [{"AttributeName": spec.partition_key, "KeyType": "HASH"}]
    if spec.sort_key:
        key_schema.append({"AttributeName": spec.sort_key, "KeyType": "RANGE"})
    request: dict[str, Any] = {
        "TableName": name,
        "BillingMode": "PAY_PER_REQUEST",
        "KeySchema": key_schema,
        "AttributeDefinitions": [
            {"AttributeName": attr, "AttributeType": "S"} for attr in spec.key_attributes()
        ],
    }
    if spec.indexes:
        request["GlobalSecondaryIndexes"] = [
            {
                "IndexName": index.name,
                "KeySchema": [{"AttributeName": index.partition_key, "KeyType": "HASH"}]
                + ([{"AttributeName": index.sort_key, "KeyType": "RANGE"}] if index.sort_key else []),
                "Projection": {"ProjectionType": "ALL"},
            }
            for index in spec.indexes
        ]
    if spec.stream:
        request["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    return request


def create_tables(client: Any, stage: str) -> dict[str, str]:
    """Create every table of ``TABLES`` with ``client`` (a boto3 DynamoDB client) if missing.

    Also turns TTL on where the spec has one. Used by the local stack and integration tests.

    Returns
    -------
    dict
        ``{env_var: physical_name}`` for every table, ready to merge into ``os.environ``.
    """
    existing = set(client.list_tables().get("TableNames", []))
    names: dict[str, str] = {}
    for spec in TABLES:
        name = spec.physical_name(stage)
        names[spec.env_var] = name
        if name in existing:
            continue
        client.create_table(**create_table_request(spec, name))
        if spec.ttl_attribute:
            client.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": spec.ttl_attribute},
            )
    return names
