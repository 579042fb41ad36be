"""The snapshot's files in ``<state>/data``: where each part of a snapshot lives and how dates are written.

::

    <state>/data/
      manifest.json          what the snapshot holds (format, tables, object versions, multipart
                             uploads, secrets, KMS keys, state machines, executions); replaced
                             atomically last, so a snapshot is the one its manifest names
      dynamodb/<table>.jsonl one item per line (DynamoDB JSON attributes)
      objects/<sha256>       one S3 object version or multipart part each, written once (a version
                             never changes); the name hashes its identity (:func:`object_file`,
                             :func:`part_file`)

Written by :mod:`keyframe.local.snapshot_save`, read by :mod:`keyframe.local.snapshot_restore`.
"""

from __future__ import annotations

import datetime
import hashlib
from pathlib import Path

from moto.s3.models import FakeKey

FORMAT = 1
"""The manifest's ``format``: a snapshot of another format is ignored at restore."""
MANIFEST = "manifest.json"


def data_dir(state_dir: Path) -> Path:
    """Where the snapshot lives: ``<state>/data``."""
    return state_dir / "data"


def iso(value: datetime.datetime | None) -> str | None:
    """A date as the manifest stores it (ISO-8601 as Python writes it; ``None`` stays ``None``)."""
    return value.isoformat() if value else None


def parse_date(value: str | None) -> datetime.datetime | None:
    """A manifest date back (``None`` or empty: ``None``)."""
    return datetime.datetime.fromisoformat(value) if value else None


def utc_now() -> datetime.datetime:
    """The time now, UTC (aware)."""
    return datetime.datetime.now(datetime.UTC)


def object_file(bucket: str, key: FakeKey) -> str:
    """The file name of one object version: SHA-256 hex of bucket, key, version id and ETag."""
    identity = f"{bucket}\0{key.name}\0{key.version_id}\0{key.etag}"
    return hashlib.sha256(identity.encode()).hexdigest()


def part_file(bucket: str, upload_id: str, number: int, part: FakeKey) -> str:
    """The file name of one multipart part: SHA-256 hex of bucket, upload id, part number and ETag."""
    identity = f"{bucket}\0multipart\0{upload_id}\0{number}\0{part.etag}"
    return hashlib.sha256(identity.encode()).hexdigest()
