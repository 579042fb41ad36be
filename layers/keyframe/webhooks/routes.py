"""REST routes of outbound webhooks (function ``identity-api``; ADMIN only: ``webhooks:manage``).

``/studio/webhooks`` (create, list), ``/studio/webhooks/{webhookId}`` (read, change, delete),
``…/rotate-secret``, ``…/test``, ``…/deliveries`` and ``…/deliveries/{deliveryId}/replay``.
Another studio's ids answer 404 (``WEBHOOK_NOT_FOUND``, ``DELIVERY_NOT_FOUND``).
"""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query

from keyframe.http.auth import authorize
from keyframe.http.contract import answers
from keyframe.http.params import path_id
from keyframe.identity.permissions import Permission
from keyframe.webhooks.schemas import (
    Delivery,
    DeliveryList,
    SecretRotated,
    Webhook,
    WebhookCreate,
    WebhookCreated,
    WebhookList,
    WebhookUpdate,
)

router = Router()

WebhookId = Annotated[str, path_id("the webhook endpoint's id")]
DeliveryId = Annotated[str, path_id("the delivery's id")]
URL_CODES = ("WEBHOOK_URL_NOT_HTTPS", "WEBHOOK_URL_PRIVATE", "WEBHOOK_URL_UNRESOLVED")


@router.post(
    "/studio/webhooks",
    status_code=201,
    tags=["webhooks"],
    summary="Add a webhook endpoint (its secret is shown once)",
    operation_id="createWebhook",
    openapi_extensions=answers(*URL_CODES, "WEBHOOK_ENDPOINTS_QUOTA_EXCEEDED"),
)
def create_webhook(body: WebhookCreate) -> WebhookCreated:
    """201 with the endpoint and its ``secret``; 400 for a refused URL; 429 over the studio's quota."""
    from keyframe.webhooks import service

    return service.create(authorize(Permission.WEBHOOKS_MANAGE), body)


@router.get(
    "/studio/webhooks",
    tags=["webhooks"],
    summary="The studio's webhook endpoints",
    operation_id="listWebhooks",
    openapi_extensions=answers(),
)
def list_webhooks() -> WebhookList:
    """Every endpoint of the caller's studio, oldest first (no secrets)."""
    from keyframe.webhooks import service

    return service.list_webhooks(authorize(Permission.WEBHOOKS_MANAGE))


@router.get(
    "/studio/webhooks/<webhookId>",
    tags=["webhooks"],
    summary="One webhook endpoint",
    operation_id="getWebhook",
    openapi_extensions=answers("WEBHOOK_NOT_FOUND"),
)
def get_webhook(webhookId: WebhookId) -> Webhook:
    """The endpoint; 404 outside the studio."""
    from keyframe.webhooks import service

    return service.get(authorize(Permission.WEBHOOKS_MANAGE), webhookId)


@router.patch(
    "/studio/webhooks/<webhookId>",
    tags=["webhooks"],
    summary="Change a webhook endpoint (URL, event types, description, active)",
    operation_id="updateWebhook",
    openapi_extensions=answers("WEBHOOK_NOT_FOUND", *URL_CODES),
)
def update_webhook(webhookId: WebhookId, body: WebhookUpdate) -> Webhook:
    """The endpoint after the change; turning it ``active`` again clears its failures."""
    from keyframe.webhooks import service

    return service.update(authorize(Permission.WEBHOOKS_MANAGE), webhookId, body)


@router.delete(
    "/studio/webhooks/<webhookId>",
    status_code=204,
    tags=["webhooks"],
    summary="Delete a webhook endpoint",
    operation_id="deleteWebhook",
    openapi_extensions=answers("WEBHOOK_NOT_FOUND"),
)
def delete_webhook(webhookId: WebhookId) -> Response[None]:
    """204; nothing more is sent to it."""
    from keyframe.webhooks import service

    service.delete(authorize(Permission.WEBHOOKS_MANAGE), webhookId)
    return Response(status_code=204, content_type=None, body=None)


@router.post(
    "/studio/webhooks/<webhookId>/rotate-secret",
    tags=["webhooks"],
    summary="A new signing secret (the old one keeps signing for a grace period)",
    operation_id="rotateWebhookSecret",
    openapi_extensions=answers("WEBHOOK_NOT_FOUND"),
)
def rotate_webhook_secret(webhookId: WebhookId) -> SecretRotated:
    """The new secret, shown once; both sign until ``previousSecretExpiresAt``."""
    from keyframe.webhooks import service

    return service.rotate_secret(authorize(Permission.WEBHOOKS_MANAGE), webhookId)


@router.post(
    "/studio/webhooks/<webhookId>/test",
    status_code=202,
    tags=["webhooks"],
    summary="Send a webhook:ping to the endpoint",
    operation_id="testWebhook",
    openapi_extensions=answers("WEBHOOK_NOT_FOUND"),
)
def test_webhook(webhookId: WebhookId) -> Delivery:
    """202 with the queued delivery; follow it with ``GET …/deliveries``."""
    from keyframe.webhooks import service

    return service.test(authorize(Permission.WEBHOOKS_MANAGE), webhookId)


@router.get(
    "/studio/webhooks/<webhookId>/deliveries",
    tags=["webhooks"],
    summary="An endpoint's deliveries with every attempt, newest first",
    operation_id="listWebhookDeliveries",
    openapi_extensions=answers("WEBHOOK_NOT_FOUND"),
)
def list_deliveries(
    webhookId: WebhookId,
    limit: Annotated[int, Query(ge=1, le=100, description="at most this many")] = 50,
) -> DeliveryList:
    """Deliveries of the last 30 days: status, attempts (status code, latency, error)."""
    from keyframe.webhooks import service

    return service.deliveries(authorize(Permission.WEBHOOKS_MANAGE), webhookId, limit=limit)


@router.post(
    "/studio/webhooks/<webhookId>/deliveries/<deliveryId>/replay",
    status_code=202,
    tags=["webhooks"],
    summary="Send a delivery once more",
    operation_id="replayWebhookDelivery",
    openapi_extensions=answers("WEBHOOK_NOT_FOUND", "DELIVERY_NOT_FOUND"),
)
def replay_delivery(webhookId: WebhookId, deliveryId: DeliveryId) -> Delivery:
    """202 with the delivery as it stands; the new attempt is appended with ``replay: true``."""
    from keyframe.webhooks import service

    return service.replay(authorize(Permission.WEBHOOKS_MANAGE), webhookId, deliveryId)
