"""Recording analytics events: the client batch of ``POST /analytics/events`` and sign-ins."""

from __future__ import annotations

from keyframe.analytics import limits, records, sink
from keyframe.analytics.schemas import MAX_BATCH, AcceptedEvents, ClientEvent
from keyframe.analytics.settings import AnalyticsSettings
from keyframe.errors import InvalidInput, ServiceUnavailable
from keyframe.observability import logger
from keyframe.settings import load


def record_client_events(studio_id: str, user_id: str, events: list[ClientEvent]) -> AcceptedEvents:
    """Count a member's batch against their rate limit and hand its records to the sink.

    ``studio_id`` and ``user_id`` are the verified token's; each record is filed under them.
    Writes one counter UpdateItem (live table) and the records (Firehose or local files).

    Raises
    ------
    InvalidInput
        ``VALIDATION_ERROR``: more than :data:`MAX_BATCH` events; ``details.fields`` names
        ``events.100``, the first event too many (the FieldError shape of every 400).
    TooManyRequests
        The member sent more than ``ANALYTICS_EVENTS_PER_MINUTE`` events this minute.
    ServiceUnavailable
        The sink refused the records (nothing is retried for the client: send the batch again,
        with its ids, and it is deduplicated).
    """
    if len(events) > MAX_BATCH:
        raise InvalidInput(
            f"Invalid request: events (at most {MAX_BATCH} per batch)",
            code="VALIDATION_ERROR",
            details={
                "fields": [
                    {
                        "field": f"events.{MAX_BATCH}",
                        "message": f"a batch holds at most {MAX_BATCH} events; this one has {len(events)}",
                        "type": "too_long",
                        "in": "body",
                    }
                ]
            },
        )
    settings = load(AnalyticsSettings)
    limits.admit(studio_id, user_id, len(events), settings.ANALYTICS_EVENTS_PER_MINUTE)
    found = [records.from_client(studio_id, user_id, event) for event in events]
    try:
        sink.put(found)
    except Exception as exc:
        logger.exception("analytics records not recorded", extra={"records": len(found)})
        raise ServiceUnavailable(
            "Analytics events could not be recorded now; send the batch again later",
            code="SERVICE_UNAVAILABLE",
        ) from exc
    return AcceptedEvents(accepted=len(found), ids=[record["id"] for record in found])


def record_sign_in(studio_id: str, user_id: str) -> None:
    """Record that ``user_id`` signed in to ``studio_id`` (``member:signed-in``), never failing.

    A sign-in must not fail because analytics is down: a sink failure is logged and the record is
    lost (at most once, unlike the outbox-derived server records).
    """
    try:
        sink.put([records.sign_in(studio_id, user_id)])
    except Exception:
        logger.exception("the sign-in was not recorded in analytics", extra={"studio_id": studio_id})
