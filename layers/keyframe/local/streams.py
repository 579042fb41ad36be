"""The local stack's event source mapping: it polls the catalog table's stream and invokes ``outbox-stream``.

moto keeps DynamoDB Streams records (``DescribeStream``, ``GetShardIterator``, ``GetRecords`` work
on its server) but cannot invoke a Lambda from them without Docker, so the stack does what Lambda's
event source mapping does in the cloud (``infra/outbox.py``):

- reads every shard from ``LATEST`` as the stack starts (after the snapshot is restored: restoring
  re-puts items, and those are not new events), every ``KEYFRAME_STREAM_POLL_SECONDS`` (0.05);
- keeps only outbox INSERTs (the cloud mapping's filter) and invokes the real handler with Lambda's
  event shape ``{"Records": [...]}``, through :func:`keyframe.local.lambdas.invoke` (so it runs in the
  function's execution environment like any other function);
- honours ``batchItemFailures``: the failed record and those after it are handed again at the next
  poll, after a pause that doubles up to 5 s (the cloud retries at once; a pause keeps a broken
  downstream from spinning the machine). A handler that raises counts as a failure of the batch.

Not kept across a restart: records the handler had not consumed when the stack stopped (their events
remain in the outbox; redrive them with :func:`keyframe.outbox.stream.consume`).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from typing import Any

from keyframe.outbox.records import RECORD_TYPE

log = logging.getLogger("keyframe.local")

FUNCTION = "outbox-stream"
MAX_PAUSE_SECONDS = 5.0


def is_outbox_insert(record: dict[str, Any]) -> bool:
    """The cloud mapping's filter: ``eventName = INSERT`` and ``NewImage.recordType = event``."""
    image = record.get("dynamodb", {}).get("NewImage") or {}
    return record.get("eventName") == "INSERT" and image.get("recordType", {}).get("S") == RECORD_TYPE


class StreamPoller:
    """Poll one table's stream and hand its outbox INSERTs to a function, as Lambda's mapping does.

    Parameters
    ----------
    session:
        Something with ``client(name)`` (boto3 session or the stack's endpoint session).
    table_name:
        The physical table whose stream is read (the catalog table).
    invoke:
        ``invoke(function_name, event) -> result`` (:func:`keyframe.local.lambdas.invoke`).
    interval:
        Seconds between polls when idle (``KEYFRAME_STREAM_POLL_SECONDS``, default 0.05); the stack
        passes a longer one when the emulator calls :meth:`wake` on every write to the table.
    """

    def __init__(
        self,
        session: Any,
        table_name: str,
        invoke: Callable[[str, dict[str, Any]], Any],
        *,
        interval: float | None = None,
        function: str = FUNCTION,
    ) -> None:
        self._dynamodb = session.client("dynamodb")
        self._streams = session.client("dynamodbstreams")
        self._table = table_name
        self._invoke = invoke
        self._function = function
        self.interval = (
            float(os.environ.get("KEYFRAME_STREAM_POLL_SECONDS", "0.05")) if interval is None else interval
        )
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._iterators: dict[str, str | None] = {}
        self._pending: list[dict[str, Any]] = []
        self._pause = 0.0
        self.delivered = 0
        """Records the function consumed (for benchmarks and tests)."""

    def start(self) -> None:
        """Take ``LATEST`` iterators of every shard and start polling in a daemon thread."""
        arn = self._dynamodb.describe_table(TableName=self._table)["Table"]["LatestStreamArn"]
        self._arn = arn
        for shard in self._streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
            self._iterators[shard["ShardId"]] = self._streams.get_shard_iterator(
                StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="LATEST"
            )["ShardIterator"]
        self._thread = threading.Thread(target=self._run, name="outbox-stream-poller", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """Poll now (a write may have added stream records): no idle wait for the next event."""
        self._wake.set()

    def stop(self) -> None:
        """Stop polling (waits for the current batch)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                busy = self.poll_once()
            except Exception:  # the emulator stopping, a transient error: keep polling
                log.exception("polling the outbox stream failed")
                busy = False
            if self._pause or not busy:
                self._wake.wait(self._pause or self.interval)
            self._wake.clear()

    def poll_once(self) -> bool:
        """Read new records of every shard and hand the pending ones to the function once.

        Returns
        -------
        bool
            True when records were handed and all were consumed (poll again at once).
        """
        for shard_id, iterator in list(self._iterators.items()):
            if iterator is None:
                continue
            answer = self._streams.get_records(ShardIterator=iterator, Limit=1000)
            self._iterators[shard_id] = answer.get("NextShardIterator")
            self._pending.extend(r for r in answer.get("Records", []) if is_outbox_insert(r))
        if not self._pending:
            return False
        batch = self._pending[:100]
        try:
            result = self._invoke(self._function, {"Records": [_lambda_record(r, self._arn) for r in batch]})
            failures = (result or {}).get("batchItemFailures") or []
        except Exception:
            log.exception("%s failed on a batch of %d records", self._function, len(batch))
            failures = [{"itemIdentifier": batch[0]["dynamodb"]["SequenceNumber"]}]
        if not failures:
            self.delivered += len(batch)
            del self._pending[: len(batch)]
            self._pause = 0.0
            return True
        failed = {f["itemIdentifier"] for f in failures}
        first = next((i for i, r in enumerate(batch) if r["dynamodb"]["SequenceNumber"] in failed), 0)
        self.delivered += first
        del self._pending[:first]
        self._pause = min(MAX_PAUSE_SECONDS, max(0.1, self._pause * 2))
        return False


def _lambda_record(record: dict[str, Any], arn: str) -> dict[str, Any]:
    """A ``GetRecords`` record in the shape Lambda hands a function (``eventSourceARN`` added)."""
    return {**record, "eventSource": "aws:dynamodb", "eventSourceARN": arn}
