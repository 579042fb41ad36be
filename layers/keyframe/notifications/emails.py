"""E-mail of notifications: one at once (``IMMEDIATE``) or a daily digest (``DIGEST``).

Sent through :func:`keyframe.mail.send` (SES; on the local stack captured in the mailbox) with the
``notification`` and ``digest`` templates. Every e-mail carries an unsubscribe link (front end
``/notifications/unsubscribe?token=…``, which posts the token to ``POST /notifications/unsubscribe``)
in its footer and in a ``List-Unsubscribe`` header; the link of an immediate e-mail stops e-mail of
that type, the digest's stops every type.

The digest queue: a notification whose delivery is ``DIGEST`` also writes a queue item in the live
table, pk ``DIGEST#{yyyy-mm-dd}`` (the UTC day it arrived), sk ``STUDIO#{sid}#USER#{uid}#NOTE#{id}``,
holding its title (kept 7 days). :func:`send_digests` reads one day's partition, sends one e-mail
per member and studio, and deletes what it sent. In the cloud the ``notifications-digest`` function
runs it every day at :data:`DIGEST_HOUR_UTC`:00 UTC (an EventBridge rule, ``infra/digest.py``); on the
local stack ``python -m keyframe.local.digests`` runs it. Preferences hold no time zone, so every
member's day is the UTC day.

Once per member, studio and day: before sending, the job puts a marker ``DIGEST#{day}#SENT`` /
``STUDIO#{sid}#USER#{uid}`` with a condition that it does not exist yet. A second run of the same day
(a retry of the rule's invocation, a run by hand) finds the marker and sends nothing again; a refused
e-mail removes its marker, so the next run tries that member again. A run that stops between the
marker and SES's answer sends that member nothing that day (at most once, never twice). The day
partition is the only key without a ``STUDIO#`` prefix: each item names its studio and member, and
only this job reads it.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta

from pynamodb.attributes import TTLAttribute, UnicodeAttribute
from pynamodb.exceptions import PutError
from pynamodb.models import Model

from keyframe import mail
from keyframe.identity.models import STUDIO_SK, USER_SK, StudioItem, UserItem, get_or_none, studio_pk, user_pk
from keyframe.notifications.preferences import unsubscribe_token
from keyframe.notifications.schemas import Notification, NotificationType
from keyframe.observability import logger
from keyframe.storage.models import table_meta
from keyframe.storage.tables import LIVE

DIGEST_RETENTION_DAYS = 7
"""Queue items and sent markers expire after this many days; a run catches up that many days."""
DIGEST_HOUR_UTC = 7
"""The hour (UTC) of the daily run: the digest of the UTC day before."""
UNSUBSCRIBE_PATH = "/notifications/unsubscribe"
INBOX_PATH = "/notifications"


def digest_pk(day: str) -> str:
    """``DIGEST#{yyyy-mm-dd}``: one UTC day's digest queue."""
    return f"DIGEST#{day}"


class DigestEntry(Model):
    """A notification waiting for its member's daily digest. Table: live."""

    Meta = table_meta(LIVE)
    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    studio_id = UnicodeAttribute(attr_name="studioId")
    user_id = UnicodeAttribute(attr_name="userId")
    title = UnicodeAttribute()
    ttl = TTLAttribute(null=True)


def sent_pk(day: str) -> str:
    """``DIGEST#{yyyy-mm-dd}#SENT``: the members whose digest of that day was sent."""
    return f"DIGEST#{day}#SENT"


class DigestSent(Model):
    """The marker of one member's digest of one day in one studio (sent, or being sent). Table: live."""

    Meta = table_meta(LIVE)
    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    sent_at = UnicodeAttribute(attr_name="sentAt")
    ttl = TTLAttribute(null=True)


def _claim(day: str, studio_id: str, user_id: str) -> DigestSent | None:
    """Put the member's marker of ``day`` unless it exists (a conditional PutItem); None if it did."""
    marker = DigestSent(
        sent_pk(day),
        f"STUDIO#{studio_id}#USER#{user_id}",
        sent_at=datetime.now(UTC).isoformat(timespec="seconds"),
        ttl=timedelta(days=DIGEST_RETENTION_DAYS),
    )
    try:
        marker.save(condition=DigestSent.pk.does_not_exist())
    except PutError as exc:
        if exc.cause_response_code == "ConditionalCheckFailedException":
            return None
        raise
    return marker


def _today() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d")


def _recipient(studio_id: str, user_id: str) -> tuple[str, str] | None:
    """The member's e-mail address and the studio's name (tenants table), or None if either is gone."""
    user = get_or_none(UserItem, user_pk(user_id), USER_SK)
    studio = get_or_none(StudioItem, studio_pk(studio_id), STUDIO_SK)
    if user is None or studio is None:
        return None
    return user.email, studio.name


def _unsubscribe_link(studio_id: str, user_id: str, kind: NotificationType | None) -> str:
    return mail.link(UNSUBSCRIBE_PATH, token=unsubscribe_token(studio_id, user_id, kind))


def send_now(studio_id: str, user_id: str, note: Notification) -> bool:
    """E-mail one notification to its member at once (``notification`` template).

    Returns
    -------
    bool
        True when SES accepted it; False when the member or studio is gone or SES refused (logged).
    """
    found = _recipient(studio_id, user_id)
    if found is None:
        return False
    address, studio_name = found
    unsubscribe = _unsubscribe_link(studio_id, user_id, note.type)
    try:
        mail.send(
            address,
            "notification",
            {
                "studioName": studio_name,
                "title": note.title,
                "body": note.body or "",
                "link": mail.link(INBOX_PATH, id=note.notification_id),
                "unsubscribeLink": unsubscribe,
            },
            headers={"List-Unsubscribe": f"<{unsubscribe}>"},
        )
    except mail.MailError:
        return False  # logged by keyframe.mail; the notification is in the inbox anyway
    return True


def queue_for_digest(studio_id: str, user_id: str, note: Notification) -> None:
    """Queue ``note`` for its member's next daily digest (one PutItem, live table)."""
    DigestEntry(
        digest_pk(_today()),
        f"STUDIO#{studio_id}#USER#{user_id}#NOTE#{note.notification_id}",
        studio_id=studio_id,
        user_id=user_id,
        title=note.title,
        ttl=timedelta(days=DIGEST_RETENTION_DAYS),
    ).save()


def send_digests(day: str | None = None) -> int:
    """Send the digests of ``day`` (``yyyy-mm-dd``): one e-mail per member and studio listing the
    titles queued that day, then delete the entries sent (live table). Without ``day``: every day of
    the last :data:`DIGEST_RETENTION_DAYS` before today (UTC), oldest first, so a day whose run failed
    is caught up by the next one; a day already sent sends nothing again (see the module's markers).

    Returns
    -------
    int
        How many digest e-mails SES accepted. A member whose e-mail fails keeps their entries and
        loses their marker (the next run tries again; entries expire after
        :data:`DIGEST_RETENTION_DAYS`); the others are still sent.
    """
    if day is None:
        today = datetime.now(UTC).date()
        days = [(today - timedelta(days=n)).isoformat() for n in range(DIGEST_RETENTION_DAYS, 0, -1)]
        return sum(send_digests(d) for d in days)
    groups: dict[tuple[str, str], list[DigestEntry]] = defaultdict(list)
    for entry in DigestEntry.query(digest_pk(day)):
        groups[(entry.studio_id, entry.user_id)].append(entry)
    sent = 0
    for (studio_id, user_id), entries in groups.items():
        marker = _claim(day, studio_id, user_id)
        found = _recipient(studio_id, user_id) if marker is not None else None
        if marker is not None and found is not None:
            if not _send_digest(studio_id, user_id, found, entries):
                marker.delete()
                continue
            sent += 1
        with DigestEntry.batch_write() as batch:
            for entry in entries:
                batch.delete(entry)
    logger.info("digests sent", extra={"day": day, "digests": sent, "members": len(groups)})
    return sent


def _send_digest(
    studio_id: str, user_id: str, recipient: tuple[str, str], entries: list[DigestEntry]
) -> bool:
    """E-mail one member's digest (``digest`` template); False when SES refused (logged by keyframe.mail)."""
    address, studio_name = recipient
    unsubscribe = _unsubscribe_link(studio_id, user_id, None)
    try:
        mail.send(
            address,
            "digest",
            {
                "studioName": studio_name,
                "count": str(len(entries)),
                "items": [e.title for e in entries],
                "link": mail.link(INBOX_PATH),
                "unsubscribeLink": unsubscribe,
            },
            headers={"List-Unsubscribe": f"<{unsubscribe}>"},
        )
    except mail.MailError:
        return False
    return True
