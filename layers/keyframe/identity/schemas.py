"""Request and response shapes of the identity API (camelCase JSON, unknown fields rejected)."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, EmailStr, Field, StringConstraints

from keyframe.identity.passwords import MAX_LENGTH, MIN_LENGTH, reject_common
from keyframe.identity.permissions import Role
from keyframe.schemas import ApiModel, Identifier, RequestModel

Email = Annotated[EmailStr, StringConstraints(max_length=254), AfterValidator(str.lower)]
"""A syntactically valid e-mail address, normalised (IDNA domain) and lowercased."""

Password = Annotated[
    str, StringConstraints(min_length=MIN_LENGTH, max_length=MAX_LENGTH, strip_whitespace=False)
]
"""12 to 256 characters, kept exactly as typed (no stripping)."""

NewPassword = Annotated[Password, AfterValidator(reject_common)]
"""A password being set: :data:`Password`, and not a common password
(:func:`keyframe.identity.passwords.is_common`)."""

Name = Annotated[str, StringConstraints(min_length=1, max_length=100)]
"""A display or studio name: 1 to 100 characters after stripping."""

OpaqueToken = Annotated[str, StringConstraints(min_length=1, max_length=512)]
"""A refresh or invitation token as handed out (``{id}.{secret}``)."""


# ---------------------------------------------------------------- requests


class RegisterRequest(RequestModel):
    """``POST /auth/register``: a new studio and its first ADMIN."""

    studio_name: Name
    email: Email
    password: NewPassword
    display_name: Name


class LoginRequest(RequestModel):
    """``POST /auth/login``; ``studioId`` picks one of the user's studios (see the route)."""

    email: Email
    password: Password
    studio_id: Identifier | None = None


class RefreshRequest(RequestModel):
    """``POST /auth/refresh`` and ``POST /auth/logout``."""

    refresh_token: OpaqueToken


class AcceptInvitationRequest(RequestModel):
    """``POST /auth/accept-invitation``: ``displayName`` is required for a new account only."""

    token: OpaqueToken
    password: Password
    display_name: Name | None = None


class InvitationRequest(RequestModel):
    """``POST /studio/invitations``."""

    email: Email
    role: Role


class PasswordChangeRequest(RequestModel):
    """``POST /me/password``."""

    current_password: Password
    new_password: NewPassword


class ProfileUpdate(RequestModel):
    """``PATCH /me``: your display name (shown in every studio you belong to)."""

    display_name: Name


class AvatarRequest(RequestModel):
    """``PUT /me/avatar``: the ``uploadId`` of ``POST /me/avatar/uploads``, once the file is uploaded."""

    upload_id: Identifier


class PasswordResetRequest(RequestModel):
    """``POST /auth/password-reset``."""

    email: Email


class PasswordResetConfirmRequest(RequestModel):
    """``POST /auth/password-reset/confirm``: the token of the e-mailed link and the new password."""

    token: OpaqueToken
    new_password: NewPassword


class StudioCreateRequest(RequestModel):
    """``POST /studios``: another studio, with the caller as its first ADMIN."""

    name: Name


class TransferRequest(RequestModel):
    """``POST /studio/transfer``: ``userId`` becomes ADMIN; the caller takes ``newRole``."""

    user_id: Identifier
    new_role: Role = Role.PRODUCER


class RoleChangeRequest(RequestModel):
    """``PATCH /studio/members/{userId}``."""

    role: Role


# ---------------------------------------------------------------- responses


class UserView(ApiModel):
    """A user as others in the studio see them."""

    user_id: str
    email: str
    display_name: str
    created_at: str
    avatar_url: str | None = Field(
        default=None,
        description="their profile picture (256x256 WebP), a link valid an hour; absent without one",
    )


class AvatarUpload(ApiModel):
    """``POST /me/avatar/uploads``: POST the file to ``url`` as ``multipart/form-data`` with every one of
    ``fields`` and then the file as ``file`` (at most ``maxBytes``), then ``PUT /me/avatar {uploadId}``."""

    upload_id: str
    url: str
    fields: dict[str, str]
    max_bytes: int
    expires_at: str = Field(description="the upload must be done before this time (UTC)")


class StudioView(ApiModel):
    """A studio."""

    studio_id: str
    name: str
    created_at: str


class AuthResponse(ApiModel):
    """The answer of register, login, refresh and accept-invitation.

    ``accessToken`` is a JWT for ``studio`` valid ``expiresIn`` seconds; ``refreshToken`` is opaque,
    single use (each refresh returns a new one).
    """

    access_token: str
    refresh_token: str
    token_type: str = "Bearer"
    expires_in: int = Field(description="access token lifetime, seconds")
    user: UserView
    studio: StudioView
    role: Role


class MeResponse(ApiModel):
    """``GET /me``: the caller in the studio of their token."""

    user: UserView
    studio: StudioView
    role: Role
    unread_notifications: int = Field(
        default=0, ge=0, description="your unread notifications in this studio (GET /me/notifications)"
    )


class MyStudio(ApiModel):
    """One of the caller's memberships."""

    studio: StudioView
    role: Role
    joined_at: str
    last_used_at: str


class MyStudiosResponse(ApiModel):
    """``GET /me/studios``: every studio the caller belongs to, most recently used first."""

    items: list[MyStudio]


class MemberView(ApiModel):
    """A member of the caller's studio."""

    user_id: str
    email: str
    display_name: str
    role: Role
    joined_at: str
    avatar_url: str | None = Field(
        default=None, description="their profile picture, a link valid an hour; absent without one"
    )


class MembersResponse(ApiModel):
    """``GET /studio/members``: one page of members, by user id; ``nextCursor`` for the next."""

    items: list[MemberView]
    next_cursor: str | None = None


class InvitationResponse(ApiModel):
    """``POST /studio/invitations`` and ``…/{invitationId}/resend``: the invitee gets the link by e-mail.

    ``token`` is present only on the local stack (``STAGE=local``), for development; everywhere else
    it exists only in the e-mail's link.
    """

    invitation_id: str
    email: str
    role: Role
    expires_at: str
    email_sent: bool = Field(description="false when the e-mail service refused the message: resend it")
    token: str | None = Field(default=None, description="only on the local stack (STAGE=local)")


class SessionView(ApiModel):
    """One signed-in session (a sign-in and its refreshes) of the caller."""

    session_id: str
    studio_id: str
    studio_name: str
    created_at: str
    last_used_at: str = Field(description="the last refresh (or the sign-in)")
    expires_at: str
    current: bool = Field(description="the session of the access token of this request")


class SessionsResponse(ApiModel):
    """``GET /me/sessions``: the caller's sessions in every studio, newest first."""

    items: list[SessionView]


class Accepted(ApiModel):
    """``202``: the request was taken; what it leads to is not told."""

    status: str = "accepted"
    message: str


class PasswordChanged(ApiModel):
    """``POST /me/password`` and ``/auth/password-reset/confirm``: the sessions signed out."""

    sessions_revoked: int


class InvitationView(ApiModel):
    """A pending invitation (``expired`` once past ``expiresAt``: resend or revoke it)."""

    invitation_id: str
    email: str
    role: Role
    invited_by: str
    created_at: str
    expires_at: str
    expired: bool
    sent_count: int
    last_sent_at: str


class InvitationPage(ApiModel):
    """``GET /studio/invitations``: pending invitations, newest first."""

    items: list[InvitationView]
    next_cursor: str | None = None
