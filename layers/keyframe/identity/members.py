"""Members of the caller's studio: list (paginated), change a role, remove.

Every function takes the verified :class:`~keyframe.identity.permissions.Principal`; the studio is
always ``principal.studio_id`` (never a value from the request), so another studio's user id is
simply not found (404). The last ADMIN of a studio can be neither demoted nor removed: the studio's
``adminCount`` is decremented in the same transaction as the membership change, with the condition
``adminCount > 1``, which holds under any concurrency. Each change is committed with its activity
entry (``member:role-changed``, ``member:removed``; :func:`keyframe.storage.activity.record`) and
emitted to the room ``studio``, after closing the member's open sockets
(:func:`keyframe.identity.revocation.close_member_sockets`).
"""

from __future__ import annotations

from keyframe.errors import Conflict, NotFound
from keyframe.events.publisher import publish_now, stage
from keyframe.events.rooms import STUDIO_ROOM
from keyframe.identity import avatar_links, revocation, sessions
from keyframe.identity.models import (
    MEMBER_PREFIX,
    STUDIO_SK,
    USER_SK,
    MembershipItem,
    StudioItem,
    UserItem,
    get_or_none,
    member_sk,
    studio_pk,
    user_pk,
)
from keyframe.identity.permissions import Principal, Role
from keyframe.identity.schemas import MembersResponse, MemberView
from keyframe.storage import activity, cursors
from keyframe.storage.pages import query_page
from keyframe.storage.transactions import Cancelled, Transaction

ATTEMPTS = 3
"""Retries when a membership changed between our read and our conditional write."""

MAX_REQUESTS_PER_PAGE = 3
"""DynamoDB requests one page of members filtered by role may make."""


def _last_admin(action: str) -> Conflict:
    return Conflict(
        f"The studio's last ADMIN cannot be {action}; make another member ADMIN first", code="LAST_ADMIN"
    )


def list_members(
    principal: Principal, *, limit: int, cursor: str | None, role: Role | None = None
) -> MembersResponse:
    """One page of the caller's studio's members (by user id), optionally only those with ``role``.

    Reads the studio's partition (``MEMBER#`` items, Query; with ``role`` at most
    :data:`MAX_REQUESTS_PER_PAGE` requests, the page may then be short) and the page's users
    (BatchGet), tenants table. ``nextCursor`` follows the rules of ``GET /assets``: signed, bound to
    the studio and the filter (``limit`` may change between pages).

    Raises
    ------
    InvalidInput
        ``INVALID_CURSOR`` (400): not a cursor of this listing, filter and studio.
    """
    scope = cursors.scope_of("members", role=role.value if role else None)
    start = cursors.decode(cursor, studio_id=principal.studio_id, scope=scope)
    page = query_page(
        MembershipItem,
        studio_pk(principal.studio_id),
        range_key_condition=MembershipItem.sk.startswith(MEMBER_PREFIX),
        filter_condition=(MembershipItem.role == role.value) if role else None,
        limit=limit,
        start_key=start,
        max_requests=MAX_REQUESTS_PER_PAGE if role else 1,
    )
    memberships: list[MembershipItem] = page.items
    keys = [(user_pk(m.user_id), USER_SK) for m in memberships]
    users = {u.user_id: u for u in UserItem.batch_get(keys)} if keys else {}
    items = [_member_view(m, users[m.user_id]) for m in memberships if m.user_id in users]
    next_cursor = (
        cursors.encode(page.next_key, studio_id=principal.studio_id, scope=scope) if page.next_key else None
    )
    return MembersResponse(items=items, next_cursor=next_cursor)


def _member_view(membership: MembershipItem, user: UserItem) -> MemberView:
    return MemberView(
        user_id=user.user_id,
        email=user.email,
        display_name=user.display_name,
        role=Role(membership.role),
        joined_at=membership.joined_at,
        avatar_url=avatar_links.avatar_url(user.avatar_key),
    )


def _membership(principal: Principal, user_id: str) -> MembershipItem:
    membership = get_or_none(MembershipItem, studio_pk(principal.studio_id), member_sk(user_id))
    if membership is None:
        raise NotFound("Member not found", code="MEMBER_NOT_FOUND")
    return membership


def _studio_key(studio_id: str) -> StudioItem:
    return StudioItem(studio_pk(studio_id), STUDIO_SK)


def _conflict_or(cancelled: Cancelled | None) -> Exception:
    """What to raise when every attempt was cancelled: the last cancellation itself unless it was a
    concurrent change (the membership's condition failed, or another transaction conflicted).

    A write that kept failing otherwise (the event's outbox item, the activity entry) is not a
    concurrent change: it answers 500 (nothing was stored), never a 409 ``CONCURRENT_CHANGE`` that
    would tell the client someone else changed the member.
    """
    if cancelled is not None and not cancelled.conflict and "membership" not in cancelled.failed:
        return cancelled
    return Conflict("The member changed meanwhile; try again", code="CONCURRENT_CHANGE")


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
        (409) ``LAST_ADMIN``: this would leave the studio without an ADMIN; or
        ``CONCURRENT_CHANGE``: the membership kept changing concurrently.
    keyframe.storage.transactions.Cancelled
        (500) the store kept refusing another write of the change (its event, its activity entry):
        nothing was stored.
    """
    cancelled: Cancelled | None = None
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
        changed = {"userId": user_id, "role": role.value, "previousRole": previous.value}
        changed["changedBy"] = principal.user_id
        event = stage(
            tx, principal.studio_id, "member:role-changed", changed, rooms=[STUDIO_ROOM], announce=False
        )
        try:
            activity.record(
                principal.studio_id,
                principal.user_id,
                "member:role-changed",
                "member",
                user_id,
                {"role": role.value, "previousRole": previous.value},
                transaction=tx,
            )
        except Cancelled as exc:
            if "studio" in exc.failed and previous == Role.ADMIN:
                raise _last_admin("demoted") from None
            if "studio" in exc.failed:
                raise NotFound("Studio not found") from None
            cancelled = exc
            continue
        membership.role = role.value
        revocation.close_member_sockets(principal.studio_id, user_id)
        publish_now(event)
        break
    else:
        raise _conflict_or(cancelled)
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
        (409) ``LAST_ADMIN``: the member is the studio's last ADMIN; or ``CONCURRENT_CHANGE``: the
        membership kept changing concurrently.
    keyframe.storage.transactions.Cancelled
        (500) the store kept refusing another write of the removal (its event, its activity entry).
    """
    cancelled: Cancelled | None = None
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
        removed = {"userId": user_id, "role": membership.role, "removedBy": principal.user_id}
        event = stage(tx, principal.studio_id, "member:removed", removed, rooms=[STUDIO_ROOM], announce=False)
        try:
            activity.record(
                principal.studio_id,
                principal.user_id,
                "member:removed",
                "member",
                user_id,
                {"role": membership.role},
                transaction=tx,
            )
        except Cancelled as exc:
            if "studio" in exc.failed:
                raise _last_admin("removed") from None
            cancelled = exc
            continue
        break
    else:
        raise _conflict_or(cancelled)
    sessions.revoke_member_families(principal.studio_id, user_id)
    revocation.close_member_sockets(principal.studio_id, user_id)
    publish_now(event)
