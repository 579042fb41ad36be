"""Failed sign-in throttling that cannot be turned against the account's owner (tenants table).

Two counters, both keyed by SHA-256 so neither e-mails nor addresses are stored in clear:

- **one account from one address** (``LOGIN#{sha256(email, address)}``): the first
  ``LOGIN_MAX_FAILURES - 1`` failed password checks cost nothing; from the ``LOGIN_MAX_FAILURES``-th
  on, each failure makes that address wait before its next try for that account, doubling from
  1 s (1, 2, 4 … s) up to ``LOGIN_LOCKOUT_SECONDS``. Only that (account, address) pair waits: the
  owner signing in from their own address is never refused because of a stranger's failures. A
  success clears the pair; otherwise its failures are forgotten ``LOGIN_FAILURE_MEMORY_SECONDS``
  (a day) after the last one, so waiting out the longest delay does not start the count again.
- **one address across accounts** (``LOGINADDR#{sha256(address)}``, password spraying): after
  ``LOGIN_ADDRESS_MAX_FAILURES`` failures from one address, every sign-in from it waits
  ``LOGIN_LOCKOUT_SECONDS``; its failures are forgotten ``LOGIN_LOCKOUT_SECONDS`` after the last
  one. A success does not clear it (one account of the attacker's own must not reset the count).

A refused attempt is 429 ``TOO_MANY_REQUESTS`` with ``Retry-After`` (whole seconds) and
``details = {"retryAfter", "limit": "account-address" | "address"}``; it is refused before the
password is checked, so waiting attempts cost no argon2 work and reveal nothing. Unknown e-mails are
counted exactly like known ones, so the answer never reveals whether an account exists. The client
address is API Gateway's ``requestContext.identity.sourceIp`` (the local stack sets it from the
socket). The cloud's WAF adds per-address rate limits in front (``infra/``). Items expire via ``ttl``.
"""

from __future__ import annotations

import hashlib
import math
from datetime import UTC, datetime

from pynamodb.exceptions import UpdateError

from keyframe import clock
from keyframe.errors import TooManyRequests
from keyframe.identity.models import THROTTLE_SK, LoginThrottleItem
from keyframe.observability import logger
from keyframe.settings import AuthSettings, load

TOO_MANY = "Too many failed sign-in attempts; try again later"
TOO_MANY_FROM_ADDRESS = "Too many failed sign-in attempts from your network; try again later"
FIRST_DELAY_SECONDS = 1
"""The wait after the first failure beyond ``LOGIN_MAX_FAILURES``; each further failure doubles it."""


def _pair_key(email: str, address: str) -> str:
    return "LOGIN#" + hashlib.sha256(f"{email}\x00{address}".encode()).hexdigest()


def _address_key(address: str) -> str:
    return "LOGINADDR#" + hashlib.sha256(address.encode()).hexdigest()


def _expiry(epoch: float) -> datetime:
    return datetime.fromtimestamp(math.ceil(epoch), UTC)


def delay_after(failures: int, settings: AuthSettings | None = None) -> int:
    """Seconds the (account, address) pair waits after its ``failures``-th failure in the window.

    0 up to ``LOGIN_MAX_FAILURES - 1``; then 1, 2, 4 … capped at ``LOGIN_LOCKOUT_SECONDS``.

    Examples
    --------
    With the defaults (5, 300): failures 1-4 → 0; 5 → 1; 6 → 2; 7 → 4; 13 → 256; 14 and on → 300.
    """
    settings = settings or load(AuthSettings)
    beyond = failures - settings.LOGIN_MAX_FAILURES
    if beyond < 0:
        return 0
    return min(FIRST_DELAY_SECONDS * 2 ** min(beyond, 30), settings.LOGIN_LOCKOUT_SECONDS)


def check(email: str, address: str) -> bool:
    """Refuse when the (``email``, ``address``) pair must still wait or ``address`` is throttled.

    Reads both counters in one strongly consistent BatchGetItem.

    Returns
    -------
    bool
        True when failures are on record for the pair (pass it to :func:`clear` after a success).

    Raises
    ------
    TooManyRequests
        (429) ``retry_after`` = whole seconds until the later of the two waits ends.
    """
    keys = [(_pair_key(email, address), THROTTLE_SK), (_address_key(address), THROTTLE_SK)]
    found = {item.pk: item for item in LoginThrottleItem.batch_get(keys, consistent_read=True)}
    pair, everywhere = found.get(keys[0][0]), found.get(keys[1][0])
    now = clock.epoch()
    waits = [
        (math.ceil(item.locked_until - now), limit, message)
        for item, limit, message in (
            (everywhere, "address", TOO_MANY_FROM_ADDRESS),
            (pair, "account-address", TOO_MANY),
        )
        if item is not None and item.locked_until and item.locked_until > now
    ]
    if waits:
        wait, limit, message = max(waits, key=lambda w: w[0])
        raise TooManyRequests(message, retry_after=wait, details={"retryAfter": wait, "limit": limit})
    return pair is not None


def _count(key: str, window: int, now: float) -> LoginThrottleItem:
    """Add one failure to the counter ``key`` (from zero when the last one is ``window`` s old).

    The item's ``ttl`` is ``2 * window`` ahead (DynamoDB deletes it some time after).
    """
    item = LoginThrottleItem(key, THROTTLE_SK)
    try:
        item.update(
            actions=[
                LoginThrottleItem.failures.add(1),
                LoginThrottleItem.last_failure_at.set(now),
                LoginThrottleItem.ttl.set(_expiry(now + 2 * window)),
            ],
            condition=LoginThrottleItem.last_failure_at > now - window,
        )
    except UpdateError as exc:
        if exc.cause_response_code != "ConditionalCheckFailedException":
            raise
        # no item or a forgotten one: start again (a concurrent failure may overwrite: a lost count)
        ttl = _expiry(now + 2 * window)
        item = LoginThrottleItem(key, THROTTLE_SK, failures=1, window_start=now, last_failure_at=now, ttl=ttl)
        item.save()
    return item


def _hold(item: LoginThrottleItem, until: float, window: int) -> None:
    item.update(
        actions=[
            LoginThrottleItem.locked_until.set(until),
            LoginThrottleItem.ttl.set(_expiry(until + window)),
        ]
    )


def record_failure(email: str, address: str) -> int:
    """Count one failed password check of ``email`` from ``address`` on both counters.

    Returns
    -------
    int
        Failures of the (account, address) pair in its current window, this one included.
    """
    settings = load(AuthSettings)
    window = settings.LOGIN_LOCKOUT_SECONDS
    memory = settings.LOGIN_FAILURE_MEMORY_SECONDS
    now = clock.epoch()
    pair = _count(_pair_key(email, address), memory, now)
    failures = int(pair.failures)
    wait = delay_after(failures, settings)
    if wait:
        _hold(pair, now + wait, memory)
        logger.warning("sign-in delayed after repeated failures", extra={"failures": failures, "wait": wait})
    everywhere = _count(_address_key(address), window, now)
    if int(everywhere.failures) >= settings.LOGIN_ADDRESS_MAX_FAILURES:
        _hold(everywhere, now + window, window)
        logger.warning("sign-in throttled for an address", extra={"failures": int(everywhere.failures)})
    return failures


def clear(email: str, address: str) -> None:
    """Forget the failures of ``email`` from ``address`` (after a successful sign-in)."""
    LoginThrottleItem(_pair_key(email, address), THROTTLE_SK).delete()
