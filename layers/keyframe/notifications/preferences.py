"""Delivery preferences per notification type, and the signed unsubscribe link of every e-mail.

A member chooses, per type and per studio, :class:`~keyframe.notifications.schemas.Delivery`:
``INBOX`` (inbox and open sockets only), ``IMMEDIATE`` (and an e-mail at once) or ``DIGEST`` (and a
daily e-mail). Types never chosen follow :data:`~keyframe.notifications.schemas.DEFAULT_DELIVERY`.
The member's time zone (IANA, default UTC) sets which day a digest lists and when it is sent.

The unsubscribe link carries a token ``base64url(json{s, u, t}) "." base64url(HMAC-SHA256)`` signed
with a key derived from the signing secret for the purpose ``"notification-unsubscribe"``
(:mod:`keyframe.keys`): it names the studio, the member and the type (``*`` for every type) and
works without signing in, for as long as the signing key (or its previous key) verifies it. Using it
sets the type(s) to ``INBOX``; nothing else can be done with it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

from keyframe import keys
from keyframe.clock import now_iso
from keyframe.errors import InvalidInput, field_details
from keyframe.notifications.models import PREFERENCES_SK, PreferencesItem, inbox_pk
from keyframe.notifications.schemas import (
    DEFAULT_DELIVERY,
    DEFAULT_TIME_ZONE,
    Delivery,
    NotificationType,
    available_time_zones,
)

PURPOSE = "notification-unsubscribe"
EVERY_TYPE = "*"


def _load(studio_id: str, user_id: str) -> PreferencesItem | None:
    try:
        return PreferencesItem.get(inbox_pk(studio_id, user_id), PREFERENCES_SK)
    except PreferencesItem.DoesNotExist:
        return None


def delivery(studio_id: str, user_id: str) -> dict[NotificationType, Delivery]:
    """Every type's delivery for the member (stored choices over the defaults; one GetItem, live table).

    A stored value that is no longer a known type or delivery is ignored (the default applies).
    """
    chosen = dict(DEFAULT_DELIVERY)
    item = _load(studio_id, user_id)
    for name, mode in ((item.modes if item else None) or {}).items():
        if name in NotificationType._value2member_map_ and mode in Delivery._value2member_map_:
            chosen[NotificationType(name)] = Delivery(mode)
    return chosen


def delivery_of(studio_id: str, user_id: str, kind: NotificationType) -> Delivery:
    """The delivery of one type for the member."""
    return delivery(studio_id, user_id)[kind]


def time_zone(studio_id: str, user_id: str) -> str:
    """The member's time zone (IANA name; ``UTC`` when never chosen or no longer known). One GetItem."""
    item = _load(studio_id, user_id)
    chosen = item.time_zone if item else None
    return chosen if chosen and chosen in available_time_zones() else DEFAULT_TIME_ZONE


def update(
    studio_id: str,
    user_id: str,
    changes: dict[NotificationType, Delivery] | None,
    zone: str | None = None,
) -> dict[NotificationType, Delivery]:
    """Set the delivery of the types in ``changes`` (the others unchanged) and, given, the time zone;
    returns every type's delivery.

    Reads and writes the member's preferences item (live table; the last of two concurrent edits wins).
    """
    item = _load(studio_id, user_id) or PreferencesItem(inbox_pk(studio_id, user_id), PREFERENCES_SK)
    item.modes = {**(item.modes or {}), **{kind.value: mode.value for kind, mode in (changes or {}).items()}}
    if zone is not None:
        item.time_zone = zone
    item.updated_at = now_iso()
    item.save()
    return delivery(studio_id, user_id)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: bytes, payload: str) -> bytes:
    return hmac.new(key, payload.encode("ascii"), hashlib.sha256).digest()


def unsubscribe_token(studio_id: str, user_id: str, kind: NotificationType | None = None) -> str:
    """The token of an unsubscribe link for one type of the member (``None``: every type)."""
    payload = _b64(
        json.dumps({"s": studio_id, "u": user_id, "t": kind.value if kind else EVERY_TYPE}).encode()
    )
    return f"{payload}.{_b64(_mac(keys.hmac_key(PURPOSE), payload))}"


def unsubscribe(token: str) -> tuple[str, str, list[NotificationType]]:
    """Check ``token`` and set its type(s) to ``INBOX`` for its member.

    Returns
    -------
    tuple
        The studio id, the user id and the types now delivered to the inbox only.

    Raises
    ------
    InvalidInput
        ``INVALID_UNSUBSCRIBE_TOKEN``: malformed, or not signed by Keyframe (tampered).
    """
    invalid = InvalidInput(
        "This unsubscribe link is not valid",
        code="INVALID_UNSUBSCRIBE_TOKEN",
        details=field_details("token", "invalid unsubscribe token"),
    )
    payload, _, signature = token.partition(".")
    try:
        given = _unb64(signature)
        if not any(hmac.compare_digest(given, _mac(k, payload)) for k in keys.hmac_keys(PURPOSE).values()):
            raise invalid
        claims = json.loads(_unb64(payload))
        studio_id, user_id, name = str(claims["s"]), str(claims["u"]), str(claims["t"])
        kinds = list(NotificationType) if name == EVERY_TYPE else [NotificationType(name)]
    except (ValueError, TypeError, KeyError, UnicodeError) as exc:
        raise invalid from exc
    update(studio_id, user_id, dict.fromkeys(kinds, Delivery.INBOX))
    return studio_id, user_id, kinds
