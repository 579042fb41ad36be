"""A person's account: change the password, reset it by e-mail, list and end their sessions.

- ``POST /me/password``: the current password proves the caller; every *other* session of the
  account (in every studio) is revoked, the caller's own stays signed in.
- ``POST /auth/password-reset``: always 202 with the same body, and at least
  ``PASSWORD_RESET_MIN_SECONDS`` of work whether the e-mail has an account or not (the answer never
  tells). With an account, a single-use link valid ``PASSWORD_RESET_TTL_SECONDS`` (30 min) is
  e-mailed (template ``password-reset``). Throttled: an address may ask
  ``PASSWORD_RESET_MAX_PER_ADDRESS`` times an hour (then 429); one e-mail gets at most
  ``PASSWORD_RESET_MAX_PER_EMAIL`` mails an hour (further requests answer the same 202, send nothing).
- ``POST /auth/password-reset/confirm``: sets the new password, marks the link used (one
  conditional transaction), revokes every session of the account. Reused or expired: 410.
- Sessions are refresh-token families (:mod:`keyframe.identity.sessions`); the authorizer refuses
  the access tokens of a revoked one from the next request on.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from datetime import UTC, datetime

from keyframe import clock, mail
from keyframe.errors import (
    InvalidInput,
    NoLongerAvailable,
    NotFound,
    TooManyRequests,
    Unauthenticated,
    field_details,
)
from keyframe.identity import passwords, sessions, throttle, tokens
from keyframe.identity.models import (
    EMAIL_SK,
    RESET_SK,
    STUDIO_SK,
    THROTTLE_SK,
    USER_SK,
    EmailItem,
    LoginThrottleItem,
    MembershipItem,
    PasswordResetItem,
    RefreshFamilyItem,
    StudioItem,
    UserItem,
    email_pk,
    get_or_none,
    member_families_key,
    reset_pk,
    studio_pk,
    user_pk,
)
from keyframe.identity.permissions import Principal
from keyframe.identity.schemas import SessionsResponse, SessionView, UserView
from keyframe.observability import logger
from keyframe.settings import AuthSettings, load
from keyframe.storage.transactions import Cancelled, Transaction

RESET_PATH = "/reset-password"
"""Front-end path of the link in the reset e-mail (``?token=``)."""


def _user(user_id: str) -> UserItem:
    user = get_or_none(UserItem, user_pk(user_id), USER_SK)
    if user is None:
        raise NotFound("Your account no longer exists")
    return user


def _families(user_id: str) -> list[RefreshFamilyItem]:
    """Every refresh-token family of ``user_id`` in the studios they belong to (gsi1, tenants)."""
    found: list[RefreshFamilyItem] = []
    for membership in MembershipItem.gsi1.query(user_pk(user_id)):
        found.extend(RefreshFamilyItem.gsi1.query(member_families_key(membership.studio_id, user_id)))
    return found


def revoke_sessions(user_id: str, reason: str, *, keep: str | None = None) -> int:
    """Revoke every session of ``user_id`` except ``keep`` (a family id); returns how many."""
    count = 0
    for family in _families(user_id):
        if family.family_id != keep and not family.revoked:
            sessions.revoke(family, reason)
            count += 1
    return count


def change_password(
    principal: Principal, session_id: str | None, current: str, new: str, client_address: str
) -> int:
    """Replace the caller's password after checking ``current``; revoke their other sessions.

    Writes the user item (tenants table); revokes every other refresh-token family.

    Returns
    -------
    int
        Sessions revoked.

    Raises
    ------
    Unauthenticated
        ``INVALID_CREDENTIALS`` (401): ``current`` is not the password (throttled like a sign-in).
    InvalidInput
        ``VALIDATION_ERROR`` (400): ``new`` equals ``current``.
    TooManyRequests
        (429) too many wrong passwords from this address.
    """
    user = _user(principal.user_id)
    throttle.check(user.email, client_address)
    if not passwords.verify_password(user.password_hash, current):
        throttle.record_failure(user.email, client_address)
        raise Unauthenticated("The current password is not right", code="INVALID_CREDENTIALS")
    if new == current:
        message = "the new password must differ from the current one"
        raise InvalidInput(message, code="VALIDATION_ERROR", details=field_details("newPassword", message))
    user.update(
        actions=[UserItem.password_hash.set(passwords.hash_password(new))], condition=UserItem.pk.exists()
    )
    return revoke_sessions(user.user_id, "password-changed", keep=session_id)


def update_profile(principal: Principal, display_name: str) -> UserView:
    """Set the caller's display name (user item, tenants table); returns the user.

    Raises
    ------
    NotFound
        (404) the account no longer exists.
    """
    user = _user(principal.user_id)
    user.update(actions=[UserItem.display_name.set(display_name)], condition=UserItem.pk.exists())
    return sessions.user_view(user)


def _request_key(kind: str, value: str) -> str:
    return f"RESETREQ#{hashlib.sha256(f'{kind}:{value.lower()}'.encode()).hexdigest()}"


def _count_request(key: str, limit: int, now: float) -> bool:
    """Count one request in the hour-long window of ``key``; False when it is over ``limit``.

    Approximate under races (two first requests may both start a window), which only matters at
    the limit's edge; the cloud's WAF rate limits ``/auth/*`` per address in front of it.
    """
    window = 3600
    item = get_or_none(LoginThrottleItem, key, THROTTLE_SK)
    if item is None or now - item.window_start > window:
        LoginThrottleItem(
            key, THROTTLE_SK, failures=1, window_start=now, ttl=datetime.fromtimestamp(now + window, UTC)
        ).save()
        return True
    item.update(actions=[LoginThrottleItem.failures.add(1)])
    return item.failures <= limit


def request_reset(email: str, client_address: str) -> None:
    """Start a password reset for ``email`` (the module docstring): nothing tells whether it exists.

    Writes throttle counters and, for an account, a ``RESET#`` item (tenants table); sends the
    ``password-reset`` e-mail (SES). Takes at least ``PASSWORD_RESET_MIN_SECONDS`` either way.

    Raises
    ------
    TooManyRequests
        (429) this address asked too often this hour (whatever the e-mail).
    """
    settings = load(AuthSettings)
    started = time.monotonic()
    now = clock.epoch()
    if not _count_request(
        _request_key("address", client_address), settings.PASSWORD_RESET_MAX_PER_ADDRESS, now
    ):
        raise TooManyRequests("Too many password reset requests; try again later", retry_after=3600)
    try:
        if _count_request(_request_key("email", email), settings.PASSWORD_RESET_MAX_PER_EMAIL, now):
            _send_reset(email, now, settings)
    finally:
        remaining = settings.PASSWORD_RESET_MIN_SECONDS - (time.monotonic() - started)
        if remaining > 0:
            time.sleep(remaining)


def _send_reset(email: str, now: float, settings: AuthSettings) -> None:
    pointer = get_or_none(EmailItem, email_pk(email), EMAIL_SK)
    user = get_or_none(UserItem, user_pk(pointer.user_id), USER_SK) if pointer else None
    if user is None:
        return
    reset_id = uuid.uuid4().hex
    token = tokens.new_opaque_token(reset_id)
    expires_at = int(now) + settings.PASSWORD_RESET_TTL_SECONDS
    PasswordResetItem(
        reset_pk(reset_id),
        RESET_SK,
        reset_id=reset_id,
        user_id=user.user_id,
        token_hash=tokens.token_hash(token),
        used=False,
        created_at=clock.iso(now),
        expires_at=expires_at,
        ttl=datetime.fromtimestamp(expires_at + 86_400, UTC),  # kept a day longer: reuse answers 410
    ).save(condition=PasswordResetItem.pk.does_not_exist())
    values = {
        "displayName": user.display_name,
        "link": mail.link(RESET_PATH, token=token),
        "minutes": settings.PASSWORD_RESET_TTL_SECONDS // 60,
    }
    try:
        mail.send(user.email, "password-reset", values)
    except mail.MailError:
        logger.warning("password reset e-mail not sent", extra={"reset_id": reset_id})


def _reset_refused(code: str, message: str) -> InvalidInput:
    return InvalidInput(message, code=code, details=field_details("token", message))


def confirm_reset(token: str, new_password: str) -> int:
    """Set ``new_password`` with a reset link's ``token``; revoke every session of the account.

    One transaction marks the link used (condition: unused and unexpired) and sets the password hash.

    Returns
    -------
    int
        Sessions revoked.

    Raises
    ------
    InvalidInput
        ``RESET_TOKEN_INVALID`` (400): not a token Keyframe issued.
    NoLongerAvailable
        ``RESET_TOKEN_USED`` or ``RESET_TOKEN_EXPIRED`` (410).
    """
    reset_id = tokens.lookup_id_of(token)
    reset = get_or_none(PasswordResetItem, reset_pk(reset_id), RESET_SK) if reset_id else None
    if reset is None or not tokens.hashes_match(token, reset.token_hash):
        raise _reset_refused("RESET_TOKEN_INVALID", "This reset link is not valid")
    _check_usable(reset)
    user = _user(reset.user_id)
    tx = Transaction()
    tx.update(
        "reset",
        reset,
        actions=[PasswordResetItem.used.set(True)],
        condition=(PasswordResetItem.used == False) & (PasswordResetItem.expires_at > clock.epoch()),  # noqa: E712
    )
    tx.update(
        "user",
        user,
        actions=[UserItem.password_hash.set(passwords.hash_password(new_password))],
        condition=UserItem.pk.exists(),
    )
    try:
        tx.commit()
    except Cancelled as exc:
        if "reset" in exc.failed:  # used or expired a moment ago
            _check_usable(get_or_none(PasswordResetItem, reset_pk(reset.reset_id), RESET_SK) or reset)
            raise NoLongerAvailable("This reset link was already used", code="RESET_TOKEN_USED") from None
        raise NotFound("Your account no longer exists") from exc
    return revoke_sessions(user.user_id, "password-reset")


def _check_usable(reset: PasswordResetItem) -> None:
    if reset.used:
        raise NoLongerAvailable(
            "This reset link was already used; ask for a new one", code="RESET_TOKEN_USED"
        )
    if reset.expires_at <= clock.epoch():
        raise NoLongerAvailable("This reset link has expired; ask for a new one", code="RESET_TOKEN_EXPIRED")


def list_sessions(principal: Principal, session_id: str | None) -> SessionsResponse:
    """The caller's signed-in sessions (every studio), newest first; ``current`` marks this one.

    Reads gsi1 of the tenants table (the caller's memberships, then each studio's families) and the
    studios (BatchGet). Revoked and expired sessions are not listed.
    """
    now = clock.epoch()
    families = [f for f in _families(principal.user_id) if not f.revoked and f.expires_at > now]
    keys = list({(studio_pk(f.studio_id), STUDIO_SK) for f in families})
    studios = {s.studio_id: s for s in StudioItem.batch_get(keys)} if keys else {}
    items = [
        SessionView(
            session_id=f.family_id,
            studio_id=f.studio_id,
            studio_name=studios[f.studio_id].name if f.studio_id in studios else "",
            created_at=f.created_at,
            last_used_at=clock.iso(f.rotated_at) if f.rotated_at else f.created_at,
            expires_at=clock.iso(f.expires_at),
            current=f.family_id == session_id,
        )
        for f in families
    ]
    items.sort(key=lambda s: s.created_at, reverse=True)
    return SessionsResponse(items=items)


def end_session(principal: Principal, target: str) -> None:
    """Sign out session ``target`` of the caller (any studio); its access tokens stop at once.

    Raises
    ------
    NotFound
        ``SESSION_NOT_FOUND`` (404): not a session of the caller.
    """
    for family in _families(principal.user_id):
        if family.family_id == target:
            if not family.revoked:
                sessions.revoke(family, "signed-out")
            return
    raise NotFound("Session not found", code="SESSION_NOT_FOUND")


def end_all_sessions(principal: Principal) -> int:
    """Sign out everywhere: every session of the caller, this one included; returns how many."""
    return revoke_sessions(principal.user_id, "signed-out-everywhere")
