"""E-mail of notifications: one at once (``IMMEDIATE``) or a daily digest (``DIGEST``).

Sent through :func:`keyframe.mail.send` (SES; on the local stack captured in the mailbox) with the
``notification`` and ``digest`` templates. Every e-mail carries an unsubscribe link (front end
``/notifications/unsubscribe?token=…``, which posts the token to ``POST /notifications/unsubscribe``)
in its footer and in a ``List-Unsubscribe`` header; the link of an immediate e-mail stops e-mail of
that type, the digest's stops every type.

The digest queue: a notification whose delivery is ``DIGEST`` also writes a queue item in the live
table, pk ``DIGEST#{yyyy-mm-dd}`` (the day it arrived, in the member's time zone), sk
``STUDIO#{sid}#USER#{uid}#NOTE#{id}``, holding its title and the member's time zone (kept 7 days). The
day is the member's own: their ``timeZone`` preference (IANA, default UTC). :func:`send_digests` reads
the day partitions, sends one e-mail per member and studio whose digest is due (the morning after their
day, :data:`DIGEST_HOUR` o'clock in their zone), and deletes what it sent. In the cloud the
``notifications-digest`` function runs it every hour (an EventBridge rule, ``infra/digest.py``), so each
member's digest comes within the hour after :data:`DIGEST_HOUR`:00 local time; on the local stack
``python -m keyframe.local.digests`` runs it.

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
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pynamodb.attributes import TTLAttribute, UnicodeAttribute
from pynamodb.exceptions import PutError
from pynamodb.models import Model

from keyframe import clock, mail
from keyframe.identity.models import STUDIO_SK, USER_SK, StudioItem, UserItem, get_or_none, studio_pk, user_pk
from keyframe.notifications import preferences
from keyframe.notifications.preferences import unsubscribe_token
from keyframe.notifications.schemas import Notification, NotificationType
from keyframe.observability import logger
from keyframe.storage.models import table_meta
from keyframe.storage.tables import LIVE

DIGEST_RETENTION_DAYS = 7
"""Queue items and sent markers expire after this many days; a run catches up that many days."""
DIGEST_HOUR = 7
"""A member's digest of a day is due at this hour (their local time) the morning after."""
UNSUBSCRIBE_PATH = "/notifications/unsubscribe"
INBOX_PATH = "/notifications"


def digest_pk(day: str) -> str:
    """``DIGEST#{yyyy-mm-dd}``: one day's digest queue (each member's own local day)."""
    return f"DIGEST#{day}"


class DigestEntry(Model):
    """A notification waiting for its member's daily digest. Table: live."""

    Meta = table_meta(LIVE)
    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    studio_id = UnicodeAttribute(attr_name="studioId")
    user_id = UnicodeAttribute(attr_name="userId")
    title = UnicodeAttribute()
    time_zone = UnicodeAttribute(null=True, attr_name="timeZone")
    """The member's time zone when it was queued (IANA; absent: UTC)."""
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
        sent_at=clock.now_iso(),
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
    return clock.now().strftime("%Y-%m-%d")


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


def _zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def due_at(day: str, zone: str | None) -> datetime:
    """When the digest of local ``day`` in ``zone`` is due: :data:`DIGEST_HOUR`:00 local time the
    next day (as an aware datetime)."""
    morning = datetime.combine(date.fromisoformat(day) + timedelta(days=1), time(DIGEST_HOUR))
    return morning.replace(tzinfo=_zone(zone))


def queue_for_digest(studio_id: str, user_id: str, note: Notification) -> None:
    """Queue ``note`` for its member's digest of their local day (their preferences: one GetItem; one
    PutItem, live table)."""
    zone = preferences.time_zone(studio_id, user_id)
    DigestEntry(
        digest_pk(clock.now().astimezone(_zone(zone)).date().isoformat()),
        f"STUDIO#{studio_id}#USER#{user_id}#NOTE#{note.notification_id}",
        studio_id=studio_id,
        user_id=user_id,
        title=note.title,
        time_zone=zone,
        ttl=timedelta(days=DIGEST_RETENTION_DAYS),
    ).save()


def send_digests(day: str | None = None, *, now: datetime | None = None) -> int:
    """Send digests (live table: queue, markers; tenants: recipients; SES).

    Without ``day`` (the hourly run): every member's digest that is due (:func:`due_at` has passed
    ``now``, default the current time) among the day partitions of the last
    :data:`DIGEST_RETENTION_DAYS` days and today (UTC dates; a local day may be a UTC date ahead),
    so a run that failed is caught up by a later one. With ``day`` (``yyyy-mm-dd``, a run by hand):
    that partition's digests whether due or not. A digest already sent sends nothing again (see the
    module's markers); a digest not yet due is left queued.

    Returns
    -------
    int
        How many digest e-mails SES accepted. A member whose e-mail fails keeps their entries and
        loses their marker (the next run tries again; entries expire after
        :data:`DIGEST_RETENTION_DAYS`); the others are still sent.
    """
    if day is None:
        current = now or clock.now()
        today = current.astimezone(UTC).date()
        days = [(today - timedelta(days=n)).isoformat() for n in range(DIGEST_RETENTION_DAYS, -1, -1)]
        return sum(_send_day(d, current) for d in days)
    return _send_day(day, None)


def _send_day(day: str, now: datetime | None) -> int:
    """Send the digests of one day partition that are due at ``now`` (every one for ``None``)."""
    groups: dict[tuple[str, str], list[DigestEntry]] = defaultdict(list)
    for entry in DigestEntry.query(digest_pk(day)):
        groups[(entry.studio_id, entry.user_id)].append(entry)
    sent = 0
    for (studio_id, user_id), entries in groups.items():
        # the member's newest choice of zone decides (entries sort oldest first: time-ordered ids)
        if now is not None and now < due_at(day, entries[-1].time_zone):
            continue
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
    if groups:
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
