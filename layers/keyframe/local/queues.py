"""The local stack's SQS event source: it polls the webhook delivery queue and invokes ``webhooks-deliver``.

In the cloud an event source mapping hands the delivery queue's messages to the function
(``infra/outbox.py``). moto's SQS keeps messages, delays (``DelaySeconds``) and visibility, but
invokes nothing, so the stack polls: every ``KEYFRAME_QUEUE_POLL_SECONDS`` (0.1) it receives up to 10
messages, invokes the function with Lambda's SQS event shape through
:func:`keyframe.local.lambdas.invoke`, and deletes the messages the function did not report in
``batchItemFailures`` (those become visible again after the queue's visibility timeout, as in the
cloud). Several pollers share the work (``KEYFRAME_QUEUE_POLLERS``, default 4) so one receiver that
hangs for its 10 s timeout does not hold up the others.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from typing import Any

log = logging.getLogger("keyframe.local")

FUNCTION = "webhooks-deliver"
VISIBILITY_TIMEOUT_SECONDS = 60


class QueuePoller:
    """Poll one SQS queue and hand its messages to a function, as Lambda's SQS mapping does.

    Parameters
    ----------
    session:
        Something with ``client(name)``.
    queue_url:
        The queue.
    invoke:
        ``invoke(function_name, event) -> result`` (:func:`keyframe.local.lambdas.invoke`).
    """

    def __init__(
        self,
        session: Any,
        queue_url: str,
        invoke: Callable[[str, dict[str, Any]], Any],
        *,
        function: str = FUNCTION,
        interval: float | None = None,
        pollers: int | None = None,
    ) -> None:
        self._sqs = session.client("sqs")
        self._queue_url = queue_url
        self._invoke = invoke
        self._function = function
        self.interval = (
            float(os.environ.get("KEYFRAME_QUEUE_POLL_SECONDS", "0.1")) if interval is None else interval
        )
        self._pollers = int(os.environ.get("KEYFRAME_QUEUE_POLLERS", "4")) if pollers is None else pollers
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._threads: list[threading.Thread] = []
        self._arn = f"arn:aws:sqs:local:000000000000:{queue_url.rsplit('/', 1)[-1]}"

    def start(self) -> None:
        """Start the polling threads (daemons)."""
        for index in range(self._pollers):
            thread = threading.Thread(target=self._run, name=f"queue-poller-{index}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def wake(self) -> None:
        """Receive now (a message may have been sent): no idle wait for the next delivery."""
        self._wake.set()

    def stop(self) -> None:
        """Stop polling (waits for the batches in hand, at most 15 s each)."""
        self._stop.set()
        self._wake.set()
        for thread in self._threads:
            thread.join(timeout=15)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                busy = self.poll_once()
            except Exception:  # the emulator stopping, a transient error: keep polling
                log.exception("polling %s failed", self._queue_url)
                busy = False
            if not busy and self._wake.wait(self.interval):
                self._wake.clear()

    def poll_once(self) -> bool:
        """Receive up to 10 messages, invoke the function once, delete what it consumed.

        Returns
        -------
        bool
            True when messages were handed (poll again at once).
        """
        answer = self._sqs.receive_message(
            QueueUrl=self._queue_url,
            MaxNumberOfMessages=10,
            VisibilityTimeout=VISIBILITY_TIMEOUT_SECONDS,
            AttributeNames=["All"],
        )
        messages = answer.get("Messages", [])
        if not messages:
            return False
        records = [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes", {}),
                "eventSource": "aws:sqs",
                "eventSourceARN": self._arn,
            }
            for m in messages
        ]
        try:
            result = self._invoke(self._function, {"Records": records})
            failed = {f["itemIdentifier"] for f in (result or {}).get("batchItemFailures") or []}
        except Exception:
            log.exception("%s failed on %d messages", self._function, len(records))
            return True
        done = [m for m in messages if m["MessageId"] not in failed]
        for start in range(0, len(done), 10):
            self._sqs.delete_message_batch(
                QueueUrl=self._queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                    for i, m in enumerate(done[start : start + 10])
                ],
            )
        return True
