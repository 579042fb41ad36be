"""Sessions: an access token plus a refresh-token family (RFC 9700 rotation with reuse detection).

A sign-in starts a *family* (tenants table, ``REFRESH#{familyId}``). The refresh token
``{familyId}.{secret}`` is single use: :func:`rotate` swaps the family's current token hash for a new
one with a conditional write on (``generation``, ``tokenHash``, not revoked), the one source of
truth when several requests race. A token that is not the family's current one (already used,
or lost the race) revokes the whole family: the legitimate holder and the thief both have to sign in
again, which is what RFC 9700 §4.14.2 asks for. Refresh also re-reads the membership, so a removed
member cannot refresh and a changed role is in the next access token.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

from pynamodb.exceptions import UpdateError

from keyframe.errors import Unauthenticated
from keyframe.identity import tokens
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
    iso,
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
        user_id=user.user_id, email=user.email, display_name=user.display_name, created_at=user.created_at
    )


def studio_view(studio: StudioItem) -> StudioView:
    """The public view of a studio item."""
    return StudioView(studio_id=studio.studio_id, name=studio.name, created_at=studio.created_at)


def _refused(code: str = "INVALID_REFRESH_TOKEN") -> Unauthenticated:
    return Unauthenticated(INVALID_REFRESH, code=code)


def start(user: UserItem, studio: StudioItem, role: Role | str) -> AuthResponse:
    """Open a session for ``user`` in ``studio``: a new refresh-token family and an access token.

    Writes one ``REFRESH#`` item (tenants table).

    Returns
    -------
    AuthResponse
        Tokens, ``expiresIn`` (seconds), the user, the studio and the role.
    """
    settings = load(AuthSettings)
    now = time.time()
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
        created_at=iso(now),
        created_epoch=now,
        expires_at=expires_at,
        ttl=datetime.fromtimestamp(expires_at, UTC),
    ).save(condition=RefreshFamilyItem.pk.does_not_exist())
    return _response(user, studio, Role(role), refresh_token, settings)


def _response(user: UserItem, studio: StudioItem, role: Role, refresh_token: str, settings: AuthSettings):
    access = tokens.issue_access_token(user.user_id, studio.studio_id, role, settings=settings)
    return AuthResponse(
        access_token=access,
        refresh_token=refresh_token,
        expires_in=settings.ACCESS_TOKEN_TTL_SECONDS,
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

    Raises
    ------
    Unauthenticated
        The token is malformed, unknown, expired, revoked, not the family's current one (the family
        is then revoked), lost a concurrent race (the family is then revoked), or the membership is
        gone (the family is then revoked).
    """
    settings = load(AuthSettings)
    family = _family_of(refresh_token)
    if family is None or family.revoked:
        raise _refused()
    if not tokens.hashes_match(refresh_token, family.token_hash):
        revoke(family, "reuse")
        raise _refused("REFRESH_TOKEN_REUSED")
    now = time.time()
    if family.expires_at <= now:
        raise _refused()
    membership = get_or_none(MembershipItem, studio_pk(family.studio_id), member_sk(family.user_id))
    if membership is None or _joined_after(membership, family):
        revoke(family, "membership-ended")
        raise _refused()
    new_token = tokens.new_opaque_token(family.family_id)
    expires_at = int(now) + settings.REFRESH_TOKEN_TTL_SECONDS
    try:
        family.update(
            actions=[
                RefreshFamilyItem.token_hash.set(tokens.token_hash(new_token)),
                RefreshFamilyItem.generation.set(RefreshFamilyItem.generation + 1),
                RefreshFamilyItem.expires_at.set(expires_at),
                RefreshFamilyItem.ttl.set(datetime.fromtimestamp(expires_at, UTC)),
            ],
            condition=(RefreshFamilyItem.generation == family.generation)
            & (RefreshFamilyItem.token_hash == family.token_hash)
            & (RefreshFamilyItem.revoked == False),  # noqa: E712 - a PynamoDB condition, not a comparison
        )
    except UpdateError as exc:
        if exc.cause_response_code != "ConditionalCheckFailedException":
            raise
        revoke(family, "reuse")
        raise _refused("REFRESH_TOKEN_REUSED") from None
    user = UserItem.get(user_pk(family.user_id), USER_SK)
    studio = StudioItem.get(studio_pk(family.studio_id), STUDIO_SK)
    return _response(user, studio, Role(membership.role), new_token, settings)


def _joined_after(membership: MembershipItem, family: RefreshFamilyItem) -> bool:
    """True when the membership is newer than the family (removed, then invited back)."""
    return membership.joined_at > iso(family.created_epoch)


def end(refresh_token: str) -> None:
    """Sign out: revoke the family of ``refresh_token`` (any token of it; unknown tokens are ignored)."""
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
