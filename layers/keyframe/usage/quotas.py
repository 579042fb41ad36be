"""The one quota mechanism: limits from configuration, counters changed inside the caller's
transaction, refusals before the caller's change is stored.

Usage (renders and webhooks pre-check with :func:`require` before any work; the uploads API's open
relies on the reservation alone, and aborts the empty multipart upload it began when refused)::

    quotas.require(studio_id, quota, amount)          # pre-check: refuse before any work
    tx = Transaction().put(...)                       # the caller's own change
    quotas.reserve(tx, studio_id, quota, amount)      # + the counter, within the limit
    try:
        tx.commit()
    except Cancelled as exc:
        if quotas.label(quota) in exc.failed:         # no room (another request took it meanwhile)
            raise quotas.refusal(studio_id, quota, amount) from exc

and :func:`release` in the transaction that gives the amount back (abort, finish, delete). A
change of the storage counter also adds its delta to the day's item in the same transaction
(:mod:`keyframe.usage.storage_days`: storage bytes per day). A
refusal's ``code`` names the quota (:data:`CODES`) and its ``details`` are
``{"quota", "limit", "used", "requested"}``: 413 for storage bytes, 429 with ``Retry-After``
for the others.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pynamodb.exceptions import DoesNotExist
from pynamodb.models import Model

from keyframe import clock
from keyframe.errors import KeyframeError, PayloadTooLarge, TooManyRequests
from keyframe.settings import load
from keyframe.storage.transactions import Transaction
from keyframe.usage import storage_days
from keyframe.usage.config import QuotaSettings
from keyframe.usage.models import (
    RenderSecondsCounter,
    RenderSlotsCounter,
    RenderVcpusCounter,
    StorageCounter,
    WebhookEndpointsCounter,
    quota_pk,
    render_seconds_pk,
    slots_pk,
    storage_pk,
    vcpus_pk,
)
from keyframe.usage.vocabulary import Quota, QuotaFigure

CODES: dict[Quota, str] = {
    Quota.STORAGE_BYTES: "STORAGE_QUOTA_EXCEEDED",
    Quota.CONCURRENT_RENDERS: "CONCURRENT_RENDERS_QUOTA_EXCEEDED",
    Quota.RENDER_MINUTES_PER_MONTH: "RENDER_MINUTES_QUOTA_EXCEEDED",
    Quota.WEBHOOK_ENDPOINTS: "WEBHOOK_ENDPOINTS_QUOTA_EXCEEDED",
    Quota.RENDER_VCPUS: "RENDER_VCPUS_QUOTA_EXCEEDED",
}
"""The error code of a refusal, naming the quota."""

_UNITS = {
    Quota.STORAGE_BYTES: "bytes",
    Quota.CONCURRENT_RENDERS: "renders queued or running",
    Quota.RENDER_MINUTES_PER_MONTH: "render minutes this month",
    Quota.WEBHOOK_ENDPOINTS: "webhook endpoints",
    Quota.RENDER_VCPUS: "vCPUs held by renders queued or running",
}

RETRY_AFTER_SECONDS = {Quota.CONCURRENT_RENDERS: 15, Quota.WEBHOOK_ENDPOINTS: 3600, Quota.RENDER_VCPUS: 15}
"""``Retry-After`` of a 429 (render minutes: until the next month starts)."""


def limit(studio_id: str, quota: Quota) -> int:
    """The studio's limit for ``quota``: its override in ``STUDIO_QUOTAS``, else the default."""
    settings = load(QuotaSettings)
    override = settings.STUDIO_QUOTAS.get(studio_id)
    own = getattr(override, quota.value, None) if override is not None else None
    if own is not None:
        return int(own)
    return {
        Quota.STORAGE_BYTES: settings.STUDIO_QUOTA_BYTES,
        Quota.CONCURRENT_RENDERS: settings.MAX_CONCURRENT_RENDERS_PER_STUDIO,
        Quota.RENDER_MINUTES_PER_MONTH: settings.RENDER_MINUTES_PER_MONTH,
        Quota.WEBHOOK_ENDPOINTS: settings.WEBHOOK_ENDPOINTS_PER_STUDIO,
        Quota.RENDER_VCPUS: settings.RENDER_VCPUS_PER_STUDIO,
    }[quota]


def _month(moment: datetime | None = None) -> str:
    return (moment or clock.now()).astimezone(UTC).strftime("%Y-%m")


def _counter(studio_id: str, quota: Quota) -> Model:
    """The counter item of ``quota`` (this month's for render minutes)."""
    if quota is Quota.STORAGE_BYTES:
        return StorageCounter(storage_pk(studio_id))
    if quota is Quota.CONCURRENT_RENDERS:
        return RenderSlotsCounter(slots_pk(studio_id))
    if quota is Quota.RENDER_MINUTES_PER_MONTH:
        return RenderSecondsCounter(render_seconds_pk(studio_id), _month())
    if quota is Quota.RENDER_VCPUS:
        return RenderVcpusCounter(vcpus_pk(studio_id))
    return WebhookEndpointsCounter(quota_pk(studio_id))


def _scale(quota: Quota) -> int:
    """Counter units per quota unit (render minutes are counted in seconds)."""
    return 60 if quota is Quota.RENDER_MINUTES_PER_MONTH else 1


def used(studio_id: str, quota: Quota) -> int:
    """How much of ``quota`` the studio uses now (consistent read; render minutes rounded down)."""
    item = _counter(studio_id, quota)
    try:
        item.refresh(consistent_read=True)
    except DoesNotExist:
        return 0
    return max(0, int(item.used or 0)) // _scale(quota)  # type: ignore[attr-defined]


def figures(studio_id: str) -> dict[Quota, QuotaFigure]:
    """Every quota of the studio with its limit and current use (one consistent read each)."""
    return {q: QuotaFigure(limit=limit(studio_id, q), used=used(studio_id, q)) for q in Quota}


def label(quota: Quota) -> str:
    """The label of ``quota``'s counter update in a :class:`Transaction` (``Cancelled.failed``)."""
    return f"quota:{quota.value}"


def _changes(quota: Quota, action: Any) -> list[Any]:
    """The counter's update actions: the storage counter also counts its changes (``changes + 1``)."""
    if quota is Quota.STORAGE_BYTES:
        return [action, StorageCounter.changes.add(1)]
    return [action]


def reserve(tx: Transaction, studio_id: str, quota: Quota, amount: int) -> None:
    """Add ``amount`` to the counter in ``tx``, on condition that it stays within the limit.

    When the condition fails the whole transaction is cancelled with :func:`label` in
    ``Cancelled.failed``; answer it with :func:`refusal`.
    """
    item: Any = _counter(studio_id, quota)
    ceiling = limit(studio_id, quota) * _scale(quota) - amount
    model: Any = type(item)
    within = model.used <= ceiling  # an amount above the whole limit fails even on a counter never written
    tx.update(
        label(quota),
        item,
        _changes(quota, model.used.add(amount)),
        condition=(model.used.does_not_exist() | within) if ceiling >= 0 else within,
    )
    if quota is Quota.STORAGE_BYTES:
        storage_days.stage(tx, studio_id, amount)


def release(tx: Transaction, studio_id: str, quota: Quota, amount: int) -> None:
    """Take ``amount`` off the counter in ``tx``, on condition that it holds at least that much.

    The caller gives an amount back exactly once (its own conditional status change); the condition
    makes a counter that would go below 0 cancel the transaction instead (:func:`label` in
    ``Cancelled.failed``), so a counter is never negative.
    """
    item: Any = _counter(studio_id, quota)
    model: Any = type(item)
    tx.update(label(quota), item, _changes(quota, model.used.add(-amount)), condition=model.used >= amount)
    if quota is Quota.STORAGE_BYTES:
        storage_days.stage(tx, studio_id, -amount)


def add_render_seconds(studio_id: str, seconds: float, *, finished_at: datetime | None = None) -> None:
    """Count ``seconds`` of a finished render attempt in its month (renders table; an atomic ADD).

    Counted after the attempt ran, so a month's last renders may pass the limit; the next request
    is then refused (:func:`require`).
    """
    whole = max(0, round(seconds))
    if not whole:
        return
    item = RenderSecondsCounter(render_seconds_pk(studio_id), _month(finished_at))
    item.update(actions=[RenderSecondsCounter.used.add(whole)])


def refusal(
    studio_id: str,
    quota: Quota,
    requested: int,
    *,
    current: int | None = None,
    retry_after: int | None = None,
) -> KeyframeError:
    """The error answering a request of ``requested`` more units of ``quota`` that does not fit.

    Parameters
    ----------
    current:
        The use already read (else read now).
    retry_after:
        Seconds for ``Retry-After`` (default :data:`RETRY_AFTER_SECONDS`; render minutes: until the
        next UTC month).

    Returns
    -------
    PayloadTooLarge or TooManyRequests
        413 for storage bytes, 429 with ``Retry-After`` for the others; ``code`` from :data:`CODES`,
        ``details = {"quota", "limit", "used", "requested"}``.
    """
    cap = limit(studio_id, quota)
    now_used = used(studio_id, quota) if current is None else current
    details = {"quota": quota.value, "limit": cap, "used": now_used, "requested": requested}
    message = (
        f"Your studio's {quota.value} quota is {cap} {_UNITS[quota]} and {now_used} are used; "
        f"this request needs {requested} more"
    )
    if quota is Quota.STORAGE_BYTES:
        return PayloadTooLarge(message, code=CODES[quota], details=details)
    if retry_after is None and quota is Quota.RENDER_MINUTES_PER_MONTH:
        now = clock.now().astimezone(UTC)
        next_month = datetime(now.year + now.month // 12, now.month % 12 + 1, 1, tzinfo=UTC)
        retry_after = int((next_month - now).total_seconds())
    elif retry_after is None:
        retry_after = RETRY_AFTER_SECONDS[quota]
    return TooManyRequests(message, code=CODES[quota], retry_after=retry_after, details=details)


def require(studio_id: str, quota: Quota, requested: int) -> int:
    """Refuse before any work starts when ``requested`` more units of ``quota`` do not fit.

    Render minutes are refused once the month's minutes are spent (``requested`` 0: a render's
    length is known only when it ends).

    Returns
    -------
    int
        The units used now (for the caller's messages).

    Raises
    ------
    PayloadTooLarge, TooManyRequests
        See :func:`refusal`.
    """
    now_used = used(studio_id, quota)
    cap = limit(studio_id, quota)
    over = now_used >= cap if quota is Quota.RENDER_MINUTES_PER_MONTH else now_used + requested > cap
    if over:
        raise refusal(studio_id, quota, requested, current=now_used)
    return now_used


def require_webhook_endpoint(studio_id: str) -> None:
    """Refuse a new webhook endpoint when the studio has ``webhookEndpoints`` of them already.

    For the webhooks domain: call it before creating an endpoint, and :func:`reserve` /
    :func:`release` ``Quota.WEBHOOK_ENDPOINTS`` by 1 in the transactions that create / delete one.

    Raises
    ------
    TooManyRequests
        ``WEBHOOK_ENDPOINTS_QUOTA_EXCEEDED`` (429).
    """
    require(studio_id, Quota.WEBHOOK_ENDPOINTS, 1)
