"""Request and response shapes of ``/studio/webhooks`` (camelCase JSON)."""

from __future__ import annotations

from pydantic import Field

from keyframe.events.types import EPHEMERAL, EventType
from keyframe.schemas import ApiModel, RequestModel

MAX_URL_LENGTH = 2048


class WebhookCreate(RequestModel):
    """A new endpoint: where to send, which event types (none = every durable type), on or off."""

    url: str = Field(min_length=8, max_length=MAX_URL_LENGTH, description="https://… (public host)")
    event_types: list[EventType] = Field(
        default_factory=list, max_length=64, description="event types to send; empty = all"
    )
    description: str | None = Field(default=None, max_length=500)
    active: bool = True

    def durable_types(self) -> list[str]:
        """The chosen types without duplicates (presence is never sent: it is not stored)."""
        return [str(t) for t in dict.fromkeys(self.event_types) if t not in EPHEMERAL]


class WebhookUpdate(RequestModel):
    """Fields to change; an endpoint turned ``active`` again forgets its failures."""

    url: str | None = Field(default=None, min_length=8, max_length=MAX_URL_LENGTH)
    event_types: list[EventType] | None = Field(default=None, max_length=64)
    description: str | None = Field(default=None, max_length=500)
    active: bool | None = None


class Webhook(ApiModel):
    """An endpoint as the API shows it (never its secret)."""

    webhook_id: str
    url: str
    event_types: list[str] = Field(description="empty = every event type")
    description: str | None = None
    active: bool
    disabled_reason: str | None = Field(default=None, description="why it was turned off, if it was")
    failing_since: str | None = Field(default=None, description="first failure not followed by a success")
    previous_secret_expires_at: str | None = Field(
        default=None, description="until then the previous secret signs too (after a rotation)"
    )
    created_at: str
    created_by: str
    updated_at: str


class WebhookCreated(Webhook):
    """The new endpoint with its signing secret: shown this once only."""

    secret: str = Field(description="whsec_…: verify signatures with it (Standard Webhooks)")


class WebhookList(ApiModel):
    """The studio's endpoints, oldest first."""

    items: list[Webhook]


class SecretRotated(ApiModel):
    """The new signing secret (shown this once); the old one signs too until ``previousSecretExpiresAt``."""

    webhook_id: str
    secret: str
    previous_secret_expires_at: str


class DeliveryAttempt(ApiModel):
    """One HTTP attempt: the answer's status (absent when none came), how long it took, what failed."""

    at: str
    status_code: int | None = None
    latency_ms: int | None = None
    error: str | None = None
    replay: bool = False


class Delivery(ApiModel):
    """One event sent to one endpoint: its status and every attempt (newest last)."""

    delivery_id: str
    webhook_id: str
    event_id: str
    event_type: str
    status: str = Field(description="PENDING (queued or retrying), SUCCEEDED or FAILED (given up)")
    attempt_count: int
    attempts: list[DeliveryAttempt]
    created_at: str
    next_attempt_at: str | None = None


class DeliveryList(ApiModel):
    """An endpoint's deliveries, newest first (at most ``limit``; kept 30 days)."""

    items: list[Delivery]
