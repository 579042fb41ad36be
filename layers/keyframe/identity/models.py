"""The items of the tenants table (PynamoDB), single-table design.

=====================  ==============================  =====================  ===============================
item                   pk                              sk                     gsi1pk / gsi1sk
=====================  ==============================  =====================  ===============================
studio                 ``STUDIO#{studioId}``           ``STUDIO``             -
membership             ``STUDIO#{studioId}``           ``MEMBER#{userId}``    ``USER#{userId}`` /
                                                                              ``STUDIO#{studioId}``
user (global)          ``USER#{userId}``               ``USER``               -
e-mail -> user         ``EMAIL#{email}``               ``EMAIL``              -
invitation             ``INVITATION#{invitationId}``   ``INVITATION``         ``STUDIO#{studioId}`` /
                                                                              ``INVITATION#{createdAt}#{id}``
refresh-token family   ``REFRESH#{familyId}``          ``FAMILY``             ``STUDIO#{sid}#MEMBER#{uid}`` /
                                                                              ``REFRESH#{familyId}``
failed sign-ins        ``LOGIN#{sha256(email)}``       ``THROTTLE``           -
reset requests         ``RESETREQ#{sha256(key)}``      ``THROTTLE``           -
password-reset link    ``RESET#{resetId}``             ``RESET``              -
=====================  ==============================  =====================  ===============================

Studio data (the studio and its memberships) lives under ``STUDIO#{studioId}``. Users, e-mails,
invitations and refresh-token families are global lookups: users because one person can belong to
several studios, the others because the client only presents a token (``{id}.{secret}``) whose id
names the item; each of them records its ``studioId`` and is only ever reached through its secret
(hash compared) or through a ``STUDIO#``-prefixed index key. Items that expire carry ``ttl``
(epoch seconds) so DynamoDB deletes them; the code never trusts ``ttl`` alone and checks expiry itself.
"""

from __future__ import annotations

from typing import TypeVar

from pynamodb.attributes import BooleanAttribute, NumberAttribute, TTLAttribute, UnicodeAttribute
from pynamodb.models import Model

from keyframe.storage.models import gsi, table_meta
from keyframe.storage.tables import TENANTS

STUDIO_SK = "STUDIO"
USER_SK = "USER"
EMAIL_SK = "EMAIL"
INVITATION_SK = "INVITATION"
FAMILY_SK = "FAMILY"
THROTTLE_SK = "THROTTLE"
RESET_SK = "RESET"
MEMBER_PREFIX = "MEMBER#"


def studio_pk(studio_id: str) -> str:
    """``STUDIO#{studioId}``: the partition of a studio's data."""
    return f"STUDIO#{studio_id}"


def member_sk(user_id: str) -> str:
    """``MEMBER#{userId}``: a membership's sort key in its studio's partition."""
    return f"{MEMBER_PREFIX}{user_id}"


def user_pk(user_id: str) -> str:
    """``USER#{userId}``."""
    return f"USER#{user_id}"


def email_pk(email: str) -> str:
    """``EMAIL#{email}`` (the e-mail is already normalised to lowercase)."""
    return f"EMAIL#{email}"


def invitation_pk(invitation_id: str) -> str:
    """``INVITATION#{invitationId}``."""
    return f"INVITATION#{invitation_id}"


def family_pk(family_id: str) -> str:
    """``REFRESH#{familyId}``."""
    return f"REFRESH#{family_id}"


def member_families_key(studio_id: str, user_id: str) -> str:
    """gsi1pk of a member's refresh-token families in one studio."""
    return f"STUDIO#{studio_id}#MEMBER#{user_id}"


class StudioItem(Model):
    """A studio (tenant). ``adminCount`` is kept in the same transactions that add, demote or remove
    an ADMIN, with the condition ``adminCount > 1`` on demotion/removal: the last ADMIN stays."""

    Meta = table_meta(TENANTS)
    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True, default=STUDIO_SK)
    studio_id = UnicodeAttribute(attr_name="studioId")
    name = UnicodeAttribute()
    admin_count = NumberAttribute(attr_name="adminCount", default=0)
    created_at = UnicodeAttribute(attr_name="createdAt")


class MembershipItem(Model):
    """A user's membership of a studio with their role; gsi1 lists a user's studios."""

    Meta = table_meta(TENANTS)
    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)
    gsi1 = gsi(TENANTS, 1)()
    studio_id = UnicodeAttribute(attr_name="studioId")
    user_id = UnicodeAttribute(attr_name="userId")
    role = UnicodeAttribute()
    joined_at = UnicodeAttribute(attr_name="joinedAt")
    last_used_at = UnicodeAttribute(attr_name="lastUsedAt")

    @classmethod
    def new(cls, studio_id: str, user_id: str, role: str, now: str) -> MembershipItem:
        """A membership item with every key set."""
        return cls(
            studio_pk(studio_id),
            member_sk(user_id),
            gsi1pk=user_pk(user_id),
            gsi1sk=studio_pk(studio_id),
            studio_id=studio_id,
            user_id=user_id,
            role=role,
            joined_at=now,
            last_used_at=now,
        )


class UserItem(Model):
    """A person's account (global: one account may belong to several studios)."""

    Meta = table_meta(TENANTS)
    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True, default=USER_SK)
    user_id = UnicodeAttribute(attr_name="userId")
    email = UnicodeAttribute()
    display_name = UnicodeAttribute(attr_name="displayName")
    password_hash = UnicodeAttribute(attr_name="passwordHash")
    created_at = UnicodeAttribute(attr_name="createdAt")
    avatar_key = UnicodeAttribute(null=True, attr_name="avatarKey")
    """The S3 key of the profile picture (``keyframe.identity.avatars``), absent without one."""


class EmailItem(Model):
    """The unique e-mail -> user lookup, written with ``attribute_not_exists`` beside the user."""

    Meta = table_meta(TENANTS)
    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True, default=EMAIL_SK)
    user_id = UnicodeAttribute(attr_name="userId")


class InvitationItem(Model):
    """An invitation to join a studio: single use (``status``), expires (``expiresAt``, ``ttl``)."""

    Meta = table_meta(TENANTS)
    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True, default=INVITATION_SK)
    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)
    gsi1 = gsi(TENANTS, 1)()
    invitation_id = UnicodeAttribute(attr_name="invitationId")
    studio_id = UnicodeAttribute(attr_name="studioId")
    email = UnicodeAttribute()
    role = UnicodeAttribute()
    token_hash = UnicodeAttribute(attr_name="tokenHash")
    invited_by = UnicodeAttribute(attr_name="invitedBy")
    status = UnicodeAttribute(default="PENDING")
    created_at = UnicodeAttribute(attr_name="createdAt")
    expires_at = NumberAttribute(attr_name="expiresAt")
    accepted_by = UnicodeAttribute(attr_name="acceptedBy", null=True)
    accepted_at = UnicodeAttribute(attr_name="acceptedAt", null=True)
    revoked_at = UnicodeAttribute(attr_name="revokedAt", null=True)
    sent_count = NumberAttribute(attr_name="sentCount", null=True)
    last_sent_at = UnicodeAttribute(attr_name="lastSentAt", null=True)
    ttl = TTLAttribute(null=True)


class RefreshFamilyItem(Model):
    """A refresh-token family: one sign-in's chain of rotated refresh tokens.

    Only the hash of the family's current token is kept; ``generation`` counts rotations. A rotation
    is a conditional update on (``generation``, ``tokenHash``, not ``revoked``): exactly one of any
    number of concurrent uses wins. The token it replaced (``previousTokenHash``) may be presented
    again within ``REFRESH_REUSE_GRACE_SECONDS`` of ``rotatedAt`` and gets the same new token back
    (``successor``: the new token sealed under a key only the replaced token yields); any other
    use of a token of the family revokes it. Access tokens name the family (``fid``): a revoked
    family ends them at the authorizer.
    """

    Meta = table_meta(TENANTS)
    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True, default=FAMILY_SK)
    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)
    gsi1 = gsi(TENANTS, 1)()
    family_id = UnicodeAttribute(attr_name="familyId")
    studio_id = UnicodeAttribute(attr_name="studioId")
    user_id = UnicodeAttribute(attr_name="userId")
    token_hash = UnicodeAttribute(attr_name="tokenHash")
    generation = NumberAttribute(default=0)
    revoked = BooleanAttribute(default=False)
    revoked_reason = UnicodeAttribute(attr_name="revokedReason", null=True)
    created_at = UnicodeAttribute(attr_name="createdAt")
    created_epoch = NumberAttribute(attr_name="createdEpoch")
    expires_at = NumberAttribute(attr_name="expiresAt")
    previous_hash = UnicodeAttribute(attr_name="previousTokenHash", null=True)
    rotated_at = NumberAttribute(attr_name="rotatedAt", null=True)
    successor = UnicodeAttribute(null=True)
    ttl = TTLAttribute(null=True)


class PasswordResetItem(Model):
    """A password-reset link's token (``RESET#{resetId}``): single use, ``expiresAt`` 30 minutes on.

    Only the SHA-256 of the token is kept; ``used`` flips once, conditionally, in the same
    transaction that sets the new password hash.
    """

    Meta = table_meta(TENANTS)
    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True, default=RESET_SK)
    reset_id = UnicodeAttribute(attr_name="resetId")
    user_id = UnicodeAttribute(attr_name="userId")
    token_hash = UnicodeAttribute(attr_name="tokenHash")
    used = BooleanAttribute(default=False)
    created_at = UnicodeAttribute(attr_name="createdAt")
    expires_at = NumberAttribute(attr_name="expiresAt")
    ttl = TTLAttribute(null=True)


def reset_pk(reset_id: str) -> str:
    """``RESET#{resetId}``."""
    return f"RESET#{reset_id}"


class LoginThrottleItem(Model):
    """Failed sign-ins of one (e-mail, address) pair or of one address (keys hashed, so neither is
    stored in clear); see :mod:`keyframe.identity.throttle`. ``failures`` counts until
    ``LOGIN_LOCKOUT_SECONDS`` pass with no failure (after ``lastFailureAt``)."""

    Meta = table_meta(TENANTS)
    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True, default=THROTTLE_SK)
    failures = NumberAttribute(default=0)
    window_start = NumberAttribute(attr_name="windowStart")
    last_failure_at = NumberAttribute(attr_name="lastFailureAt", null=True)
    locked_until = NumberAttribute(attr_name="lockedUntil", null=True)
    ttl = TTLAttribute(null=True)


M = TypeVar("M", bound=Model)


def get_or_none(model_cls: type[M], hash_key: str, range_key: str) -> M | None:
    """``model_cls.get`` with a strongly consistent read, ``None`` when the item does not exist."""
    try:
        return model_cls.get(hash_key, range_key, consistent_read=True)
    except model_cls.DoesNotExist:
        return None
