"""Webhook delivery: the outbox consumer that queues deliveries, and the queue consumer that sends them.

Flow: :func:`consume` is registered with :mod:`keyframe.outbox.stream` (the ``outbox-stream``
function). For each stored event it finds the studio's active endpoints that want its type, stores
one delivery per endpoint (idempotent: the delivery id is derived from endpoint and event) and puts a
message ``{studioId, webhookId, deliveryId}`` on the delivery queue (SQS; on the local stack moto's
SQS, polled by the stack). The ``webhooks-deliver`` function hands each message to :func:`attempt`:

- it POSTs the event envelope ``{id, type, studio, occurredAt, subject, data}`` with the Standard
  Webhooks headers (:mod:`keyframe.webhooks.signing`) within ``WEBHOOK_TIMEOUT_SECONDS`` (10 s),
  never following a redirect, after checking the target again (:mod:`keyframe.webhooks.targets`);
- a 2xx answer ends the delivery (``SUCCEEDED``) and clears the endpoint's ``failingSince``;
- anything else (another status, a timeout, a closed connection, a refused target) is recorded as an
  attempt and retried after an exponential pause with jitter (:func:`retry_delay`) by a new, delayed
  message, until ``WEBHOOK_RETRY_WINDOW_SECONDS`` (24 h) after the first failure (then ``FAILED``);
- an endpoint whose failures go back more than that window is disabled: ``active`` false, a
  ``webhook:disabled`` event (stored in the same transaction) and an activity entry.

Every attempt, whatever its end, is in the delivery's ``attempts`` (``GET …/deliveries``). Receivers
deduplicate by ``webhook-id`` (the event id): at-least-once delivery may repeat an event.
"""

from __future__ import annotations

import json
import random
import time
from datetime import datetime, timedelta
from typing import Any

import requests
from pynamodb.exceptions import PutError

from keyframe import clock
from keyframe.errors import InvalidInput
from keyframe.events.publisher import publish_now
from keyframe.events.rooms import STUDIO_ROOM
from keyframe.events.types import EventType
from keyframe.observability import logger
from keyframe.outbox.records import DomainEvent, add_to
from keyframe.settings import load
from keyframe.storage import activity, clients
from keyframe.storage.transactions import Transaction
from keyframe.webhooks import signing, targets
from keyframe.webhooks.models import (
    DELIVERY_RETENTION,
    MAX_ATTEMPTS_KEPT,
    DeliveryItem,
    DeliveryStatus,
    WebhookItem,
    deliveries_pk,
    delivery_id,
    delivery_sk,
    webhook_sk,
    webhooks_pk,
)
from keyframe.webhooks.schemas import Webhook
from keyframe.webhooks.settings import QueueSettings, WebhookSettings

MAX_SQS_DELAY_SECONDS = 900
"""SQS's longest ``DelaySeconds``: a longer pause is waited out in several hops (``notBefore``)."""
PING_TYPE = "webhook:ping"
"""Type of the event ``POST /studio/webhooks/{id}/test`` sends (not a domain event: never stored)."""
_session = requests.Session()


def _sqs(region: str | None) -> Any:
    return clients.client("sqs", region_name=region)


def _queue_url() -> str:
    return load(QueueSettings).WEBHOOK_QUEUE_URL


def send(studio_id: str, webhook_id: str, delivery: str, *, delay: float = 0, replay: bool = False) -> None:
    """Put one delivery message on the queue, delivered after ``delay`` seconds (SQS hops of 900 s).

    Raises
    ------
    botocore.exceptions.ClientError
        SQS refused the message.
    """
    body = {"studioId": studio_id, "webhookId": webhook_id, "deliveryId": delivery, "replay": replay}
    if delay > MAX_SQS_DELAY_SECONDS:
        body["notBefore"] = clock.iso(clock.now() + timedelta(seconds=delay))
    _sqs(None).send_message(
        QueueUrl=_queue_url(),
        MessageBody=json.dumps(body),
        DelaySeconds=min(MAX_SQS_DELAY_SECONDS, max(0, round(delay))),
    )


def endpoints(studio_id: str) -> list[WebhookItem]:
    """Every endpoint of ``studio_id`` (catalog table, one Query)."""
    return list(WebhookItem.query(webhooks_pk(studio_id), WebhookItem.sk.startswith("WEBHOOK#")))


def new_delivery(endpoint: WebhookItem, envelope: dict[str, Any]) -> DeliveryItem:
    """The delivery of ``envelope`` (``{id, type, …}``) to ``endpoint`` (not written)."""
    did = delivery_id(str(endpoint.webhook_id), envelope["id"], envelope["occurredAt"])
    return DeliveryItem(
        deliveries_pk(str(endpoint.studio_id), str(endpoint.webhook_id)),
        delivery_sk(did),
        delivery_id=did,
        webhook_id=endpoint.webhook_id,
        studio_id=endpoint.studio_id,
        event_id=envelope["id"],
        event_type=envelope["type"],
        payload=envelope,
        status=DeliveryStatus.PENDING,
        attempts=[],
        attempt_count=0,
        created_at=clock.now_iso(),
        ttl=DELIVERY_RETENTION,
    )


def consume(event: DomainEvent) -> None:
    """The outbox consumer: one delivery per endpoint of the event's studio that wants its type.

    Idempotent by event id: a delivery that exists already is queued again only if it was never
    marked queued (the first run may have stopped between storing and queueing it).

    Raises
    ------
    Exception
        A DynamoDB or SQS failure: the stream hands the event again.
    """
    for endpoint in endpoints(event.studio):
        if not endpoint.wants(event.type):
            continue
        delivery = new_delivery(endpoint, event.envelope())
        try:
            delivery.save(condition=DeliveryItem.pk.does_not_exist())
        except PutError:
            existing = _delivery(event.studio, str(endpoint.webhook_id), str(delivery.delivery_id))
            if existing is None or existing.queued:
                continue
            delivery = existing
        send(event.studio, str(endpoint.webhook_id), str(delivery.delivery_id))
        delivery.update(actions=[DeliveryItem.queued.set(True)])


def _delivery(studio_id: str, webhook_id: str, did: str) -> DeliveryItem | None:
    try:
        return DeliveryItem.get(deliveries_pk(studio_id, webhook_id), delivery_sk(did), consistent_read=True)
    except DeliveryItem.DoesNotExist:
        return None


def _endpoint(studio_id: str, webhook_id: str) -> WebhookItem | None:
    try:
        return WebhookItem.get(webhooks_pk(studio_id), webhook_sk(webhook_id), consistent_read=True)
    except WebhookItem.DoesNotExist:
        return None


def signing_secrets(endpoint: WebhookItem, now: datetime) -> list[str]:
    """The secrets that sign now: the current one, and the previous one until its grace ends."""
    found = [str(endpoint.secret)]
    expires = endpoint.previous_secret_expires_at
    if endpoint.previous_secret and expires and clock.iso(now) < expires:
        found.append(str(endpoint.previous_secret))
    return found


def retry_delay(failures: int, settings: WebhookSettings | None = None) -> float:
    """Seconds before the next attempt after ``failures`` failed ones (>= 1).

    Exponential with "equal jitter": ``d/2 + U(0, d/2)`` where ``d = min(max, base · 2^(failures-1))``,
    so retries spread out but never come at once.
    """
    config = settings or load(WebhookSettings)
    ceiling = min(config.WEBHOOK_RETRY_MAX_SECONDS, config.WEBHOOK_RETRY_BASE_SECONDS * 2 ** (failures - 1))
    return ceiling / 2 + random.uniform(0, ceiling / 2)


def post(url: str, body: str, headers: dict[str, str], timeout: float) -> tuple[int | None, int, str | None]:
    """POST ``body`` to ``url``; returns ``(status, latency ms, error)`` (status ``None`` when no answer).

    Redirects are not followed (a 3xx is an answer, not a success).
    """
    started = time.perf_counter()
    try:
        response = _session.post(
            url, data=body.encode(), headers=headers, timeout=timeout, allow_redirects=False, stream=True
        )
        response.close()
    except requests.Timeout:
        return None, _ms(started), f"timed out after {timeout:g} s"
    except requests.RequestException as exc:
        return None, _ms(started), f"{type(exc).__name__}: {str(exc)[:300]}"
    error = None if 200 <= response.status_code < 300 else f"answered {response.status_code}"
    return response.status_code, _ms(started), error


def _ms(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)


def attempt(message: dict[str, Any]) -> str:
    """Send one queued delivery once; record the attempt; schedule a retry or give up.

    Parameters
    ----------
    message:
        ``{studioId, webhookId, deliveryId, replay?, notBefore?}`` from the queue.

    Returns
    -------
    str
        What happened: ``SUCCEEDED``, ``RETRYING``, ``FAILED``, ``WAITING`` (not due yet), or
        ``SKIPPED`` (the delivery or endpoint is gone, inactive, or the delivery already ended).

    Raises
    ------
    Exception
        A DynamoDB or SQS failure (the queue hands the message again).
    """
    studio_id, webhook_id, did = message["studioId"], message["webhookId"], message["deliveryId"]
    replay = bool(message.get("replay"))
    not_before = message.get("notBefore")
    now = clock.now()
    if not_before and clock.iso(now) < not_before:
        remaining = (datetime.fromisoformat(not_before.replace("Z", "+00:00")) - now).total_seconds()
        send(studio_id, webhook_id, did, delay=remaining, replay=replay)
        return "WAITING"
    delivery = _delivery(studio_id, webhook_id, did)
    endpoint = _endpoint(studio_id, webhook_id)
    if delivery is None or endpoint is None:
        return "SKIPPED"
    if not replay and (delivery.status != DeliveryStatus.PENDING or not endpoint.active):
        return "SKIPPED"
    settings = load(WebhookSettings)
    status, latency, error = _send_once(endpoint, delivery, settings)
    fields: dict[str, Any] = {
        "at": clock.iso(now),
        "statusCode": status,
        "latencyMs": latency,
        "error": error,
    }
    record = {k: v for k, v in fields.items() if v is not None} | ({"replay": True} if replay else {})
    attempts = [*list(delivery.attempts or []), record][-MAX_ATTEMPTS_KEPT:]
    count = int(delivery.attempt_count or 0) + 1
    if error is None:
        delivery.update(
            actions=[
                DeliveryItem.status.set(DeliveryStatus.SUCCEEDED),
                DeliveryItem.attempts.set(attempts),
                DeliveryItem.attempt_count.set(count),
                DeliveryItem.next_attempt_at.remove(),
            ]
        )
        if endpoint.failing_since:
            endpoint.update(actions=[WebhookItem.failing_since.remove()])
        return DeliveryStatus.SUCCEEDED
    return _failed(
        endpoint, delivery, attempts=attempts, count=count, now=now, settings=settings, replay=replay
    )


def _send_once(
    endpoint: WebhookItem, delivery: DeliveryItem, settings: WebhookSettings
) -> tuple[int | None, int | None, str | None]:
    try:
        targets.check(str(endpoint.url), allow_local_http=settings.WEBHOOK_ALLOW_LOCAL_HTTP)
    except InvalidInput as exc:
        return None, None, f"target refused: {exc.message}"
    now = clock.now()
    body = json.dumps(delivery.payload, separators=(",", ":"))
    headers = signing.headers(str(delivery.event_id), body, signing_secrets(endpoint, now), now)
    return post(str(endpoint.url), body, headers, settings.WEBHOOK_TIMEOUT_SECONDS)


def _failed(
    endpoint: WebhookItem,
    delivery: DeliveryItem,
    *,
    attempts: list[dict[str, Any]],
    count: int,
    now: datetime,
    settings: WebhookSettings,
    replay: bool,
) -> str:
    window = timedelta(seconds=settings.WEBHOOK_RETRY_WINDOW_SECONDS)
    first_failure = delivery.first_failure_at or clock.iso(now)
    failures = sum(1 for a in attempts if a.get("error")) or 1
    give_up = replay or now - _parse(first_failure) >= window
    delay = 0.0 if give_up else retry_delay(failures, settings)
    next_at = None if give_up else clock.iso(now + timedelta(seconds=delay))
    actions: list[Any] = [
        DeliveryItem.attempts.set(attempts),
        DeliveryItem.attempt_count.set(count),
        DeliveryItem.first_failure_at.set(first_failure),
    ]
    if replay:
        pass  # a replay is one more attempt; the delivery's own status and schedule stay
    elif give_up:
        actions += [DeliveryItem.status.set(DeliveryStatus.FAILED), DeliveryItem.next_attempt_at.remove()]
    else:
        actions.append(DeliveryItem.next_attempt_at.set(str(next_at)))
    delivery.update(actions=actions)
    if not endpoint.failing_since:
        endpoint.update(actions=[WebhookItem.failing_since.set(clock.iso(now))])
    elif now - _parse(str(endpoint.failing_since)) >= window and endpoint.active:
        disable(endpoint, reason=f"every delivery failed since {endpoint.failing_since}")
        return DeliveryStatus.FAILED
    if replay or give_up:
        return DeliveryStatus.FAILED
    send(str(endpoint.studio_id), str(endpoint.webhook_id), str(delivery.delivery_id), delay=delay)
    return "RETRYING"


def _parse(moment: str) -> datetime:
    return datetime.fromisoformat(moment.replace("Z", "+00:00"))


def disable(endpoint: WebhookItem, *, reason: str) -> None:
    """Turn ``endpoint`` off with ``reason``: one transaction with its ``webhook:disabled`` event and
    activity entry (actor: the system), then the event is published."""
    now = clock.now_iso()
    endpoint.active = False
    endpoint.disabled_reason = reason
    endpoint.updated_at = now
    view = to_webhook(endpoint)
    event = DomainEvent.new(
        str(endpoint.studio_id),
        EventType.WEBHOOK_DISABLED,
        view.to_json(),
        rooms=[STUDIO_ROOM],
        subject=f"webhook/{endpoint.webhook_id}",
    )
    tx = Transaction()
    tx.update(
        "webhook",
        endpoint,
        actions=[
            WebhookItem.active.set(False),
            WebhookItem.disabled_reason.set(reason),
            WebhookItem.updated_at.set(now),
            WebhookItem.revision.add(1),
        ],
        condition=WebhookItem.active == True,  # noqa: E712 - a DynamoDB condition, not a comparison
    )
    add_to(tx, event)
    activity.record(
        str(endpoint.studio_id), None, EventType.WEBHOOK_DISABLED, "webhook", str(endpoint.webhook_id),
        {"url": str(endpoint.url), "reason": reason}, transaction=tx,
    )  # fmt: skip
    logger.warning("webhook endpoint disabled", extra={"webhook_id": endpoint.webhook_id, "reason": reason})
    publish_now(event)


def to_webhook(item: WebhookItem) -> Webhook:
    """The API view of an endpoint (no secret)."""
    return Webhook(
        webhook_id=str(item.webhook_id),
        url=str(item.url),
        event_types=[str(t) for t in item.event_types or []],
        description=item.description,
        active=bool(item.active),
        disabled_reason=item.disabled_reason,
        failing_since=item.failing_since,
        previous_secret_expires_at=item.previous_secret_expires_at,
        created_at=str(item.created_at),
        created_by=str(item.created_by),
        updated_at=str(item.updated_at),
    )


def handle_queue(event: dict[str, Any]) -> dict[str, list[dict[str, str]]]:
    """The ``webhooks-deliver`` function: attempt each SQS message; report the ones to hand again.

    Returns
    -------
    dict
        ``{"batchItemFailures": [{"itemIdentifier": messageId}]}`` for messages whose handling failed
        for an infrastructure reason (a receiver's failure is a retry message, not a batch failure).
    """
    failures = []
    for record in event.get("Records", []):
        try:
            outcome = attempt(json.loads(record["body"]))
            logger.info("webhook attempt", extra={"outcome": outcome, "message_id": record.get("messageId")})
        except Exception:
            logger.exception("webhook attempt failed", extra={"message_id": record.get("messageId")})
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}


def ping_envelope(studio_id: str, webhook_id: str) -> dict[str, Any]:
    """The envelope ``POST …/test`` sends: type ``webhook:ping``, a fresh event id."""
    ping = DomainEvent.new(studio_id, PING_TYPE, {"webhookId": webhook_id}, subject=f"webhook/{webhook_id}")
    return ping.envelope()
