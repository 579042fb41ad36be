"""Configuration of outbound webhooks, validated from the environment at first use.

=================================  ==========================================================
WEBHOOK_QUEUE_URL                  the SQS queue of deliveries (required to deliver)
WEBHOOK_TIMEOUT_SECONDS            one attempt's connect + read timeout, default 10
WEBHOOK_RETRY_BASE_SECONDS         first retry's pause before jitter, default 30
WEBHOOK_RETRY_MAX_SECONDS          longest pause between attempts, default 3600
WEBHOOK_RETRY_WINDOW_SECONDS       how long a delivery is retried, and how long an endpoint may fail
                                   before it is disabled, default 86400 (24 h)
WEBHOOK_SECRET_GRACE_SECONDS       how long the previous secret still signs after a rotation,
                                   default 86400
WEBHOOK_ALLOW_LOCAL_HTTP           ``true`` only on the local stack: ``http://127.0.0.1`` and
                                   ``http://localhost`` targets are allowed (never in the cloud)
=================================  ==========================================================
"""

from __future__ import annotations

from pydantic import Field

from keyframe.settings import EnvSettings


class WebhookSettings(EnvSettings):
    """Tunables of webhook delivery (all with defaults but the queue)."""

    WEBHOOK_TIMEOUT_SECONDS: float = Field(default=10.0, gt=0, le=30)
    WEBHOOK_RETRY_BASE_SECONDS: float = Field(default=30.0, gt=0)
    WEBHOOK_RETRY_MAX_SECONDS: float = Field(default=3600.0, gt=0)
    WEBHOOK_RETRY_WINDOW_SECONDS: float = Field(
        default=86400.0, gt=0, description="retry a delivery, and tolerate a failing endpoint, this long"
    )
    WEBHOOK_SECRET_GRACE_SECONDS: int = Field(default=86400, ge=0)
    WEBHOOK_ALLOW_LOCAL_HTTP: bool = Field(
        default=False, description="local stack only: allow http://127.0.0.1 and http://localhost targets"
    )


class QueueSettings(EnvSettings):
    """The delivery queue (no default: a process that enqueues must be told where)."""

    WEBHOOK_QUEUE_URL: str = Field(pattern=r"^https?://\S+$")
