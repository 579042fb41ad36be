"""The per-member rate limit of client events (live table).

One counter per member and UTC minute: ``pk = STUDIO#{studioId}#ANALYTICS#{userId}``,
``sk = MINUTE#{epochMinute}``, ``count`` of events accepted in that minute, ``ttl`` two minutes
later. A batch is counted whole with one conditional UpdateItem (``count + n <= limit``, exact under
concurrency); a batch that would pass ``ANALYTICS_EVENTS_PER_MINUTE`` is refused whole with 429
``TOO_MANY_REQUESTS``, ``Retry-After`` = the seconds left in the minute and
``details = {"retryAfter", "limit": "analytics-events-per-minute", "perMinute"}``.

A batch is also bounded in size: 100 events (:data:`keyframe.analytics.schemas.MAX_BATCH`) of at most
20 short properties each, inside the API's body limit.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

from pynamodb.attributes import NumberAttribute, TTLAttribute, UnicodeAttribute
from pynamodb.exceptions import UpdateError
from pynamodb.models import Model

from keyframe import clock
from keyframe.errors import TooManyRequests
from keyframe.storage.models import table_meta
from keyframe.storage.tables import LIVE

LIMIT_NAME = "analytics-events-per-minute"


def counter_pk(studio_id: str, user_id: str) -> str:
    """Partition key of a member's counters: ``STUDIO#{studioId}#ANALYTICS#{userId}``."""
    return f"STUDIO#{studio_id}#ANALYTICS#{user_id}"


class EventCounter(Model):
    """Client events a member sent in one UTC minute (live table), deleted after two minutes."""

    Meta = table_meta(LIVE)
    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    sent = NumberAttribute(default=0, attr_name="count")
    ttl = TTLAttribute(null=True)


def admit(studio_id: str, user_id: str, events: int, per_minute: int) -> None:
    """Count ``events`` against the member's minute, or refuse them all.

    Raises
    ------
    TooManyRequests
        (429) the member's minute would hold more than ``per_minute`` events.
    """
    now = clock.epoch()
    minute = int(now // 60)
    if events > per_minute:  # never fits, however empty the minute
        raise _refused(per_minute, now, minute)
    item = EventCounter(counter_pk(studio_id, user_id), f"MINUTE#{minute}")
    try:
        item.update(
            actions=[
                EventCounter.sent.add(events),
                EventCounter.ttl.set(datetime.fromtimestamp((minute + 2) * 60, UTC)),
            ],
            condition=EventCounter.sent.does_not_exist() | (EventCounter.sent <= per_minute - events),
        )
    except UpdateError as exc:
        if exc.cause_response_code != "ConditionalCheckFailedException":
            raise
        raise _refused(per_minute, now, minute) from None


def _refused(per_minute: int, now: float, minute: int) -> TooManyRequests:
    wait = max(1, math.ceil((minute + 1) * 60 - now))
    return TooManyRequests(
        f"At most {per_minute} analytics events a minute per member; try again in {wait} s",
        retry_after=wait,
        details={"retryAfter": wait, "limit": LIMIT_NAME, "perMinute": per_minute},
    )
