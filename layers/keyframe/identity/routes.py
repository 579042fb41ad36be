"""REST routes of the identity domain (function ``identity-api``).

Public (no authorizer): ``/auth/register``, ``/auth/login``, ``/auth/refresh``, ``/auth/logout``,
``/auth/accept-invitation``. Every other route asks :func:`keyframe.http.auth.authorize` for its
permission; the studio is always the token's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, TypeVar

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query

from keyframe.http.auth import authorize, client_address, current_session_id
from keyframe.http.contract import answers
from keyframe.http.params import path_id
from keyframe.identity.permissions import Permission, Principal, Role
from keyframe.identity.schemas import (
    Accepted,
    AcceptInvitationRequest,
    AuthResponse,
    AvatarRequest,
    AvatarUpload,
    InvitationPage,
    InvitationRequest,
    InvitationResponse,
    LoginRequest,
    MembersResponse,
    MemberView,
    MeResponse,
    MyStudiosResponse,
    PasswordChanged,
    PasswordChangeRequest,
    PasswordResetConfirmRequest,
    PasswordResetRequest,
    ProfileUpdate,
    RefreshRequest,
    RegisterRequest,
    RoleChangeRequest,
    SessionsResponse,
    StudioCreateRequest,
    TransferRequest,
    UserView,
)

router = Router()
_Route = TypeVar("_Route", bound=Callable[..., object])

UserId = Annotated[str, path_id("the member's user id")]
StudioId = Annotated[str, path_id("one of your studios (GET /me/studios)")]
SessionId = Annotated[str, path_id("a session id from GET /me/sessions")]
InvitationId = Annotated[str, path_id("the invitation's id")]
Limit = Annotated[int, Query(ge=1, le=100, description="Items per page (1-100)")]
Cursor = Annotated[str | None, Query(max_length=4096, description="nextCursor of the previous page")]
RoleFilter = Annotated[Role | None, Query(description="only members with this role")]


def _no_content() -> Response[None]:
    return Response(status_code=204, content_type=None, body=None)


def _mine(
    method: str,
    rule: str,
    *,
    operation_id: str,
    summary: str,
    codes: tuple[str, ...] = (),
    status_code: int = 200,
) -> Callable[[_Route], _Route]:
    """Declare a route of the caller's own account (tag ``me``); its body asks :func:`_caller`.

    ``codes`` are the error codes the route itself can raise (:func:`keyframe.http.contract.answers`),
    ``status_code`` its success status.
    """
    return router.route(
        rule,
        method,
        status_code=status_code,
        tags=["me"],
        summary=summary,
        operation_id=operation_id,
        openapi_extensions=answers(*codes),
    )


def _caller() -> Principal:
    """The verified caller of a ``me`` route: any member of the token's studio (``studio:read``).

    Raises ``Unauthenticated`` (401) without a verified caller.
    """
    return authorize(Permission.STUDIO_READ)


@router.post(
    "/auth/register",
    status_code=201,
    tags=["auth"],
    summary="Create a studio and its first ADMIN",
    operation_id="register",
    openapi_extensions=answers("EMAIL_TAKEN"),
)
def register(body: RegisterRequest) -> AuthResponse:
    """201 with tokens (login shape); 409 ``EMAIL_TAKEN`` when the e-mail has an account."""
    from keyframe.identity import service

    return service.register(body)


@router.post(
    "/auth/login",
    tags=["auth"],
    summary="Sign in to one of your studios",
    operation_id="login",
    openapi_extensions=answers("INVALID_CREDENTIALS"),
)
def login(body: LoginRequest) -> AuthResponse:
    """200 with tokens; 401 on bad credentials; 429 with ``Retry-After`` after repeated failures."""
    from keyframe.identity import service

    return service.login(body, client_address())


@router.post(
    "/auth/refresh",
    tags=["auth"],
    summary="Rotate a refresh token (single use)",
    operation_id="refresh",
    openapi_extensions=answers(
        "INVALID_REFRESH_TOKEN",
        "REFRESH_TOKEN_REUSED",
    ),
)
def refresh(body: RefreshRequest) -> AuthResponse:
    """200 with a new token pair; 401 when invalid; a reused token revokes its family."""
    from keyframe.identity import service

    return service.refresh(body.refresh_token)


@router.post(
    "/auth/logout",
    status_code=204,
    tags=["auth"],
    summary="Revoke a refresh token's family",
    operation_id="logout",
    openapi_extensions=answers(),
)
def logout(body: RefreshRequest) -> Response[None]:
    """204 always (an unknown token has nothing to revoke)."""
    from keyframe.identity import service

    service.logout(body.refresh_token)
    return _no_content()


@router.post(
    "/auth/accept-invitation",
    status_code=201,
    tags=["auth"],
    summary="Join a studio with an invitation token",
    operation_id="acceptInvitation",
    openapi_extensions=answers(
        "ALREADY_MEMBER",
        "EMAIL_TAKEN",
        "INVALID_CREDENTIALS",
        "INVITATION_EXPIRED",
        "INVITATION_INVALID",
        "INVITATION_REVOKED",
        "INVITATION_USED",
        "NOT_FOUND",
    ),
)
def accept_invitation(body: AcceptInvitationRequest) -> AuthResponse:
    """201 with tokens for the invitation's studio; 400 when invalid or used; 410 when revoked or expired.

    An existing account (the invited e-mail already has one) proves itself with its password and
    joins with it; the answer's tokens are for the invitation's studio (switch back by signing in).
    """
    from keyframe.identity import service

    return service.accept_invitation(body, client_address())


@router.post(
    "/auth/password-reset",
    status_code=202,
    tags=["auth"],
    summary="E-mail a password-reset link (always 202: whether the e-mail has an account is not told)",
    operation_id="requestPasswordReset",
    openapi_extensions=answers(),
)
def request_password_reset(body: PasswordResetRequest) -> Accepted:
    """202 always, after the same time; 429 when this address asked too often this hour."""
    from keyframe.identity import accounts

    accounts.request_reset(body.email, client_address())
    return Accepted(message="If this e-mail has an account, a reset link is on its way (valid 30 minutes)")


@router.post(
    "/auth/password-reset/confirm",
    tags=["auth"],
    summary="Set a new password with an e-mailed reset link (signs out every session)",
    operation_id="confirmPasswordReset",
    openapi_extensions=answers("RESET_TOKEN_INVALID", "RESET_TOKEN_USED", "RESET_TOKEN_EXPIRED", "NOT_FOUND"),
)
def confirm_password_reset(body: PasswordResetConfirmRequest) -> PasswordChanged:
    """200; 400 for a token Keyframe did not issue; 410 when used or expired."""
    from keyframe.identity import accounts

    return PasswordChanged(sessions_revoked=accounts.confirm_reset(body.token, body.new_password))


@_mine(
    "POST",
    "/me/password",
    operation_id="changePassword",
    summary="Change your password (signs out your other sessions)",
    codes=("INVALID_CREDENTIALS", "NOT_FOUND"),
)
def change_password(body: PasswordChangeRequest) -> PasswordChanged:
    """200; 401 when ``currentPassword`` is wrong (throttled like a sign-in)."""
    from keyframe.identity import accounts

    principal = _caller()
    revoked = accounts.change_password(
        principal, current_session_id(), body.current_password, body.new_password, client_address()
    )
    return PasswordChanged(sessions_revoked=revoked)


@_mine(
    "GET", "/me/sessions", operation_id="listMySessions", summary="Your signed-in sessions in every studio"
)
def my_sessions() -> SessionsResponse:
    """Newest first; ``current`` marks the session of this request's token."""
    from keyframe.identity import accounts

    return accounts.list_sessions(_caller(), current_session_id())


@_mine(
    "DELETE",
    "/me/sessions/<sessionId>",
    operation_id="endMySession",
    summary="Sign out one of your sessions (its access tokens stop at once)",
    codes=("SESSION_NOT_FOUND",),
    status_code=204,
)
def end_my_session(sessionId: SessionId) -> Response[None]:
    """204; 404 when it is not a session of yours."""
    from keyframe.identity import accounts

    accounts.end_session(_caller(), sessionId)
    return _no_content()


@_mine(
    "DELETE",
    "/me/sessions",
    operation_id="endAllMySessions",
    summary="Sign out everywhere (every session, this one included)",
    status_code=204,
)
def end_all_my_sessions() -> Response[None]:
    """204; every access token of yours is refused from the next request on."""
    from keyframe.identity import accounts

    accounts.end_all_sessions(_caller())
    return _no_content()


@_mine("GET", "/me", operation_id="getMe", summary="You, your studio and your role", codes=("NOT_FOUND",))
def me() -> MeResponse:
    """The caller in the studio of their access token, with their unread notification count."""
    from keyframe.identity import service
    from keyframe.notifications import inbox

    principal = _caller()
    answer = service.me(principal)
    answer.unread_notifications = inbox.unread_count(principal.studio_id, principal.user_id)
    return answer


@_mine(
    "PATCH", "/me", operation_id="updateMe", summary="Edit your profile (display name)", codes=("NOT_FOUND",)
)
def update_me(body: ProfileUpdate) -> UserView:
    """200 with your account as others see it."""
    from keyframe.identity import accounts

    return accounts.update_profile(_caller(), body.display_name)


@_mine(
    "POST",
    "/me/avatar/uploads",
    operation_id="createAvatarUpload",
    summary="Start uploading a profile picture (a presigned S3 POST)",
    status_code=201,
)
def create_avatar_upload() -> AvatarUpload:
    """201 with a presigned POST (15 minutes) for a file of at most 5 MiB; then ``PUT /me/avatar``."""
    from keyframe.identity import avatars

    return avatars.create_upload(_caller())


@_mine(
    "PUT",
    "/me/avatar",
    operation_id="setAvatar",
    summary="Make an uploaded file your profile picture",
    codes=(
        "NOT_FOUND",
        "AVATAR_UPLOAD_NOT_FOUND",
        "AVATAR_TOO_LARGE",
        "AVATAR_NOT_AN_IMAGE",
        "CONCURRENT_CHANGE",
    ),
)
def set_avatar(body: AvatarRequest) -> UserView:
    """200 with your account and its ``avatarUrl``: the file must be a PNG, JPEG or WebP image (its
    bytes are checked, not its content type) of at most 5 MiB; it becomes a 256x256 picture and the
    uploaded file and your previous picture are deleted. 413 ``AVATAR_TOO_LARGE``, 400
    ``AVATAR_NOT_AN_IMAGE``, 404 ``AVATAR_UPLOAD_NOT_FOUND`` (nothing uploaded, or already used)."""
    from keyframe.identity import avatars, sessions

    principal = _caller()
    return sessions.user_view(avatars.set_avatar(principal, body.upload_id))


@_mine(
    "DELETE",
    "/me/avatar",
    operation_id="removeAvatar",
    summary="Remove your profile picture",
    codes=("NOT_FOUND", "CONCURRENT_CHANGE"),
    status_code=204,
)
def remove_avatar() -> Response[None]:
    """204, also when you had no picture."""
    from keyframe.identity import avatars

    avatars.remove_avatar(_caller())
    return _no_content()


@_mine(
    "GET", "/me/studios", operation_id="listMyStudios", summary="Every studio you belong to, with your role"
)
def my_studios() -> MyStudiosResponse:
    """All memberships of the caller, most recently used first."""
    from keyframe.identity import service

    return service.my_studios(_caller())


@_mine(
    "POST",
    "/studios",
    operation_id="createStudio",
    summary="Create another studio (you are its first ADMIN) and sign in to it",
    codes=("NOT_FOUND",),
    status_code=201,
)
def create_studio(body: StudioCreateRequest) -> AuthResponse:
    """201 with tokens for the new studio (login shape); your other studios are unchanged."""
    from keyframe.identity import studios

    return studios.create(_caller(), body.name)


@_mine(
    "POST",
    "/me/studios/<studioId>/switch",
    operation_id="switchStudio",
    summary="Switch studio: tokens for another of your studios (no password)",
    codes=("NOT_FOUND",),
)
def switch_studio(studioId: StudioId) -> AuthResponse:
    """200 with tokens for ``studioId`` (login shape); 404 when you are not its member."""
    from keyframe.identity import studios

    return studios.switch(_caller(), studioId)


@router.post(
    "/studio/leave",
    status_code=204,
    tags=["members"],
    summary="Leave the studio of your token (the last ADMIN cannot)",
    operation_id="leaveStudio",
    openapi_extensions=answers("LAST_ADMIN", "CONCURRENT_CHANGE", "NOT_FOUND"),
)
def leave_studio() -> Response[None]:
    """204; your sessions in this studio end at once; 409 ``LAST_ADMIN``."""
    from keyframe.identity import studios

    studios.leave(authorize(Permission.STUDIO_READ))
    return _no_content()


@router.post(
    "/studio/transfer",
    status_code=204,
    tags=["members"],
    summary="Hand the studio over: a member becomes ADMIN, you take newRole",
    operation_id="transferStudio",
    openapi_extensions=answers("LAST_ADMIN", "CONCURRENT_CHANGE", "MEMBER_NOT_FOUND"),
)
def transfer_studio(body: TransferRequest) -> Response[None]:
    """204; ADMIN only; both members' sockets reconnect with their new roles."""
    from keyframe.identity import studios

    studios.transfer(authorize(Permission.MEMBERS_MANAGE), body.user_id, body.new_role)
    return _no_content()


@router.post(
    "/studio/invitations",
    status_code=201,
    tags=["members"],
    summary="Invite someone to your studio by e-mail",
    operation_id="inviteMember",
    openapi_extensions=answers("ALREADY_MEMBER"),
)
def invite(body: InvitationRequest) -> InvitationResponse:
    """201; the invitee gets the link by e-mail (``emailSent``); ADMIN only."""
    from keyframe.identity import invitations

    return invitations.invite(authorize(Permission.MEMBERS_MANAGE), body.email, body.role)


@router.get(
    "/studio/invitations",
    tags=["members"],
    summary="Pending invitations of your studio, newest first (cursor pagination)",
    operation_id="listInvitations",
    openapi_extensions=answers("INVALID_CURSOR"),
)
def list_invitations(limit: Limit = 25, cursor: Cursor = None) -> InvitationPage:
    """Pending (and expired, flagged) invitations; ADMIN only."""
    from keyframe.identity import invitations

    return invitations.list_pending(authorize(Permission.MEMBERS_MANAGE), limit=limit, cursor=cursor)


@router.post(
    "/studio/invitations/<invitationId>/resend",
    tags=["members"],
    summary="E-mail a pending invitation again (new link, new expiry)",
    operation_id="resendInvitation",
    openapi_extensions=answers("INVITATION_NOT_FOUND", "INVITATION_NOT_PENDING"),
)
def resend_invitation(invitationId: InvitationId) -> InvitationResponse:
    """200; the previous link stops working; ADMIN only."""
    from keyframe.identity import invitations

    return invitations.resend(authorize(Permission.MEMBERS_MANAGE), invitationId)


@router.delete(
    "/studio/invitations/<invitationId>",
    status_code=204,
    tags=["members"],
    summary="Revoke a pending invitation",
    operation_id="revokeInvitation",
    openapi_extensions=answers("INVITATION_NOT_FOUND", "INVITATION_ACCEPTED", "CONCURRENT_CHANGE"),
)
def revoke_invitation(invitationId: InvitationId) -> Response[None]:
    """204 (also when already revoked); its link then answers 410; 409 when accepted; ADMIN only."""
    from keyframe.identity import invitations

    invitations.revoke(authorize(Permission.MEMBERS_MANAGE), invitationId)
    return _no_content()


@router.get(
    "/studio/members",
    tags=["members"],
    summary="Members of your studio (cursor pagination, filter by role)",
    operation_id="listMembers",
    openapi_extensions=answers("INVALID_CURSOR"),
)
def list_members(limit: Limit = 25, cursor: Cursor = None, role: RoleFilter = None) -> MembersResponse:
    """One page of members with their role, by user id."""
    from keyframe.identity import members

    return members.list_members(authorize(Permission.STUDIO_READ), limit=limit, cursor=cursor, role=role)


@router.patch(
    "/studio/members/<userId>",
    tags=["members"],
    summary="Change a member's role",
    operation_id="changeMemberRole",
    openapi_extensions=answers(
        "CONCURRENT_CHANGE",
        "LAST_ADMIN",
        "MEMBER_NOT_FOUND",
        "NOT_FOUND",
    ),
)
def change_role(userId: UserId, body: RoleChangeRequest) -> MemberView:
    """200 with the member; 404 outside your studio; 409 ``LAST_ADMIN``; ADMIN only."""
    from keyframe.identity import members

    return members.change_role(authorize(Permission.MEMBERS_MANAGE), userId, body.role)


@router.delete(
    "/studio/members/<userId>",
    status_code=204,
    tags=["members"],
    summary="Remove a member",
    operation_id="removeMember",
    openapi_extensions=answers(
        "CONCURRENT_CHANGE",
        "LAST_ADMIN",
        "MEMBER_NOT_FOUND",
    ),
)
def remove_member(userId: UserId) -> Response[None]:
    """204; revokes the member's sessions in your studio; 409 ``LAST_ADMIN``; ADMIN only."""
    from keyframe.identity import members

    members.remove(authorize(Permission.MEMBERS_MANAGE), userId)
    return _no_content()
