"""Per-connection message rate limit: at most ``LIVE_MAX_MESSAGES_PER_SECOND`` a wall-clock second.

One counter item per connection per second (``CONN#{id}``/``RATE#{epochSecond}``, live table) is
incremented with a conditional update (``hits < limit``); the update that would exceed the limit
fails, so concurrent Lambda invocations for the same connection cannot overshoot. A refused message
is counted on the same item (``refused``); a connection refused in ``LIVE_FLOOD_SECONDS`` seconds in
a row is flooding (:class:`Flooding`) and the socket handler closes it. Counters expire two minutes
later through ``ttl``.
"""

from __future__ import annotations

from datetime import UTC, datetime

from pynamodb.exceptions import UpdateError

from keyframe import clock
from keyframe.errors import TooManyRequests
from keyframe.live.models import RATE_PREFIX, MessageCounterItem, connection_pk
from keyframe.live.settings import LiveSettings
from keyframe.settings import load

COUNTER_TTL_SECONDS = 120


class Flooding(TooManyRequests):
    """The connection kept sending over the rate limit for ``LIVE_FLOOD_SECONDS`` seconds in a row;
    it is closed (``CONNECTION_FLOODED``)."""

    default_code = "CONNECTION_FLOODED"


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
    Flooding
        ... and it was also refused in each of the ``LIVE_FLOOD_SECONDS - 1`` seconds before.
    """
    settings = load(LiveSettings)
    limit = settings.LIVE_MAX_MESSAGES_PER_SECOND
    second = int(clock.epoch())
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
        if exc.cause_response_code != "ConditionalCheckFailedException":
            raise
        if _flooding(counter, second, settings.LIVE_FLOOD_SECONDS):
            raise Flooding(
                f"More than {limit} messages a second for {settings.LIVE_FLOOD_SECONDS} seconds; "
                "the connection is closed (policy violation)",
                retry_after=1,
                details={"limit": limit, "seconds": settings.LIVE_FLOOD_SECONDS},
            ) from exc
        raise TooManyRequests(
            f"More than {limit} messages a second; slow down",
            retry_after=1,
            details={"limit": limit},
        ) from exc
    return int(counter.hits)


def _flooding(counter: MessageCounterItem, second: int, seconds: int) -> bool:
    """Count a refusal in ``second``; True when each of the ``seconds`` seconds up to it had one.

    One write (the refusal) and, on the first refusal of a second only, one Query of the seconds
    before it (live table).
    """
    counter.update(actions=[MessageCounterItem.refused.add(1)])
    if seconds <= 1:
        return True
    if int(counter.refused or 0) > 1:  # decided at this second's first refusal already
        return False
    earlier = MessageCounterItem.query(
        counter.pk,
        MessageCounterItem.sk.between(f"{RATE_PREFIX}{second - seconds + 1}", f"{RATE_PREFIX}{second - 1}"),
        consistent_read=True,
    )
    refused = {item.sk for item in earlier if item.refused}
    return all(f"{RATE_PREFIX}{s}" in refused for s in range(second - seconds + 1, second))
