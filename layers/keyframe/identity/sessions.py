"""Sessions: an access token plus a refresh-token family (RFC 9700 rotation with reuse detection).

A sign-in starts a *family* (tenants table, ``REFRESH#{familyId}``); its access tokens name it
(``fid``) and the authorizer refuses them once it is revoked, so signing out ends them at once. The
refresh token ``{familyId}.{secret}`` is single use: :func:`rotate` swaps the family's current token
hash for a new one with a conditional write on (``generation``, ``tokenHash``, not revoked), the one
source of truth when several requests race.

Grace window (RFC 9700 §4.14.2 allows it): the token just replaced, presented again within
``REFRESH_REUSE_GRACE_SECONDS`` (≤ 10 s) of the rotation, gets the *same* new pair back, so two tabs
refreshing at once both stay signed in. The rotation stores the new token sealed under a key only the
replaced token yields (``successor``), never the token itself; the access token is signed again with
the rotation's ``iat`` and a ``jti`` derived from the new refresh token, so it is the same token.
Any other reuse (an older token, or the replaced one after the window) revokes the whole family: the
legitimate holder and the thief both have to sign in again. Refresh also re-reads the membership, so
a removed member cannot refresh and a changed role is in the next access token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from datetime import UTC, datetime

from pynamodb.exceptions import UpdateError

from keyframe import clock
from keyframe.errors import Unauthenticated
from keyframe.identity import avatar_links, tokens
from keyframe.identity.models import (
    FAMILY_SK,
    STUDIO_SK,
    USER_SK,
    MembershipItem,
    RefreshFamilyItem,
    StudioItem,
    UserItem,
    family_pk,
    get_or_none,
    member_families_key,
    member_sk,
    studio_pk,
    user_pk,
)
from keyframe.identity.permissions import Role
from keyframe.identity.schemas import AuthResponse, StudioView, UserView
from keyframe.observability import logger
from keyframe.settings import AuthSettings, load

INVALID_REFRESH = "The refresh token is invalid, expired or revoked; sign in again"


def user_view(user: UserItem) -> UserView:
    """The public view of a user item."""
    return UserView(
        user_id=user.user_id,
        email=user.email,
        display_name=user.display_name,
        created_at=user.created_at,
        avatar_url=avatar_links.avatar_url(user.avatar_key),
    )


def studio_view(studio: StudioItem) -> StudioView:
    """The public view of a studio item."""
    return StudioView(studio_id=studio.studio_id, name=studio.name, created_at=studio.created_at)


def _refused(code: str = "INVALID_REFRESH_TOKEN") -> Unauthenticated:
    return Unauthenticated(INVALID_REFRESH, code=code)


def _keystream(old_token: str, length: int) -> bytes:
    key = hashlib.sha256(b"keyframe-refresh-successor\x00" + old_token.encode()).digest()
    blocks = (length + 31) // 32
    return b"".join(hmac.new(key, i.to_bytes(4, "big"), hashlib.sha256).digest() for i in range(blocks))


def _seal(old_token: str, new_token: str) -> str:
    """``new_token`` encrypted under a key derived from ``old_token`` (HMAC-SHA256 in counter mode).

    Only a holder of ``old_token`` can open it: the table keeps SHA-256 of the token, not the token,
    and the key is a different, domain-separated hash. :func:`_unseal` callers check what they open
    against the family's current ``tokenHash``, so a tampered box opens to nothing usable.
    """
    data = new_token.encode()
    sealed = bytes(a ^ b for a, b in zip(data, _keystream(old_token, len(data)), strict=False))
    return base64.urlsafe_b64encode(sealed).decode()


def _unseal(old_token: str, box: str | None) -> str | None:
    if not box:
        return None
    try:
        sealed = base64.urlsafe_b64decode(box.encode())
        data = bytes(a ^ b for a, b in zip(sealed, _keystream(old_token, len(sealed)), strict=False))
        return data.decode()
    except (ValueError, UnicodeDecodeError):
        return None


def _jti(refresh_token: str) -> str:
    """The access token's ``jti`` for the pair whose refresh token is ``refresh_token``."""
    return hashlib.sha256(b"keyframe-jti\x00" + refresh_token.encode()).hexdigest()[:32]


def start(user: UserItem, studio: StudioItem, role: Role | str) -> AuthResponse:
    """Open a session for ``user`` in ``studio``: a new refresh-token family and an access token.

    Writes one ``REFRESH#`` item (tenants table).

    Returns
    -------
    AuthResponse
        Tokens, ``expiresIn`` (seconds), the user, the studio and the role.
    """
    settings = load(AuthSettings)
    now = clock.epoch()
    family_id = uuid.uuid4().hex
    refresh_token = tokens.new_opaque_token(family_id)
    expires_at = int(now) + settings.REFRESH_TOKEN_TTL_SECONDS
    RefreshFamilyItem(
        family_pk(family_id),
        FAMILY_SK,
        gsi1pk=member_families_key(studio.studio_id, user.user_id),
        gsi1sk=family_pk(family_id),
        family_id=family_id,
        studio_id=studio.studio_id,
        user_id=user.user_id,
        token_hash=tokens.token_hash(refresh_token),
        generation=0,
        revoked=False,
        created_at=clock.iso(now),
        created_epoch=now,
        expires_at=expires_at,
        ttl=datetime.fromtimestamp(expires_at, UTC),
    ).save(condition=RefreshFamilyItem.pk.does_not_exist())
    return _response(user, studio, Role(role), refresh_token, settings, family_id=family_id)


def _response(
    user: UserItem,
    studio: StudioItem,
    role: Role,
    refresh_token: str,
    settings: AuthSettings,
    *,
    family_id: str,
    issued_at: int | None = None,
) -> AuthResponse:
    """The login-shaped answer; with ``issued_at`` the access token is the one a rotation at that
    second signed (same ``iat``, ``jti`` derived from ``refresh_token``), and ``expiresIn`` is what is
    left of it."""
    jti = _jti(refresh_token) if issued_at is not None else None
    access = tokens.issue_access_token(
        user.user_id, studio.studio_id, role, family_id=family_id, settings=settings, now=issued_at, jti=jti
    )
    expires_in = settings.ACCESS_TOKEN_TTL_SECONDS
    if issued_at is not None:
        expires_in = max(1, issued_at + expires_in - int(clock.epoch()))
    return AuthResponse(
        access_token=access,
        refresh_token=refresh_token,
        expires_in=expires_in,
        user=user_view(user),
        studio=studio_view(studio),
        role=role,
    )


def _family_of(refresh_token: str) -> RefreshFamilyItem | None:
    family_id = tokens.lookup_id_of(refresh_token)
    if family_id is None:
        return None
    return get_or_none(RefreshFamilyItem, family_pk(family_id), FAMILY_SK)


def revoke(family: RefreshFamilyItem, reason: str) -> None:
    """Mark ``family`` revoked (idempotent); none of its tokens refreshes any more."""
    try:
        family.update(
            actions=[RefreshFamilyItem.revoked.set(True), RefreshFamilyItem.revoked_reason.set(reason)],
            condition=RefreshFamilyItem.pk.exists(),
        )
    except UpdateError as exc:
        if exc.cause_response_code != "ConditionalCheckFailedException":
            raise
        return  # expired and deleted meanwhile: nothing left to revoke
    logger.info("refresh-token family revoked", extra={"family_id": family.family_id, "reason": reason})


def rotate(refresh_token: str) -> AuthResponse:
    """Exchange ``refresh_token`` for a new access token and a new refresh token.

    Reads the family, the membership, the user and the studio; writes the family (tenants table).
    The token replaced less than ``REFRESH_REUSE_GRACE_SECONDS`` ago gets the same new pair again
    (no write); see the module docstring.

    Raises
    ------
    Unauthenticated
        ``INVALID_REFRESH_TOKEN``: malformed, unknown, expired or revoked, or the membership is gone
        (the family is then revoked). ``REFRESH_TOKEN_REUSED``: not the family's current token nor
        the one replaced within the grace window (the family is then revoked).
    """
    settings = load(AuthSettings)
    family = _family_of(refresh_token)
    if family is None or family.revoked:
        raise _refused()
    if not tokens.hashes_match(refresh_token, family.token_hash):
        return _replay(refresh_token, family, settings)
    now = clock.epoch()
    if family.expires_at <= now:
        raise _refused()
    membership = _current_membership(family)
    new_token = tokens.new_opaque_token(family.family_id)
    expires_at = int(now) + settings.REFRESH_TOKEN_TTL_SECONDS
    try:
        family.update(
            actions=[
                RefreshFamilyItem.token_hash.set(tokens.token_hash(new_token)),
                RefreshFamilyItem.generation.set(RefreshFamilyItem.generation + 1),
                RefreshFamilyItem.expires_at.set(expires_at),
                RefreshFamilyItem.ttl.set(datetime.fromtimestamp(expires_at, UTC)),
                RefreshFamilyItem.previous_hash.set(family.token_hash),
                RefreshFamilyItem.rotated_at.set(int(now)),
                RefreshFamilyItem.successor.set(_seal(refresh_token, new_token)),
            ],
            condition=(RefreshFamilyItem.generation == family.generation)
            & (RefreshFamilyItem.token_hash == family.token_hash)
            & (RefreshFamilyItem.revoked == False),  # noqa: E712 - a PynamoDB condition, not a comparison
        )
    except UpdateError as exc:
        if exc.cause_response_code != "ConditionalCheckFailedException":
            raise
        # lost a race: another tab rotated this very token a moment ago (or the family was revoked)
        fresh = _family_of(refresh_token)
        if fresh is None or fresh.revoked:
            raise _refused() from None
        return _replay(refresh_token, fresh, settings)
    return _pair(family, membership, new_token, int(now), settings)


def _replay(refresh_token: str, family: RefreshFamilyItem, settings: AuthSettings) -> AuthResponse:
    """A token that is not the family's current one: the same new pair within the grace window, else
    the family is revoked (``REFRESH_TOKEN_REUSED``)."""
    grace = settings.REFRESH_REUSE_GRACE_SECONDS
    rotated_at = family.rotated_at
    if (
        grace > 0
        and rotated_at is not None
        and clock.epoch() - rotated_at <= grace
        and tokens.hashes_match(refresh_token, family.previous_hash)
    ):
        successor = _unseal(refresh_token, family.successor)
        if successor is not None and tokens.hashes_match(successor, family.token_hash):
            membership = _current_membership(family)
            logger.info("refresh token reused within the grace window", extra={"family_id": family.family_id})
            return _pair(family, membership, successor, int(rotated_at), settings)
    revoke(family, "reuse")
    raise _refused("REFRESH_TOKEN_REUSED")


def _current_membership(family: RefreshFamilyItem) -> MembershipItem:
    """The membership the family was opened for; revokes the family and refuses when it ended."""
    membership = get_or_none(MembershipItem, studio_pk(family.studio_id), member_sk(family.user_id))
    if membership is None or _joined_after(membership, family):
        revoke(family, "membership-ended")
        raise _refused()
    return membership


def _pair(
    family: RefreshFamilyItem,
    membership: MembershipItem,
    refresh_token: str,
    issued_at: int,
    settings: AuthSettings,
) -> AuthResponse:
    user = UserItem.get(user_pk(family.user_id), USER_SK)
    studio = StudioItem.get(studio_pk(family.studio_id), STUDIO_SK)
    return _response(
        user,
        studio,
        Role(membership.role),
        refresh_token,
        settings,
        family_id=family.family_id,
        issued_at=issued_at,
    )


def _joined_after(membership: MembershipItem, family: RefreshFamilyItem) -> bool:
    """True when the membership is newer than the family (removed, then invited back)."""
    return membership.joined_at > clock.iso(family.created_epoch)


def end(refresh_token: str) -> None:
    """Sign out: revoke the family of ``refresh_token`` (any token of it; unknown tokens are ignored).

    Its access tokens are refused by the authorizer from the next request on (they name the family).
    """
    family = _family_of(refresh_token)
    if family is not None and not family.revoked:
        revoke(family, "logout")


def revoke_member_families(studio_id: str, user_id: str) -> int:
    """Revoke every refresh-token family of ``user_id`` in ``studio_id`` (gsi1 of the tenants table).

    The index is eventually consistent; :func:`rotate` also re-checks the membership, so a family
    the index has not shown yet cannot refresh either.

    Returns
    -------
    int
        Families revoked.
    """
    count = 0
    for family in RefreshFamilyItem.gsi1.query(member_families_key(studio_id, user_id)):
        if not family.revoked:
            revoke(family, "member-removed")
            count += 1
    return count
