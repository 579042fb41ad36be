"""Failed sign-in throttling per e-mail address (tenants table, ``LOGIN#{sha256(email)}``).

Rule: after ``LOGIN_MAX_FAILURES`` failed password checks for one e-mail within
``LOGIN_LOCKOUT_SECONDS`` of the first of them, every sign-in for that e-mail (even with the right
password) answers 429 with ``Retry-After`` until ``LOGIN_LOCKOUT_SECONDS`` after the last counted
failure. Unknown e-mails are counted exactly like known ones, so the answer never reveals whether an
account exists. A successful sign-in clears the counter. Items expire through ``ttl``.
"""

from __future__ import annotations

import hashlib
import math
import time
from datetime import UTC, datetime

from pynamodb.exceptions import UpdateError

from keyframe.errors import TooManyRequests
from keyframe.identity.models import THROTTLE_SK, LoginThrottleItem, get_or_none
from keyframe.observability import logger
from keyframe.settings import AuthSettings, load

TOO_MANY = "Too many failed sign-in attempts; try again later"


def _key(email: str) -> str:
    return "LOGIN#" + hashlib.sha256(email.encode()).hexdigest()


def _expiry(epoch: float) -> datetime:
    return datetime.fromtimestamp(math.ceil(epoch), UTC)


def check(email: str) -> bool:
    """Refuse when ``email`` is locked out.

    Returns
    -------
    bool
        True when failures are on record for ``email`` (pass it to :func:`clear` after a success).

    Raises
    ------
    TooManyRequests
        (429) with ``retry_after`` = whole seconds until the lock ends.
    """
    item = get_or_none(LoginThrottleItem, _key(email), THROTTLE_SK)
    now = time.time()
    if item is not None and item.locked_until and item.locked_until > now:
        raise TooManyRequests(TOO_MANY, retry_after=math.ceil(item.locked_until - now))
    return item is not None


def record_failure(email: str) -> int:
    """Count one failed password check for ``email``; lock it once the limit is reached.

    Returns
    -------
    int
        Failures in the current window, this one included.
    """
    settings = load(AuthSettings)
    window = settings.LOGIN_LOCKOUT_SECONDS
    now = time.time()
    item = LoginThrottleItem(_key(email), THROTTLE_SK)
    try:
        item.update(
            actions=[LoginThrottleItem.failures.add(1), LoginThrottleItem.ttl.set(_expiry(now + 2 * window))],
            condition=LoginThrottleItem.window_start > now - window,
        )
    except UpdateError as exc:
        if exc.cause_response_code != "ConditionalCheckFailedException":
            raise
        # no item or an old window: start a new one (a concurrent failure may overwrite: a lost count)
        item = LoginThrottleItem(
            _key(email), THROTTLE_SK, failures=1, window_start=now, ttl=_expiry(now + 2 * window)
        )
        item.save()
    failures = int(item.failures)
    if failures >= settings.LOGIN_MAX_FAILURES:
        item.update(
            actions=[
                LoginThrottleItem.locked_until.set(now + window),
                LoginThrottleItem.ttl.set(_expiry(now + 2 * window)),
            ]
        )
        logger.warning("sign-in locked after repeated failures", extra={"failures": failures})
    return failures


def clear(email: str) -> None:
    """Forget the failures of ``email`` (after a successful sign-in)."""
    LoginThrottleItem(_key(email), THROTTLE_SK).delete()
