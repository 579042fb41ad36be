"""Members of the caller's studio: invite, list, change a role, remove.

Every function takes the verified :class:`~keyframe.identity.permissions.Principal`; the studio is
always ``principal.studio_id`` (never a value from the request), so another studio's user id is
simply not found (404). The last ADMIN of a studio can be neither demoted nor removed: the studio's
``adminCount`` is decremented in the same transaction as the membership change, with the condition
``adminCount > 1``, which holds under any concurrency. Emits ``member:invited``,
``member:role-changed`` and ``member:removed`` (room ``studio``); the last two first close the
member's open sockets (:func:`keyframe.identity.revocation.close_member_sockets`).
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

from keyframe.errors import Conflict, NotFound
from keyframe.events.publisher import emit
from keyframe.events.rooms import STUDIO_ROOM
from keyframe.identity import revocation, sessions, tokens
from keyframe.identity.models import (
    EMAIL_SK,
    INVITATION_SK,
    MEMBER_PREFIX,
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
    iso,
    member_sk,
    studio_pk,
    user_pk,
)
from keyframe.identity.permissions import Principal, Role
from keyframe.identity.schemas import InvitationResponse, MembersResponse, MemberView
from keyframe.settings import AuthSettings, load
from keyframe.storage.transactions import Cancelled, Transaction

ATTEMPTS = 3
"""Retries when a membership changed between our read and our conditional write."""


def _last_admin(action: str) -> Conflict:
    return Conflict(
        f"The studio's last ADMIN cannot be {action}; make another member ADMIN first", code="LAST_ADMIN"
    )


def invite(principal: Principal, email: str, role: Role) -> InvitationResponse:
    """Invite ``email`` to the caller's studio with ``role``.

    Writes an invitation item (tenants table) holding only the SHA-256 of the token; the token
    itself is in the answer only. Expires after ``INVITATION_TTL_SECONDS``. Emits ``member:invited``.

    Raises
    ------
    Conflict
        ``ALREADY_MEMBER`` (409): the e-mail's account already belongs to the studio.
    """
    pointer = get_or_none(EmailItem, email_pk(email), EMAIL_SK)
    if pointer and get_or_none(MembershipItem, studio_pk(principal.studio_id), member_sk(pointer.user_id)):
        raise Conflict("This person is already a member of the studio", code="ALREADY_MEMBER")
    now = time.time()
    expires_at = int(now) + load(AuthSettings).INVITATION_TTL_SECONDS
    invitation_id = uuid.uuid4().hex
    token = tokens.new_opaque_token(invitation_id)
    InvitationItem(
        invitation_pk(invitation_id),
        INVITATION_SK,
        gsi1pk=studio_pk(principal.studio_id),
        gsi1sk=f"INVITATION#{iso(now)}#{invitation_id}",
        invitation_id=invitation_id,
        studio_id=principal.studio_id,
        email=email,
        role=role.value,
        token_hash=tokens.token_hash(token),
        invited_by=principal.user_id,
        status="PENDING",
        created_at=iso(now),
        expires_at=expires_at,
        ttl=datetime.fromtimestamp(expires_at, UTC),
    ).save(condition=InvitationItem.pk.does_not_exist())
    emit(
        principal.studio_id,
        "member:invited",
        {"invitationId": invitation_id, "email": email, "role": role.value, "invitedBy": principal.user_id},
        rooms=[STUDIO_ROOM],
    )
    return InvitationResponse(
        invitation_id=invitation_id, email=email, role=role, token=token, expires_at=iso(expires_at)
    )


def list_members(principal: Principal) -> MembersResponse:
    """Every member of the caller's studio, oldest first.

    Reads the studio's partition (``MEMBER#`` items, Query) and the users (BatchGet), tenants table.
    """
    memberships = list(
        MembershipItem.query(
            studio_pk(principal.studio_id), MembershipItem.sk.startswith(MEMBER_PREFIX), consistent_read=True
        )
    )
    keys = [(user_pk(m.user_id), USER_SK) for m in memberships]
    users = {u.user_id: u for u in UserItem.batch_get(keys)} if keys else {}
    items = [_member_view(m, users[m.user_id]) for m in memberships if m.user_id in users]
    items.sort(key=lambda item: item.joined_at)
    return MembersResponse(items=items)


def _member_view(membership: MembershipItem, user: UserItem) -> MemberView:
    return MemberView(
        user_id=user.user_id,
        email=user.email,
        display_name=user.display_name,
        role=Role(membership.role),
        joined_at=membership.joined_at,
    )


def _membership(principal: Principal, user_id: str) -> MembershipItem:
    membership = get_or_none(MembershipItem, studio_pk(principal.studio_id), member_sk(user_id))
    if membership is None:
        raise NotFound("Member not found", code="MEMBER_NOT_FOUND")
    return membership


def _studio_key(studio_id: str) -> StudioItem:
    return StudioItem(studio_pk(studio_id), STUDIO_SK)


def change_role(principal: Principal, user_id: str, role: Role) -> MemberView:
    """Give member ``user_id`` of the caller's studio the role ``role``.

    One transaction updates the membership (condition: its role is still the one read) and, when
    ADMIN is gained or lost, the studio's ``adminCount`` (condition on loss: ``adminCount > 1``).
    The authorizer reads roles from the membership, so the change applies to the member's next
    request. Emits ``member:role-changed``.

    Raises
    ------
    NotFound
        (404) ``user_id`` is not a member of the caller's studio.
    Conflict
        (409) ``LAST_ADMIN``: this would leave the studio without an ADMIN; or the membership kept
        changing concurrently.
    """
    for _ in range(ATTEMPTS):
        membership = _membership(principal, user_id)
        previous = Role(membership.role)
        if previous == role:
            break
        tx = Transaction()
        tx.update(
            "membership",
            membership,
            actions=[MembershipItem.role.set(role.value)],
            condition=MembershipItem.role == previous.value,
        )
        if previous == Role.ADMIN:
            tx.update(
                "studio",
                _studio_key(principal.studio_id),
                actions=[StudioItem.admin_count.add(-1)],
                condition=StudioItem.admin_count > 1,
            )
        elif role == Role.ADMIN:
            tx.update(
                "studio",
                _studio_key(principal.studio_id),
                actions=[StudioItem.admin_count.add(1)],
                condition=StudioItem.pk.exists(),
            )
        try:
            tx.commit()
        except Cancelled as exc:
            if "studio" in exc.failed and previous == Role.ADMIN:
                raise _last_admin("demoted") from None
            if "studio" in exc.failed:
                raise NotFound("Studio not found") from None
            continue
        membership.role = role.value
        revocation.close_member_sockets(principal.studio_id, user_id)
        emit(
            principal.studio_id,
            "member:role-changed",
            {
                "userId": user_id,
                "role": role.value,
                "previousRole": previous.value,
                "changedBy": principal.user_id,
            },
            rooms=[STUDIO_ROOM],
        )
        break
    else:
        raise Conflict("The member changed meanwhile; try again", code="CONCURRENT_CHANGE")
    user = UserItem.get(user_pk(user_id), USER_SK)
    return _member_view(membership, user)


def remove(principal: Principal, user_id: str) -> None:
    """Remove member ``user_id`` from the caller's studio and revoke their sessions in it.

    One transaction deletes the membership (condition: its role is still the one read) and, for an
    ADMIN, decrements ``adminCount`` (condition ``adminCount > 1``). Then every refresh-token family
    of the member in this studio is revoked. Their access tokens stop working at once because the
    authorizer requires the membership. Emits ``member:removed``.

    Raises
    ------
    NotFound
        (404) ``user_id`` is not a member of the caller's studio.
    Conflict
        (409) ``LAST_ADMIN``: the member is the studio's last ADMIN.
    """
    for _ in range(ATTEMPTS):
        membership = _membership(principal, user_id)
        tx = Transaction()
        tx.delete("membership", membership, condition=MembershipItem.role == membership.role)
        if membership.role == Role.ADMIN.value:
            tx.update(
                "studio",
                _studio_key(principal.studio_id),
                actions=[StudioItem.admin_count.add(-1)],
                condition=StudioItem.admin_count > 1,
            )
        try:
            tx.commit()
        except Cancelled as exc:
            if "studio" in exc.failed:
                raise _last_admin("removed") from None
            continue
        break
    else:
        raise Conflict("The member changed meanwhile; try again", code="CONCURRENT_CHANGE")
    sessions.revoke_member_families(principal.studio_id, user_id)
    revocation.close_member_sockets(principal.studio_id, user_id)
    emit(
        principal.studio_id,
        "member:removed",
        {"userId": user_id, "role": membership.role, "removedBy": principal.user_id},
        rooms=[STUDIO_ROOM],
    )
