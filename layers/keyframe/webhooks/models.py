"""Webhook endpoints and their deliveries (catalog table).

Keys:

- endpoint: ``pk = STUDIO#{studioId}#WEBHOOKS``, ``sk = WEBHOOK#{webhookId}``: the URL, the event
  types it wants (empty = all), ``active``, the signing secret and, for a rotation's grace period, the
  previous one with its expiry; ``failingSince`` (the first failure not followed by a success).
- delivery: ``pk = STUDIO#{studioId}#WEBHOOK#{webhookId}#DELIVERIES``, ``sk = DELIVERY#{deliveryId}``
  (kept 30 days, ``ttl``). One per (endpoint, event): the id is derived from both
  (:func:`delivery_id`), so handing the same event twice makes no second delivery. The id begins
  with the event's time, so a reverse Query lists the newest first. ``attempts`` holds the last 50
  attempts ``{at, statusCode, latencyMs, error}``.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta

from pynamodb.attributes import (
    BooleanAttribute,
    JSONAttribute,
    ListAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
)
from pynamodb.models import Model

from keyframe.storage.models import table_meta
from keyframe.storage.tables import CATALOG

DELIVERY_RETENTION = timedelta(days=30)
MAX_ATTEMPTS_KEPT = 50


class DeliveryStatus:
    """Where a delivery stands: ``PENDING`` (queued or retrying), ``SUCCEEDED``, ``FAILED`` (given up)."""

    PENDING = "PENDING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


def webhooks_pk(studio_id: str) -> str:
    """Partition of a studio's endpoints."""
    return f"STUDIO#{studio_id}#WEBHOOKS"


def webhook_sk(webhook_id: str) -> str:
    """Sort key of one endpoint."""
    return f"WEBHOOK#{webhook_id}"


def deliveries_pk(studio_id: str, webhook_id: str) -> str:
    """Partition of one endpoint's deliveries."""
    return f"STUDIO#{studio_id}#WEBHOOK#{webhook_id}#DELIVERIES"


def delivery_sk(delivery_id: str) -> str:
    """Sort key of one delivery."""
    return f"DELIVERY#{delivery_id}"


def delivery_id(webhook_id: str, event_id: str, occurred_at: str) -> str:
    """``dlv-{yyyymmddhhmmssffffff}{12 hex}``: one per (endpoint, event), ordered by the event's time."""
    digits = "".join(ch for ch in occurred_at if ch.isdigit())[:20]
    digest = hashlib.sha256(f"{webhook_id}:{event_id}".encode()).hexdigest()[:12]
    return f"dlv-{digits}{digest}"


class WebhookItem(Model):
    """One webhook endpoint of a studio (catalog table)."""

    Meta = table_meta(CATALOG)
    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    webhook_id = UnicodeAttribute(attr_name="webhookId")
    studio_id = UnicodeAttribute(attr_name="studioId")
    url = UnicodeAttribute()
    event_types = ListAttribute(of=UnicodeAttribute, default=list, attr_name="eventTypes")
    description = UnicodeAttribute(null=True)
    active = BooleanAttribute(default=True)
    secret = UnicodeAttribute()
    previous_secret = UnicodeAttribute(null=True, attr_name="previousSecret")
    previous_secret_expires_at = UnicodeAttribute(null=True, attr_name="previousSecretExpiresAt")
    failing_since = UnicodeAttribute(null=True, attr_name="failingSince")
    disabled_reason = UnicodeAttribute(null=True, attr_name="disabledReason")
    created_at = UnicodeAttribute(attr_name="createdAt")
    created_by = UnicodeAttribute(attr_name="createdBy")
    updated_at = UnicodeAttribute(attr_name="updatedAt")
    revision = NumberAttribute(default=1)

    def wants(self, event_type: str) -> bool:
        """True when the endpoint is active and subscribed to ``event_type`` (empty list = all)."""
        return bool(self.active) and (not self.event_types or event_type in self.event_types)


class DeliveryItem(Model):
    """One event's delivery to one endpoint, with its attempts (catalog table, kept 30 days)."""

    Meta = table_meta(CATALOG)
    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    delivery_id = UnicodeAttribute(attr_name="deliveryId")
    webhook_id = UnicodeAttribute(attr_name="webhookId")
    studio_id = UnicodeAttribute(attr_name="studioId")
    event_id = UnicodeAttribute(attr_name="eventId")
    event_type = UnicodeAttribute(attr_name="eventType")
    payload = JSONAttribute()
    status = UnicodeAttribute(default=DeliveryStatus.PENDING)
    attempts = JSONAttribute(default=list)
    attempt_count = NumberAttribute(default=0, attr_name="attemptCount")
    queued = BooleanAttribute(default=False)
    created_at = UnicodeAttribute(attr_name="createdAt")
    first_failure_at = UnicodeAttribute(null=True, attr_name="firstFailureAt")
    next_attempt_at = UnicodeAttribute(null=True, attr_name="nextAttemptAt")
    ttl = TTLAttribute(null=True)
