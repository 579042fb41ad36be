"""Invitations of the caller's studio: invite by e-mail, list the pending ones, resend, revoke.

An invitation item (tenants table, ``INVITATION#{id}``, listed through gsi1 ``STUDIO#{studioId}`` /
``INVITATION#{createdAt}#{id}``) keeps only the SHA-256 of its token ``{invitationId}.{secret}``;
the token travels in the e-mail's link (``FRONTEND_URL/invitations/accept?token=…``, template
``invitation`` of :mod:`keyframe.mail`). The API answer carries the token only on the local stack
(``STAGE=local``), where it is also in the captured e-mail, so a developer can click through.

Statuses: ``PENDING`` -> ``ACCEPTED`` (:func:`keyframe.identity.service.accept_invitation`) or
``REVOKED`` (:func:`revoke`); a pending invitation past ``expiresAt`` is expired. Accepting a revoked
or expired invitation answers 410; revoking an accepted one 409. Resending makes a new token (the old
link stops working) and a new expiry. Each change is an activity entry (``member:invited``,
``member:invitation-revoked``) committed with it, and a ``studio`` room event.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from pynamodb.exceptions import UpdateError

from keyframe import clock, mail
from keyframe.errors import Conflict, NotFound
from keyframe.events.publisher import stage
from keyframe.events.rooms import STUDIO_ROOM
from keyframe.identity import tokens
from keyframe.identity.models import (
    EMAIL_SK,
    INVITATION_SK,
    STUDIO_SK,
    USER_SK,
    EmailItem,
    InvitationItem,
    MembershipItem,
    StudioItem,
    UserItem,
    email_pk,
    get_or_none,
    invitation_pk,
    member_sk,
    studio_pk,
    user_pk,
)
from keyframe.identity.permissions import Principal, Role
from keyframe.identity.schemas import InvitationPage, InvitationResponse, InvitationView
from keyframe.observability import logger
from keyframe.settings import AuthSettings, CoreSettings, load
from keyframe.storage import activity, cursors
from keyframe.storage.pages import index_key_names, query_page, readable
from keyframe.storage.transactions import Cancelled, Transaction

INVITATION_PREFIX = "INVITATION#"
ACCEPT_PATH = "/invitations/accept"
"""Front-end path of the link in the invitation e-mail (``?token=``)."""

MAX_REQUESTS_PER_PAGE = 3
"""DynamoDB requests one page of pending invitations may make (accepted/revoked ones are skipped)."""


def _token_shown() -> bool:
    """The API answer carries the token only on the local stack (module docstring)."""
    return load(CoreSettings).STAGE == "local"


def is_expired(invitation: InvitationItem, now: float | None = None) -> bool:
    """True when ``invitation`` is past its ``expiresAt`` (epoch seconds)."""
    return invitation.expires_at <= (clock.epoch() if now is None else now)


def _send(invitation: InvitationItem, token: str, inviter_id: str) -> bool:
    """E-mail the invitation link; False (logged) when SES refused: the admin can resend."""
    studio = get_or_none(StudioItem, studio_pk(invitation.studio_id), STUDIO_SK)
    inviter = get_or_none(UserItem, user_pk(inviter_id), USER_SK)
    values = {
        "studioName": studio.name if studio else "a studio",
        "inviterName": inviter.display_name if inviter else "A Keyframe admin",
        "role": invitation.role,
        "link": mail.link(ACCEPT_PATH, token=token),
        "expiresAt": clock.iso(invitation.expires_at),
    }
    try:
        mail.send(invitation.email, "invitation", values)
    except mail.MailError:
        logger.warning("invitation e-mail not sent", extra={"invitation_id": invitation.invitation_id})
        return False
    return True


def _response(invitation: InvitationItem, token: str, sent: bool) -> InvitationResponse:
    return InvitationResponse(
        invitation_id=invitation.invitation_id,
        email=invitation.email,
        role=Role(invitation.role),
        expires_at=clock.iso(invitation.expires_at),
        email_sent=sent,
        token=token if _token_shown() else None,
    )


def invite(principal: Principal, email: str, role: Role) -> InvitationResponse:
    """Invite ``email`` to the caller's studio with ``role`` and e-mail them the link.

    Writes the invitation item (tenants table) with its activity entry ``member:invited`` (catalog
    table) in one transaction; then sends the ``invitation`` e-mail (SES). Emits ``member:invited``.

    Returns
    -------
    InvitationResponse
        ``emailSent`` false when SES refused (the invitation exists: resend it); ``token`` only on
        the local stack.

    Raises
    ------
    Conflict
        ``ALREADY_MEMBER`` (409): the e-mail's account already belongs to the studio.
    """
    pointer = get_or_none(EmailItem, email_pk(email), EMAIL_SK)
    if pointer and get_or_none(MembershipItem, studio_pk(principal.studio_id), member_sk(pointer.user_id)):
        raise Conflict("This person is already a member of the studio", code="ALREADY_MEMBER")
    now = clock.epoch()
    expires_at = int(now) + load(AuthSettings).INVITATION_TTL_SECONDS
    invitation_id = uuid.uuid4().hex
    token = tokens.new_opaque_token(invitation_id)
    invitation = InvitationItem(
        invitation_pk(invitation_id),
        INVITATION_SK,
        gsi1pk=studio_pk(principal.studio_id),
        gsi1sk=f"{INVITATION_PREFIX}{clock.iso(now)}#{invitation_id}",
        invitation_id=invitation_id,
        studio_id=principal.studio_id,
        email=email,
        role=role.value,
        token_hash=tokens.token_hash(token),
        invited_by=principal.user_id,
        status="PENDING",
        created_at=clock.iso(now),
        expires_at=expires_at,
        sent_count=1,
        last_sent_at=clock.iso(now),
        ttl=datetime.fromtimestamp(expires_at, UTC),
    )
    tx = Transaction()
    tx.put("invitation", invitation, InvitationItem.pk.does_not_exist())
    details = {"email": email, "role": role.value}
    invited = {
        "invitationId": invitation_id,
        "email": email,
        "role": role.value,
        "invitedBy": principal.user_id,
    }
    stage(tx, principal.studio_id, "member:invited", invited, rooms=[STUDIO_ROOM])
    activity.record(
        principal.studio_id,
        principal.user_id,
        "member:invited",
        "invitation",
        invitation_id,
        details,
        transaction=tx,
    )
    return _response(invitation, token, _send(invitation, token, principal.user_id))


def _view(invitation: InvitationItem) -> InvitationView:
    return InvitationView(
        invitation_id=invitation.invitation_id,
        email=invitation.email,
        role=Role(invitation.role),
        invited_by=invitation.invited_by,
        created_at=invitation.created_at,
        expires_at=clock.iso(invitation.expires_at),
        expired=is_expired(invitation),
        sent_count=int(invitation.sent_count or 1),
        last_sent_at=invitation.last_sent_at or invitation.created_at,
    )


def list_pending(principal: Principal, *, limit: int, cursor: str | None) -> InvitationPage:
    """The caller's studio's pending invitations (expired ones included, flagged), newest first.

    Reads gsi1 of the tenants table (``STUDIO#{studioId}``, ``INVITATION#…``), skipping accepted and
    revoked ones, at most :data:`MAX_REQUESTS_PER_PAGE` requests per page; ``nextCursor`` resumes
    exactly there (signed, bound to the studio and this listing: the rules of ``GET /assets``).

    Raises
    ------
    InvalidInput
        ``INVALID_CURSOR`` (400): a cursor that is not one this listing issued for this studio.
    """
    scope = cursors.scope_of("invitations")
    start = cursors.decode(cursor, studio_id=principal.studio_id, scope=scope)
    page = query_page(
        InvitationItem,
        studio_pk(principal.studio_id),
        index="gsi1",
        range_key_condition=InvitationItem.gsi1sk.startswith(INVITATION_PREFIX),
        filter_condition=InvitationItem.status == "PENDING",
        forward=False,
        limit=limit,
        start_key=start,
        max_requests=MAX_REQUESTS_PER_PAGE,
        key_names=index_key_names("gsi1"),
    )
    items = readable(page.items, _view, "invitation")
    next_cursor = (
        cursors.encode(page.next_key, studio_id=principal.studio_id, scope=scope) if page.next_key else None
    )
    return InvitationPage(items=items, next_cursor=next_cursor)


def _invitation(principal: Principal, invitation_id: str) -> InvitationItem:
    invitation = get_or_none(InvitationItem, invitation_pk(invitation_id), INVITATION_SK)
    if invitation is None or invitation.studio_id != principal.studio_id:
        raise NotFound("Invitation not found", code="INVITATION_NOT_FOUND")
    return invitation


def resend(principal: Principal, invitation_id: str) -> InvitationResponse:
    """E-mail a pending invitation again with a new token and a new expiry (the old link stops working).

    Updates the invitation item (condition: still ``PENDING``); sends the ``invitation`` e-mail.

    Raises
    ------
    NotFound
        ``INVITATION_NOT_FOUND`` (404): no such invitation in the caller's studio.
    Conflict
        ``INVITATION_NOT_PENDING`` (409): it was accepted or revoked meanwhile.
    """
    invitation = _invitation(principal, invitation_id)
    if invitation.status != "PENDING":
        raise _not_pending(invitation.status)
    now = clock.epoch()
    expires_at = int(now) + load(AuthSettings).INVITATION_TTL_SECONDS
    token = tokens.new_opaque_token(invitation_id)
    try:
        invitation.update(
            actions=[
                InvitationItem.token_hash.set(tokens.token_hash(token)),
                InvitationItem.expires_at.set(expires_at),
                InvitationItem.ttl.set(datetime.fromtimestamp(expires_at, UTC)),
                InvitationItem.sent_count.set((invitation.sent_count or 1) + 1),
                InvitationItem.last_sent_at.set(clock.iso(now)),
            ],
            condition=InvitationItem.status == "PENDING",
        )
    except UpdateError as exc:
        if exc.cause_response_code != "ConditionalCheckFailedException":
            raise
        current = _invitation(principal, invitation_id)
        raise _not_pending(current.status) from None
    return _response(invitation, token, _send(invitation, token, principal.user_id))


def _not_pending(status: str) -> Conflict:
    return Conflict(f"This invitation is {status.lower()}, not pending", code="INVITATION_NOT_PENDING")


def revoke(principal: Principal, invitation_id: str) -> None:
    """Revoke a pending invitation: its link answers 410 ``INVITATION_REVOKED`` from now on.

    Idempotent for an invitation already revoked. Updates the invitation (condition: ``PENDING``)
    with its activity entry ``member:invitation-revoked`` in one transaction. Emits
    ``member:invitation-revoked``.

    Raises
    ------
    NotFound
        ``INVITATION_NOT_FOUND`` (404): no such invitation in the caller's studio.
    Conflict
        ``INVITATION_ACCEPTED`` (409): it was accepted (remove the member instead).
    """
    invitation = _invitation(principal, invitation_id)
    if invitation.status == "REVOKED":
        return
    if invitation.status == "ACCEPTED":
        raise _accepted()
    tx = Transaction()
    tx.update(
        "invitation",
        invitation,
        actions=[InvitationItem.status.set("REVOKED"), InvitationItem.revoked_at.set(clock.now_iso())],
        condition=InvitationItem.status == "PENDING",
    )
    details = {"email": invitation.email, "role": invitation.role}
    revoked = {"invitationId": invitation_id, "email": invitation.email, "revokedBy": principal.user_id}
    stage(tx, principal.studio_id, "member:invitation-revoked", revoked, rooms=[STUDIO_ROOM])
    try:
        activity.record(
            principal.studio_id,
            principal.user_id,
            "member:invitation-revoked",
            "invitation",
            invitation_id,
            details,
            transaction=tx,
        )
    except Cancelled:
        current = _invitation(principal, invitation_id)
        if current.status == "ACCEPTED":
            raise _accepted() from None
        if current.status == "REVOKED":
            return
        raise


def _accepted() -> Conflict:
    return Conflict(
        "This invitation was already accepted; remove the member instead", code="INVITATION_ACCEPTED"
    )
