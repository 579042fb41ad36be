"""REST routes of the identity domain (function ``identity-api``).

Public (no authorizer): ``/auth/register``, ``/auth/login``, ``/auth/refresh``, ``/auth/logout``,
``/auth/accept-invitation``. Every other route asks :func:`keyframe.http.auth.authorize` for its
permission; the studio is always the token's.
"""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path

from keyframe.http.auth import authorize, client_address
from keyframe.http.contract import answers
from keyframe.identity import members, service
from keyframe.identity.permissions import Permission
from keyframe.identity.schemas import (
    AcceptInvitationRequest,
    AuthResponse,
    Identifier,
    InvitationRequest,
    InvitationResponse,
    LoginRequest,
    MembersResponse,
    MemberView,
    MeResponse,
    MyStudiosResponse,
    RefreshRequest,
    RegisterRequest,
    RoleChangeRequest,
)
from keyframe.notifications import inbox

router = Router()

UserId = Annotated[Identifier, Path(description="the member's user id")]


def _no_content() -> Response[None]:
    return Response(status_code=204, content_type=None, body=None)


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
        "INVITATION_USED",
        "NOT_FOUND",
    ),
)
def accept_invitation(body: AcceptInvitationRequest) -> AuthResponse:
    """201 with tokens for the invitation's studio; 400 when the invitation is invalid, used or expired."""
    return service.accept_invitation(body, client_address())


@router.get(
    "/me",
    tags=["me"],
    summary="You, your studio and your role",
    operation_id="getMe",
    openapi_extensions=answers("NOT_FOUND"),
)
def me() -> MeResponse:
    """The caller in the studio of their access token, with their unread notification count."""
    principal = authorize(Permission.STUDIO_READ)
    answer = service.me(principal)
    answer.unread_notifications = inbox.unread_count(principal.studio_id, principal.user_id)
    return answer


@router.get(
    "/me/studios",
    tags=["me"],
    summary="Every studio you belong to, with your role",
    operation_id="listMyStudios",
    openapi_extensions=answers(),
)
def my_studios() -> MyStudiosResponse:
    """All memberships of the caller, most recently used first."""
    return service.my_studios(authorize(Permission.STUDIO_READ))


@router.post(
    "/studio/invitations",
    status_code=201,
    tags=["members"],
    summary="Invite someone to your studio",
    operation_id="inviteMember",
    openapi_extensions=answers("ALREADY_MEMBER"),
)
def invite(body: InvitationRequest) -> InvitationResponse:
    """201 with the single-use token (shown once); ADMIN only."""
    return members.invite(authorize(Permission.MEMBERS_MANAGE), body.email, body.role)


@router.get(
    "/studio/members",
    tags=["members"],
    summary="Members of your studio",
    operation_id="listMembers",
    openapi_extensions=answers(),
)
def list_members() -> MembersResponse:
    """Every member with their role, oldest first."""
    return members.list_members(authorize(Permission.STUDIO_READ))


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
    members.remove(authorize(Permission.MEMBERS_MANAGE), userId)
    return _no_content()
