"""The ADMIN routes' logic: endpoints, their secret, their deliveries (catalog table, delivery queue).

Callers are authorized by the routes (``webhooks:manage``, ADMIN only).

Every change is one transaction with its activity entry (``webhook:created|updated|deleted`` and
``webhook:secret-rotated``, :func:`keyframe.storage.activity.record`) and, for all but the
rotation, its durable event for the studio room (the UI of the studio's settings). The studio is
always the caller's; another studio's endpoint ids answer 404.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from keyframe import clock
from keyframe.errors import NotFound
from keyframe.events.publisher import publish_now
from keyframe.events.rooms import STUDIO_ROOM
from keyframe.events.types import EventType
from keyframe.identity.permissions import Principal
from keyframe.observability import logger
from keyframe.outbox.records import DomainEvent, add_to
from keyframe.settings import load
from keyframe.storage import activity
from keyframe.storage.transactions import Cancelled, Transaction
from keyframe.usage import quotas
from keyframe.usage.quotas import Quota
from keyframe.webhooks import dispatch, signing, targets
from keyframe.webhooks.models import DeliveryItem, WebhookItem, deliveries_pk, webhook_sk, webhooks_pk
from keyframe.webhooks.schemas import (
    Delivery,
    DeliveryAttempt,
    DeliveryList,
    SecretRotated,
    Webhook,
    WebhookCreate,
    WebhookCreated,
    WebhookList,
    WebhookUpdate,
)
from keyframe.webhooks.settings import WebhookSettings


def _get(studio_id: str, webhook_id: str) -> WebhookItem:
    try:
        return WebhookItem.get(webhooks_pk(studio_id), webhook_sk(webhook_id), consistent_read=True)
    except WebhookItem.DoesNotExist:
        raise NotFound("No such webhook endpoint", code="WEBHOOK_NOT_FOUND") from None


def _check_url(url: str) -> None:
    targets.check(url, allow_local_http=load(WebhookSettings).WEBHOOK_ALLOW_LOCAL_HTTP)


def _commit(
    principal: Principal,
    item: WebhookItem,
    tx: Transaction,
    *,
    action: str,
    details: dict[str, Any],
    event_type: str | None,
) -> None:
    """Commit ``tx`` with the activity entry and (if ``event_type``) the event; then publish it."""
    event = None
    if event_type is not None:
        event = DomainEvent.new(
            principal.studio_id,
            event_type,
            dispatch.to_webhook(item).to_json(),
            rooms=[STUDIO_ROOM],
            subject=f"webhook/{item.webhook_id}",
            correlation_id=logger.get_correlation_id(),
        )
        add_to(tx, event)
    activity.record(
        principal.studio_id, principal.user_id, action, "webhook", str(item.webhook_id), details,
        transaction=tx,
    )  # fmt: skip
    if event is not None:
        publish_now(event)


def create(principal: Principal, body: WebhookCreate) -> WebhookCreated:
    """Create an endpoint; its secret is in the answer, and only there.

    Raises
    ------
    InvalidInput
        ``WEBHOOK_URL_NOT_HTTPS``, ``WEBHOOK_URL_UNRESOLVED``, ``WEBHOOK_URL_PRIVATE`` (400).
    TooManyRequests
        ``WEBHOOK_ENDPOINTS_QUOTA_EXCEEDED`` (429, :mod:`keyframe.usage.quotas`): checked before
        anything is stored, and the studio's counter is reserved in the same transaction.
    """
    quotas.require_webhook_endpoint(principal.studio_id)  # keyframe.usage: 429 before anything is stored
    _check_url(body.url)
    now = clock.now_iso()
    webhook_id = uuid.uuid4().hex
    secret = signing.new_secret()
    item = WebhookItem(
        webhooks_pk(principal.studio_id),
        webhook_sk(webhook_id),
        webhook_id=webhook_id,
        studio_id=principal.studio_id,
        url=body.url,
        event_types=body.durable_types(),
        description=body.description,
        active=body.active,
        secret=secret,
        created_at=now,
        created_by=principal.user_id,
        updated_at=now,
    )
    tx = Transaction().put("webhook", item, condition=WebhookItem.pk.does_not_exist())
    quotas.reserve(tx, principal.studio_id, Quota.WEBHOOK_ENDPOINTS, 1)  # exact under concurrency
    details = {"url": body.url, "eventTypes": item.event_types, "active": body.active}
    try:
        _commit(
            principal,
            item,
            tx,
            action=EventType.WEBHOOK_CREATED,
            details=details,
            event_type=EventType.WEBHOOK_CREATED,
        )
    except Cancelled as exc:
        if quotas.label(Quota.WEBHOOK_ENDPOINTS) in exc.failed:  # another request took the last one
            raise quotas.refusal(principal.studio_id, Quota.WEBHOOK_ENDPOINTS, 1) from exc
        raise
    return WebhookCreated(**dispatch.to_webhook(item).model_dump(), secret=secret)


def list_webhooks(principal: Principal) -> WebhookList:
    """The studio's endpoints (ADMIN)."""
    items = sorted(dispatch.endpoints(principal.studio_id), key=lambda i: str(i.created_at))
    return WebhookList(items=[dispatch.to_webhook(i) for i in items])


def get(principal: Principal, webhook_id: str) -> Webhook:
    """One endpoint (404 ``WEBHOOK_NOT_FOUND`` outside the studio)."""
    return dispatch.to_webhook(_get(principal.studio_id, webhook_id))


def update(principal: Principal, webhook_id: str, body: WebhookUpdate) -> Webhook:
    """Change URL, event types, description or ``active`` (turning it on clears its failures).

    Raises
    ------
    NotFound
        ``WEBHOOK_NOT_FOUND``.
    InvalidInput
        A refused URL (as :func:`create`).
    """
    item = _get(principal.studio_id, webhook_id)
    changes = body.model_dump(exclude_unset=True)
    if body.url is not None:
        _check_url(body.url)
        item.url = body.url
    if body.event_types is not None:
        item.event_types = WebhookCreate(url=str(item.url), event_types=body.event_types).durable_types()  # type: ignore[assignment]
    if "description" in changes:
        item.description = body.description
    if body.active is not None:
        item.active = body.active
        if body.active:
            item.failing_since = None
            item.disabled_reason = None
    item.updated_at = clock.now_iso()
    revision = int(item.revision or 1)
    item.revision = revision + 1
    tx = Transaction().put("webhook", item, condition=WebhookItem.revision == revision)
    details = {k: v for k, v in body.to_json().items() if k in {"url", "eventTypes", "active", "description"}}
    _commit(
        principal,
        item,
        tx,
        action=EventType.WEBHOOK_UPDATED,
        details=details,
        event_type=EventType.WEBHOOK_UPDATED,
    )
    return dispatch.to_webhook(item)


def delete(principal: Principal, webhook_id: str) -> None:
    """Delete an endpoint (its deliveries expire with their 30 days); 404 when unknown."""
    item = _get(principal.studio_id, webhook_id)
    tx = Transaction().delete("webhook", item, condition=WebhookItem.pk.exists())
    quotas.release(tx, principal.studio_id, Quota.WEBHOOK_ENDPOINTS, 1)
    _commit(
        principal,
        item,
        tx,
        action=EventType.WEBHOOK_DELETED,
        details={"url": str(item.url)},
        event_type=EventType.WEBHOOK_DELETED,
    )


def rotate_secret(principal: Principal, webhook_id: str) -> SecretRotated:
    """A new secret (shown once); the previous one keeps signing for ``WEBHOOK_SECRET_GRACE_SECONDS``."""
    item = _get(principal.studio_id, webhook_id)
    grace = load(WebhookSettings).WEBHOOK_SECRET_GRACE_SECONDS
    expires = clock.iso(clock.now() + timedelta(seconds=grace))
    secret = signing.new_secret()
    revision = int(item.revision or 1)
    tx = Transaction().update(
        "webhook",
        item,
        actions=[
            WebhookItem.previous_secret.set(str(item.secret)),
            WebhookItem.previous_secret_expires_at.set(expires),
            WebhookItem.secret.set(secret),
            WebhookItem.updated_at.set(clock.now_iso()),
            WebhookItem.revision.set(revision + 1),
        ],
        condition=WebhookItem.revision == revision,
    )
    _commit(
        principal,
        item,
        tx,
        action="webhook:secret-rotated",
        details={"previousSecretExpiresAt": expires},
        event_type=None,
    )
    return SecretRotated(webhook_id=webhook_id, secret=secret, previous_secret_expires_at=expires)


def to_delivery(item: DeliveryItem) -> Delivery:
    """The API view of a delivery."""
    return Delivery(
        delivery_id=str(item.delivery_id),
        webhook_id=str(item.webhook_id),
        event_id=str(item.event_id),
        event_type=str(item.event_type),
        status=str(item.status),
        attempt_count=int(item.attempt_count or 0),
        attempts=[DeliveryAttempt.model_validate(a) for a in item.attempts or []],
        created_at=str(item.created_at),
        next_attempt_at=item.next_attempt_at,
    )


def deliveries(principal: Principal, webhook_id: str, *, limit: int = 50) -> DeliveryList:
    """The endpoint's deliveries, newest first (one Query, at most ``limit``)."""
    _get(principal.studio_id, webhook_id)
    items = DeliveryItem.query(
        deliveries_pk(principal.studio_id, webhook_id),
        DeliveryItem.sk.startswith("DELIVERY#"),
        scan_index_forward=False,
        limit=limit,
    )
    return DeliveryList(items=[to_delivery(i) for i in list(items)[:limit]])


def _delivery(principal: Principal, webhook_id: str, delivery_id: str) -> DeliveryItem:
    found = dispatch._delivery(principal.studio_id, webhook_id, delivery_id)
    if found is None:
        raise NotFound("No such delivery of this webhook endpoint", code="DELIVERY_NOT_FOUND")
    return found


def replay(principal: Principal, webhook_id: str, delivery_id: str) -> Delivery:
    """Send a delivery once more (queued now; its attempt is marked ``replay``); 202."""
    _get(principal.studio_id, webhook_id)
    found = _delivery(principal, webhook_id, delivery_id)
    dispatch.send(principal.studio_id, webhook_id, delivery_id, replay=True)
    return to_delivery(found)


def test(principal: Principal, webhook_id: str) -> Delivery:
    """Queue a ``webhook:ping`` delivery to the endpoint (even an inactive one); 202."""
    endpoint = _get(principal.studio_id, webhook_id)
    delivery = dispatch.new_delivery(endpoint, dispatch.ping_envelope(principal.studio_id, webhook_id))
    delivery.queued = True
    delivery.save()
    dispatch.send(principal.studio_id, webhook_id, str(delivery.delivery_id), replay=not endpoint.active)
    return to_delivery(delivery)
