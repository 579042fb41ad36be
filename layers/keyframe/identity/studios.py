"""One person, several studios: create another studio, switch, leave, hand the studio over.

An access token is for one studio (as a sign-in with ``studioId`` gives); :func:`switch` opens a
session in another studio of the caller without their password, since the caller is verified and
the membership is checked. Leaving and handing over keep the rule of :mod:`keyframe.identity.members`:
the studio's last ADMIN stays (``adminCount > 1`` in the same transaction). Each change is an
activity entry committed with it and a ``studio`` room event: ``member:joined`` (a new studio's
first ADMIN), ``member:left``, ``studio:ownership-transferred``.
"""

from __future__ import annotations

import uuid

from keyframe import clock
from keyframe.errors import Conflict, InvalidInput, NotFound
from keyframe.events.publisher import publish_now, stage
from keyframe.events.rooms import STUDIO_ROOM
from keyframe.identity import revocation, sessions
from keyframe.identity.models import (
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
from keyframe.identity.schemas import AuthResponse
from keyframe.storage import activity
from keyframe.storage.transactions import Cancelled, Transaction


def _user(user_id: str) -> UserItem:
    user = get_or_none(UserItem, user_pk(user_id), USER_SK)
    if user is None:
        raise NotFound("Your account no longer exists")
    return user


def create(principal: Principal, name: str) -> AuthResponse:
    """Create a studio whose first ADMIN is the caller, and sign them in to it.

    One transaction writes the studio and the membership (tenants table) with the new studio's
    activity entry ``member:joined``; a session (refresh-token family) is opened in it. Emits
    ``member:joined`` in the new studio.
    """
    user = _user(principal.user_id)
    now = clock.now_iso()
    studio_id = str(uuid.uuid4())
    studio = StudioItem(
        studio_pk(studio_id), STUDIO_SK, studio_id=studio_id, name=name, admin_count=1, created_at=now
    )
    tx = Transaction()
    tx.put("studio", studio, StudioItem.pk.does_not_exist())
    tx.put(
        "membership",
        MembershipItem.new(studio_id, user.user_id, Role.ADMIN, now),
        MembershipItem.pk.does_not_exist(),
    )
    joined = {"userId": user.user_id, "displayName": user.display_name, "email": user.email}
    stage(tx, studio_id, "member:joined", {**joined, "role": Role.ADMIN.value}, rooms=[STUDIO_ROOM])
    activity.record(
        studio_id, user.user_id, "member:joined", "member", user.user_id, {"role": "ADMIN"}, transaction=tx
    )
    return sessions.start(user, studio, Role.ADMIN)


def switch(principal: Principal, studio_id: str) -> AuthResponse:
    """A new session of the caller in ``studio_id`` (one of their studios); no password needed.

    Raises
    ------
    NotFound
        (404) the caller is not a member of ``studio_id`` (or it does not exist).
    """
    membership = get_or_none(MembershipItem, studio_pk(studio_id), member_sk(principal.user_id))
    studio = get_or_none(StudioItem, studio_pk(studio_id), STUDIO_SK) if membership else None
    if membership is None or studio is None:
        raise NotFound("You are not a member of this studio")
    membership.update(
        actions=[MembershipItem.last_used_at.set(clock.now_iso())], condition=MembershipItem.pk.exists()
    )
    return sessions.start(_user(principal.user_id), studio, Role(membership.role))


def leave(principal: Principal) -> None:
    """The caller leaves the studio of their token; their sessions in it end at once.

    One transaction deletes the membership and, for an ADMIN, decrements ``adminCount`` (condition
    ``adminCount > 1``), with the activity entry ``member:left``. Emits ``member:left``.

    Raises
    ------
    Conflict
        ``LAST_ADMIN`` (409): the caller is the studio's last ADMIN (hand it over first).
    """
    membership = get_or_none(MembershipItem, studio_pk(principal.studio_id), member_sk(principal.user_id))
    if membership is None:
        raise NotFound("You are not a member of this studio")
    tx = Transaction()
    tx.delete("membership", membership, condition=MembershipItem.role == membership.role)
    if membership.role == Role.ADMIN.value:
        tx.update(
            "studio",
            StudioItem(studio_pk(principal.studio_id), STUDIO_SK),
            actions=[StudioItem.admin_count.add(-1)],
            condition=StudioItem.admin_count > 1,
        )
    left = {"userId": principal.user_id, "role": membership.role}
    event = stage(tx, principal.studio_id, "member:left", left, rooms=[STUDIO_ROOM], announce=False)
    try:
        activity.record(
            principal.studio_id,
            principal.user_id,
            "member:left",
            "member",
            principal.user_id,
            {"role": membership.role},
            transaction=tx,
        )
    except Cancelled as exc:
        if "studio" in exc.failed:
            raise Conflict(
                "You are the studio's last ADMIN: hand the studio over before leaving", code="LAST_ADMIN"
            ) from None
        raise Conflict("Your membership changed meanwhile; try again", code="CONCURRENT_CHANGE") from None
    sessions.revoke_member_families(principal.studio_id, principal.user_id)
    revocation.close_member_sockets(principal.studio_id, principal.user_id)
    publish_now(event)


def transfer(principal: Principal, to_user_id: str, new_role: Role) -> None:
    """Hand the studio over: member ``to_user_id`` becomes ADMIN, the caller (an ADMIN) ``new_role``.

    One transaction sets both roles (conditions: the roles read) with the activity entry
    ``studio:ownership-transferred``; ``adminCount`` moves by the ADMINs gained and lost (condition
    ``adminCount > 1`` when it drops). Emits ``studio:ownership-transferred``; the two members'
    sockets are closed to reconnect with their new roles.

    Raises
    ------
    InvalidInput
        (400) ``to_user_id`` is the caller.
    NotFound
        ``MEMBER_NOT_FOUND`` (404): not a member of the caller's studio.
    Conflict
        ``LAST_ADMIN`` or ``CONCURRENT_CHANGE`` (409).
    """
    if to_user_id == principal.user_id:
        raise InvalidInput("Hand the studio to another member", code="VALIDATION_ERROR")
    mine = get_or_none(MembershipItem, studio_pk(principal.studio_id), member_sk(principal.user_id))
    theirs = get_or_none(MembershipItem, studio_pk(principal.studio_id), member_sk(to_user_id))
    if theirs is None:
        raise NotFound("Member not found", code="MEMBER_NOT_FOUND")
    if mine is None or mine.role != Role.ADMIN.value:
        raise Conflict("Only an ADMIN can hand the studio over", code="CONCURRENT_CHANGE")
    delta = (0 if theirs.role == Role.ADMIN.value else 1) - (0 if new_role == Role.ADMIN else 1)
    tx = Transaction()
    tx.update(
        "target",
        theirs,
        actions=[MembershipItem.role.set(Role.ADMIN.value)],
        condition=MembershipItem.role == theirs.role,
    )
    tx.update(
        "caller",
        mine,
        actions=[MembershipItem.role.set(new_role.value)],
        condition=MembershipItem.role == Role.ADMIN.value,
    )
    if delta:
        tx.update(
            "studio",
            StudioItem(studio_pk(principal.studio_id), STUDIO_SK),
            actions=[StudioItem.admin_count.add(delta)],
            condition=StudioItem.admin_count > (0 if delta > 0 else 1),
        )
    transferred = {
        "fromUserId": principal.user_id,
        "toUserId": to_user_id,
        "previousOwnerRole": new_role.value,
    }
    event = stage(
        tx,
        principal.studio_id,
        "studio:ownership-transferred",
        transferred,
        rooms=[STUDIO_ROOM],
        announce=False,
    )
    try:
        activity.record(
            principal.studio_id,
            principal.user_id,
            "studio:ownership-transferred",
            "member",
            to_user_id,
            {"fromUserId": principal.user_id, "previousOwnerRole": new_role.value},
            transaction=tx,
        )
    except Cancelled as exc:
        if "studio" in exc.failed:
            raise Conflict("The studio would be left without an ADMIN", code="LAST_ADMIN") from None
        raise Conflict("A role changed meanwhile; try again", code="CONCURRENT_CHANGE") from None
    for user_id in (to_user_id, principal.user_id):
        revocation.close_member_sockets(principal.studio_id, user_id)
    publish_now(event)
