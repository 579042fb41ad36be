"""Per-connection message rate limit: at most ``LIVE_MAX_MESSAGES_PER_SECOND`` a wall-clock second.

One counter item per connection per second (``CONN#{id}``/``RATE#{epochSecond}``, live table) is
incremented with a conditional update (``hits < limit``); the update that would exceed the limit
fails, so concurrent Lambda invocations for the same connection cannot overshoot. Counters expire
two minutes later through ``ttl``.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from pynamodb.exceptions import UpdateError

from keyframe.errors import TooManyRequests
from keyframe.live.models import RATE_PREFIX, MessageCounterItem, connection_pk
from keyframe.live.settings import LiveSettings
from keyframe.settings import load

COUNTER_TTL_SECONDS = 120


def clock() -> float:
    """The current epoch time in seconds (a seam for tests)."""
    return time.time()


def count_message(connection_id: str) -> int:
    """Count one message from ``connection_id`` in the current second.

    Returns
    -------
    int
        Messages counted in this second, this one included.

    Raises
    ------
    TooManyRequests
        The connection already sent the limit this second (``retry_after`` = 1 s).
    """
    limit = load(LiveSettings).LIVE_MAX_MESSAGES_PER_SECOND
    second = int(clock())
    counter = MessageCounterItem(connection_pk(connection_id), f"{RATE_PREFIX}{second}")
    try:
        counter.update(
            actions=[
                MessageCounterItem.hits.add(1),
                MessageCounterItem.ttl.set(datetime.fromtimestamp(second + COUNTER_TTL_SECONDS, UTC)),
            ],
            condition=MessageCounterItem.hits.does_not_exist() | (MessageCounterItem.hits < limit),
        )
    except UpdateError as exc:
        if exc.cause_response_code == "ConditionalCheckFailedException":
            raise TooManyRequests(
                f"More than {limit} messages a second; slow down",
                retry_after=1,
                details={"limit": limit},
            ) from exc
        raise
    return int(counter.hits)
