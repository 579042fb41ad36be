"""Where analytics records go: Kinesis Data Firehose in the cloud, JSON-lines files on the local stack.

- **Firehose** (``ANALYTICS_STREAM_NAME``): ``PutRecordBatch`` in chunks of at most 500 records /
  4 MB, each record one JSON object and a newline. The delivery stream (``infra/analytics.py``)
  files them in S3 under ``events/studio=<studio>/date=<yyyy-mm-dd>/`` (dynamic partitioning on the
  record's ``studio`` and ``occurredAt``), where the Glue table ``events`` lets Athena query them.
  Records Firehose refuses (``FailedPutCount``) are sent again, up to :data:`ATTEMPTS` times.
- **Files** (``ANALYTICS_DIRECTORY``, the local stack's ``.keyframe/analytics``): each record is
  appended as one line to ``<directory>/studio=<studio>/date=<yyyy-mm-dd>/events.jsonl``, the same
  layout, under an exclusive ``flock`` so processes writing at once never interleave lines.

Either way :func:`put` raises when records could not be handed over; callers decide what that means
(the outbox consumer lets the stream hand the event again; the route answers 503).
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from keyframe.analytics.records import partition
from keyframe.analytics.settings import AnalyticsSettings
from keyframe.settings import load
from keyframe.storage import clients

MAX_RECORDS_PER_CALL = 500
"""Firehose's limit of records per ``PutRecordBatch``."""
MAX_BYTES_PER_CALL = 4_000_000
"""Bytes per ``PutRecordBatch``: under Firehose's 4 MiB, with room for the request's own framing."""
ATTEMPTS = 3
"""Calls per chunk before the records Firehose keeps refusing make :func:`put` fail."""
FILE_NAME = "events.jsonl"


class SinkError(RuntimeError):
    """Some records were not handed to the sink (Firehose refused them or the file was not written)."""


def _firehose(region: str | None) -> Any:
    return clients.client("firehose", region_name=region)


def line(record: dict[str, Any]) -> bytes:
    """One record as it is stored: compact JSON and a newline (UTF-8)."""
    return (json.dumps(record, separators=(",", ":"), ensure_ascii=False) + "\n").encode()


def put(records: Sequence[dict[str, Any]]) -> None:
    """Hand ``records`` to the configured sink (see the module docstring).

    Raises
    ------
    SinkError
        Firehose refused some records ``ATTEMPTS`` times, or a file could not be written.
    botocore.exceptions.ClientError
        The Firehose call itself failed (throttled, stream missing, access denied).
    """
    if not records:
        return
    settings = load(AnalyticsSettings)
    if settings.ANALYTICS_DIRECTORY:
        _append(Path(settings.ANALYTICS_DIRECTORY), records)
    else:
        assert settings.ANALYTICS_STREAM_NAME  # the settings refuse neither being set
        for chunk in _chunks([line(record) for record in records]):
            _put_chunk(settings.ANALYTICS_STREAM_NAME, chunk)


def _chunks(lines: list[bytes]) -> Iterator[list[bytes]]:
    chunk: list[bytes] = []
    size = 0
    for data in lines:
        if chunk and (len(chunk) == MAX_RECORDS_PER_CALL or size + len(data) > MAX_BYTES_PER_CALL):
            yield chunk
            chunk, size = [], 0
        chunk.append(data)
        size += len(data)
    if chunk:
        yield chunk


def _put_chunk(stream: str, chunk: list[bytes]) -> None:
    pending = chunk
    for _ in range(ATTEMPTS):
        answer = _firehose(None).put_record_batch(
            DeliveryStreamName=stream, Records=[{"Data": data} for data in pending]
        )
        if not answer.get("FailedPutCount"):
            return
        responses = answer.get("RequestResponses") or []
        pending = [data for data, result in zip(pending, responses, strict=False) if result.get("ErrorCode")]
        if not pending:
            return
    raise SinkError(f"Firehose refused {len(pending)} analytics records {ATTEMPTS} times")


def path_of(directory: Path, studio_id: str, day: str) -> Path:
    """The file of one studio's records of one UTC day: ``studio=<id>/date=<day>/events.jsonl``."""
    return directory / f"studio={studio_id}" / f"date={day}" / FILE_NAME


def _append(directory: Path, records: Sequence[dict[str, Any]]) -> None:
    by_file: dict[Path, list[bytes]] = {}
    for record in records:
        studio_id, day = partition(record)
        by_file.setdefault(path_of(directory, studio_id, day), []).append(line(record))
    try:
        for path, lines in by_file.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX)
                os.write(descriptor, b"".join(lines))
            finally:
                os.close(descriptor)  # closing releases the lock
    except OSError as exc:
        raise SinkError(f"analytics records not written under {directory}: {exc}") from exc
