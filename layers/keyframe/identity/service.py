"""Identity flows: register a studio, sign in, refresh, sign out, accept an invitation, ``/me``.

Every function here is the only write path for what it writes (tenants table) and emits the
``member:*`` events (``keyframe.events.publisher.stage``: in the same transaction; room ``studio``).

Sign-in rules:

- one message for an unknown e-mail, a wrong password, and a ``studioId`` the user is not a member
  of (:data:`INVALID_CREDENTIALS`); unknown e-mails still run an argon2 verification;
- failed password checks are throttled per (e-mail, client address) with growing waits, and per
  client address across e-mails (:mod:`keyframe.identity.throttle`); a stranger's failures never
  refuse the owner's right password from the owner's own address;
- an access token is for one studio. Without ``studioId`` the studio of the membership used most
  recently is chosen (``lastUsedAt``: set when the member joins and at every sign-in into that
  studio), so a freelancer lands where they worked last; ``GET /me/studios`` lists the others and a
  new sign-in with ``studioId`` switches.
"""

from __future__ import annotations

import uuid

from pynamodb.exceptions import UpdateError

from keyframe import clock
from keyframe.analytics.service import record_sign_in
from keyframe.errors import (
    Conflict,
    InvalidInput,
    NoLongerAvailable,
    NotFound,
    Unauthenticated,
    field_details,
)
from keyframe.events.publisher import stage
from keyframe.events.rooms import STUDIO_ROOM
from keyframe.identity import passwords, sessions, throttle, tokens
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
from keyframe.identity.schemas import (
    AcceptInvitationRequest,
    AuthResponse,
    LoginRequest,
    MeResponse,
    MyStudio,
    MyStudiosResponse,
    RegisterRequest,
)
from keyframe.identity.sessions import studio_view, user_view
from keyframe.storage import activity
from keyframe.storage.transactions import Cancelled, Transaction

INVALID_CREDENTIALS = "Invalid email or password"


def _credentials_refused() -> Unauthenticated:
    return Unauthenticated(INVALID_CREDENTIALS, code="INVALID_CREDENTIALS")


def register(request: RegisterRequest) -> AuthResponse:
    """Create a studio, its first ADMIN's account and membership in one transaction, and sign in.

    Writes the studio, user, e-mail and membership items (one ``TransactWriteItems``: all or none)
    and a refresh-token family (tenants table). Emits ``member:joined``.

    Raises
    ------
    Conflict
        ``EMAIL_TAKEN`` (409): an account already uses this e-mail (sign in, or accept an
        invitation, to join another studio with it). Nothing is written.
    """
    now = clock.now_iso()
    studio_id, user_id = str(uuid.uuid4()), str(uuid.uuid4())
    studio = StudioItem(
        studio_pk(studio_id),
        STUDIO_SK,
        studio_id=studio_id,
        name=request.studio_name,
        admin_count=1,
        created_at=now,
    )
    user = UserItem(
        user_pk(user_id),
        USER_SK,
        user_id=user_id,
        email=request.email,
        display_name=request.display_name,
        password_hash=passwords.hash_password(request.password),
        created_at=now,
    )
    tx = Transaction()
    tx.put(
        "email", EmailItem(email_pk(request.email), EMAIL_SK, user_id=user_id), EmailItem.pk.does_not_exist()
    )
    tx.put("user", user, UserItem.pk.does_not_exist())
    tx.put("studio", studio, StudioItem.pk.does_not_exist())
    tx.put(
        "membership",
        MembershipItem.new(studio_id, user_id, Role.ADMIN, now),
        MembershipItem.pk.does_not_exist(),
    )
    stage(tx, studio_id, "member:joined", _member_event(user, Role.ADMIN), rooms=[STUDIO_ROOM])
    try:
        tx.commit()
    except Cancelled as exc:
        if "email" in exc.failed:
            raise Conflict(
                "An account with this email already exists; sign in instead",
                code="EMAIL_TAKEN",
                details=field_details("email", "already registered"),
            ) from None
        raise
    return sessions.start(user, studio, Role.ADMIN)


def _member_event(user: UserItem, role: Role) -> dict[str, str]:
    return {"userId": user.user_id, "displayName": user.display_name, "email": user.email, "role": role.value}


def _verified_user(email: str, password: str, address: str) -> UserItem:
    """The user with ``email`` if ``password`` is theirs (throttled per ``address``; uniform failure)."""
    had_failures = throttle.check(email, address)
    pointer = get_or_none(EmailItem, email_pk(email), EMAIL_SK)
    user = get_or_none(UserItem, user_pk(pointer.user_id), USER_SK) if pointer else None
    if user is None:
        passwords.dummy_verify(password)
        throttle.record_failure(email, address)
        raise _credentials_refused()
    if not passwords.verify_password(user.password_hash, password):
        throttle.record_failure(email, address)
        raise _credentials_refused()
    if had_failures:
        throttle.clear(email, address)
    if passwords.needs_rehash(user.password_hash):
        user.update(
            actions=[UserItem.password_hash.set(passwords.hash_password(password))],
            condition=UserItem.pk.exists(),
        )
    return user


def _memberships_of(user_id: str) -> list[MembershipItem]:
    return list(MembershipItem.gsi1.query(user_pk(user_id)))


def login(request: LoginRequest, client_address: str) -> AuthResponse:
    """Sign in with e-mail and password into one studio (see the module docstring for the choice).

    ``client_address`` is the caller's IP address (API Gateway's ``identity.sourceIp``): the
    throttle counts failures per (e-mail, address) and per address.

    Reads the throttle, e-mail, user and membership items; writes the membership's ``lastUsedAt``
    and a refresh-token family (tenants table), and the analytics record ``member:signed-in``.

    Raises
    ------
    TooManyRequests
        (429) this address must wait before trying this e-mail again, or is throttled for every
        e-mail (:mod:`keyframe.identity.throttle`).
    Unauthenticated
        ``INVALID_CREDENTIALS`` (401): unknown e-mail, wrong password, ``studioId`` not one of the
        user's studios, or the user belongs to no studio.
    """
    user = _verified_user(request.email, request.password, client_address)
    if request.studio_id:
        membership = get_or_none(MembershipItem, studio_pk(request.studio_id), member_sk(user.user_id))
    else:
        memberships = _memberships_of(user.user_id)
        membership = max(memberships, key=lambda m: (m.last_used_at, m.joined_at), default=None)
    studio = get_or_none(StudioItem, studio_pk(membership.studio_id), STUDIO_SK) if membership else None
    if membership is None or studio is None:
        raise _credentials_refused()
    try:  # the condition keeps a concurrently removed membership from being re-created as a stub
        membership.update(
            actions=[MembershipItem.last_used_at.set(clock.now_iso())], condition=MembershipItem.pk.exists()
        )
    except UpdateError as exc:
        if exc.cause_response_code != "ConditionalCheckFailedException":
            raise
        raise _credentials_refused() from None
    started = sessions.start(user, studio, Role(membership.role))
    record_sign_in(studio.studio_id, user.user_id)  # analytics member:signed-in; never fails the login
    return started


def refresh(refresh_token: str) -> AuthResponse:
    """Rotate a refresh token (:func:`keyframe.identity.sessions.rotate`)."""
    return sessions.rotate(refresh_token)


def logout(refresh_token: str) -> None:
    """Revoke the refresh-token family of ``refresh_token`` (:func:`keyframe.identity.sessions.end`)."""
    sessions.end(refresh_token)


def _invitation_refused(code: str, message: str) -> InvalidInput:
    return InvalidInput(message, code=code, details=field_details("token", message))


def _pending_invitation(token: str) -> InvitationItem:
    invitation_id = tokens.lookup_id_of(token)
    invitation = (
        get_or_none(InvitationItem, invitation_pk(invitation_id), INVITATION_SK) if invitation_id else None
    )
    if invitation is None or not tokens.hashes_match(token, invitation.token_hash):
        raise _invitation_refused("INVITATION_INVALID", "This invitation is not valid")
    if invitation.status == "REVOKED":
        raise NoLongerAvailable(
            "This invitation was revoked; ask the studio's admin for a new one", code="INVITATION_REVOKED"
        )
    if invitation.status != "PENDING":
        raise _invitation_refused("INVITATION_USED", "This invitation was already used")
    if invitation.expires_at <= clock.epoch():
        raise NoLongerAvailable(
            "This invitation has expired; ask the studio's admin to resend it", code="INVITATION_EXPIRED"
        )
    return invitation


def _pending_invitation_item(invitation_id: str) -> None:
    """Raise 410 when invitation ``invitation_id`` is now revoked or expired (else return)."""
    current = get_or_none(InvitationItem, invitation_pk(invitation_id), INVITATION_SK)
    if current is not None and current.status == "REVOKED":
        raise NoLongerAvailable(
            "This invitation was revoked; ask the studio's admin for a new one", code="INVITATION_REVOKED"
        )
    if current is not None and current.status == "PENDING" and current.expires_at <= clock.epoch():
        raise NoLongerAvailable(
            "This invitation has expired; ask the studio's admin to resend it", code="INVITATION_EXPIRED"
        )


def accept_invitation(request: AcceptInvitationRequest, client_address: str) -> AuthResponse:
    """Join the invitation's studio with its role, creating the account if the e-mail has none.

    A new account needs ``displayName``; an existing account proves itself with its current password
    (throttled like a sign-in from ``client_address``). The invitation is consumed, the membership
    created and the studio's ``adminCount`` updated in one transaction. Emits ``member:joined``.

    Raises
    ------
    InvalidInput
        (400) ``INVITATION_INVALID`` or ``INVITATION_USED``; ``VALIDATION_ERROR`` when a new account
        has no ``displayName``.
    NoLongerAvailable
        (410) ``INVITATION_REVOKED`` or ``INVITATION_EXPIRED``.
    Unauthenticated
        (401) the e-mail has an account and the password is not its password.
    TooManyRequests
        (429) sign-in throttling, as for :func:`login`.
    Conflict
        (409) ``ALREADY_MEMBER``: the account already belongs to the studio.
    NotFound
        (404) the studio no longer exists.
    """
    invitation = _pending_invitation(request.token)
    email = invitation.email
    existing = get_or_none(EmailItem, email_pk(email), EMAIL_SK)
    now = clock.now_iso()
    tx = Transaction()
    if existing is not None:
        user = _verified_user(email, request.password, client_address)
    else:
        if not request.display_name:
            message = "displayName is required to create an account"
            raise InvalidInput(
                message, code="VALIDATION_ERROR", details=field_details("displayName", message)
            )
        if passwords.is_common(request.password):
            message = "this password is one of the most common ones; choose another"
            raise InvalidInput(message, code="VALIDATION_ERROR", details=field_details("password", message))
        user_id = str(uuid.uuid4())
        user = UserItem(
            user_pk(user_id),
            USER_SK,
            user_id=user_id,
            email=email,
            display_name=request.display_name,
            password_hash=passwords.hash_password(request.password),
            created_at=now,
        )
        tx.put("email", EmailItem(email_pk(email), EMAIL_SK, user_id=user_id), EmailItem.pk.does_not_exist())
        tx.put("user", user, UserItem.pk.does_not_exist())
    role = Role(invitation.role)
    _consume(tx, invitation, user, role, now)
    studio = StudioItem.get(studio_pk(invitation.studio_id), STUDIO_SK)
    return sessions.start(user, studio, role)


def _consume(tx: Transaction, invitation: InvitationItem, user: UserItem, role: Role, now: str) -> None:
    tx.update(
        "invitation",
        invitation,
        actions=[
            InvitationItem.status.set("ACCEPTED"),
            InvitationItem.accepted_by.set(user.user_id),
            InvitationItem.accepted_at.set(now),
        ],
        condition=(InvitationItem.status == "PENDING") & (InvitationItem.expires_at > clock.epoch()),
    )
    tx.put(
        "membership",
        MembershipItem.new(invitation.studio_id, user.user_id, role, now),
        MembershipItem.pk.does_not_exist(),
    )
    studio_key = StudioItem(studio_pk(invitation.studio_id), STUDIO_SK)
    admin_delta = 1 if role == Role.ADMIN else 0
    tx.update(
        "studio",
        studio_key,
        actions=[StudioItem.admin_count.add(admin_delta)],
        condition=StudioItem.pk.exists(),
    )
    stage(tx, invitation.studio_id, "member:joined", _member_event(user, role), rooms=[STUDIO_ROOM])
    try:
        activity.record(
            invitation.studio_id,
            user.user_id,
            "member:joined",
            "member",
            user.user_id,
            {"role": role.value, "invitationId": invitation.invitation_id},
            transaction=tx,
        )
    except Cancelled as exc:
        if "invitation" in exc.failed:
            _pending_invitation_item(invitation.invitation_id)  # revoked or expired meanwhile: 410
            raise _invitation_refused("INVITATION_USED", "This invitation was already used") from None
        if "membership" in exc.failed:
            raise Conflict("You are already a member of this studio", code="ALREADY_MEMBER") from None
        if "email" in exc.failed or "user" in exc.failed:
            raise Conflict(
                "An account with this email was just created; try again", code="EMAIL_TAKEN"
            ) from None
        if "studio" in exc.failed:
            raise NotFound("The studio of this invitation no longer exists") from None
        raise


def me(principal: Principal) -> MeResponse:
    """The caller, their studio and their current role (tenants table: user and studio items).

    Raises
    ------
    NotFound
        The user or studio item is gone.
    """
    user = get_or_none(UserItem, user_pk(principal.user_id), USER_SK)
    studio = get_or_none(StudioItem, studio_pk(principal.studio_id), STUDIO_SK)
    if user is None or studio is None:
        raise NotFound("Your account or studio no longer exists")
    return MeResponse(user=user_view(user), studio=studio_view(studio), role=principal.role)


def my_studios(principal: Principal) -> MyStudiosResponse:
    """Every membership of the caller with its studio and role, most recently used first.

    Reads gsi1 of the tenants table (``USER#{userId}``) and the studio items (BatchGet).
    """
    memberships = _memberships_of(principal.user_id)
    keys = [(studio_pk(m.studio_id), STUDIO_SK) for m in memberships]
    studios = {s.studio_id: s for s in StudioItem.batch_get(keys)} if keys else {}
    items = [
        MyStudio(
            studio=studio_view(studios[m.studio_id]),
            role=Role(m.role),
            joined_at=m.joined_at,
            last_used_at=m.last_used_at,
        )
        for m in memberships
        if m.studio_id in studios
    ]
    items.sort(key=lambda item: item.last_used_at, reverse=True)
    return MyStudiosResponse(items=items)
