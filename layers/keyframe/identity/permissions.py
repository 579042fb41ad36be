"""Roles, permissions, and the one table that says which role may do what.

Every route asks :func:`keyframe.http.auth.authorize` for a :class:`Permission`; nothing else in the
code compares role names. Actions on one person's resource (finishing an upload, resolving a
comment, cancelling or retrying a render) also pass :func:`require_owner_or`: its owner may act
with the ordinary permission, anyone else needs the ``…-any`` permission (:data:`OWNERSHIP`). The
README's role table is generated from :data:`ROLE_PERMISSIONS` and :data:`OWNERSHIP`
(``tests/unit/core/test_permissions.py`` keeps it in sync).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from keyframe.errors import Forbidden


class Role(StrEnum):
    """A member's role in one studio, most to least powerful."""

    ADMIN = "ADMIN"
    PRODUCER = "PRODUCER"
    DIRECTOR = "DIRECTOR"
    ARTIST = "ARTIST"
    VIEWER = "VIEWER"


class Permission(StrEnum):
    """Something a route does on behalf of a member."""

    STUDIO_READ = "studio:read"
    MEMBERS_MANAGE = "members:manage"
    PROJECT_READ = "project:read"
    PROJECT_WRITE = "project:write"
    ASSET_READ = "asset:read"
    ASSET_WRITE = "asset:write"
    ASSET_ARCHIVE = "asset:archive"
    VERSION_ROLLBACK = "version:rollback"
    UPLOAD_WRITE = "upload:write"
    UPLOAD_FINISH_ANY = "upload:finish-any"
    RENDER_READ = "render:read"
    RENDER_WRITE = "render:write"
    RENDER_CONTROL_ANY = "render:control-any"
    REVIEW_COMMENT = "review:comment"
    COMMENT_RESOLVE_ANY = "comment:resolve-any"
    REVIEW_DECIDE = "review:decide"
    ACTIVITY_READ = "activity:read"
    LIVE_CONNECT = "live:connect"
    WEBHOOKS_MANAGE = "webhooks:manage"
    USAGE_READ = "usage:read"
    ANALYTICS_SEND = "analytics:send"


_EVERYONE = set(Role)
_CREATORS = {Role.ADMIN, Role.PRODUCER, Role.DIRECTOR, Role.ARTIST}
_LEADS = {Role.ADMIN, Role.PRODUCER, Role.DIRECTOR}
_MANAGERS = {Role.ADMIN, Role.PRODUCER}

ROLE_PERMISSIONS: dict[Permission, frozenset[Role]] = {
    Permission.STUDIO_READ: frozenset(_EVERYONE),
    Permission.MEMBERS_MANAGE: frozenset({Role.ADMIN}),
    Permission.PROJECT_READ: frozenset(_EVERYONE),
    Permission.PROJECT_WRITE: frozenset(_MANAGERS),
    Permission.ASSET_READ: frozenset(_EVERYONE),
    Permission.ASSET_WRITE: frozenset(_CREATORS),
    Permission.ASSET_ARCHIVE: frozenset(_MANAGERS),
    Permission.VERSION_ROLLBACK: frozenset(_LEADS),
    Permission.UPLOAD_WRITE: frozenset(_CREATORS),
    Permission.UPLOAD_FINISH_ANY: frozenset(_MANAGERS),
    Permission.RENDER_READ: frozenset(_EVERYONE),
    Permission.RENDER_WRITE: frozenset(_CREATORS),
    Permission.RENDER_CONTROL_ANY: frozenset(_MANAGERS),
    Permission.REVIEW_COMMENT: frozenset(_CREATORS),
    Permission.COMMENT_RESOLVE_ANY: frozenset(_LEADS),
    Permission.REVIEW_DECIDE: frozenset(_LEADS),
    Permission.ACTIVITY_READ: frozenset(_EVERYONE),
    Permission.LIVE_CONNECT: frozenset(_EVERYONE),
    Permission.WEBHOOKS_MANAGE: frozenset({Role.ADMIN}),
    Permission.USAGE_READ: frozenset(_MANAGERS),
    Permission.ANALYTICS_SEND: frozenset(_EVERYONE),
}
"""Permission -> the roles that hold it. The single source of truth for authorization."""

PERMISSION_PURPOSE: dict[Permission, str] = {
    Permission.STUDIO_READ: "read your profile, your studios and the member list; manage your own account "
    "(password, sessions, profile picture), create another studio, switch studio, leave a studio",
    Permission.MEMBERS_MANAGE: "invite members and manage invitations (list, resend, revoke), change roles, "
    "remove members, hand the studio over",
    Permission.PROJECT_READ: "list and read projects",
    Permission.PROJECT_WRITE: "create, edit and archive projects",
    Permission.ASSET_READ: "list and read assets, versions, dependencies; download versions",
    Permission.ASSET_WRITE: "create and edit assets and their dependencies",
    Permission.ASSET_ARCHIVE: "archive and restore assets",
    Permission.VERSION_ROLLBACK: "move an asset's current version (rollback / forward)",
    Permission.UPLOAD_WRITE: "upload files that become new versions; reprocess versions",
    Permission.UPLOAD_FINISH_ANY: "complete or abort an upload",
    Permission.RENDER_READ: "list and read render jobs; play renders",
    Permission.RENDER_WRITE: "request render jobs",
    Permission.RENDER_CONTROL_ANY: "cancel or retry a render job",
    Permission.REVIEW_COMMENT: "comment on versions; edit your own comments",
    Permission.COMMENT_RESOLVE_ANY: "resolve or reopen a comment",
    Permission.REVIEW_DECIDE: "approve or request changes on a version",
    Permission.ACTIVITY_READ: "read the activity log",
    Permission.LIVE_CONNECT: "open a live review socket and join rooms",
    Permission.WEBHOOKS_MANAGE: "create, change and delete webhook endpoints; read and replay deliveries",
    Permission.USAGE_READ: "read the studio's usage over a range of days",
    Permission.ANALYTICS_SEND: "send the review UI's analytics events (playback, views)",
}


@dataclass(frozen=True)
class Ownership:
    """How an ``…-any`` permission relates to the resource's owner.

    Attributes
    ----------
    own:
        The permission with which the owner may act on their own resource.
    owner:
        Who owns the resource, in words ("uploader", "author", "requester").
    code:
        The error code of the 403 when someone else lacking the ``…-any`` permission tries.
    """

    own: Permission
    owner: str
    code: str


OWNERSHIP: dict[Permission, Ownership] = {
    Permission.UPLOAD_FINISH_ANY: Ownership(Permission.UPLOAD_WRITE, "uploader", "NOT_UPLOADER"),
    Permission.COMMENT_RESOLVE_ANY: Ownership(Permission.REVIEW_COMMENT, "author", "NOT_COMMENT_AUTHOR"),
    Permission.RENDER_CONTROL_ANY: Ownership(Permission.RENDER_WRITE, "requester", "NOT_RENDER_REQUESTER"),
}
"""``…-any`` permission -> its owner rule: the owner acts with ``own``; anyone else needs the key."""


def allows(role: Role | str, permission: Permission) -> bool:
    """True when ``role`` holds ``permission`` according to :data:`ROLE_PERMISSIONS`."""
    try:
        return Role(role) in ROLE_PERMISSIONS[permission]
    except ValueError:
        return False


@dataclass(frozen=True)
class Principal:
    """Who is calling: the verified studio, user and role (from the authorizer, never the request).

    Attributes
    ----------
    studio_id:
        The studio (tenant) the access token was issued for; every data access is scoped to it.
    user_id:
        The calling user.
    role:
        The user's current role in that studio.
    """

    studio_id: str
    user_id: str
    role: Role

    def can(self, permission: Permission) -> bool:
        """True when this principal's role holds ``permission``."""
        return allows(self.role, permission)

    def can_act_on(self, owner_id: str | None, permission: Permission) -> bool:
        """True when this principal may use ``permission`` (an :data:`OWNERSHIP` key) on a resource
        owned by ``owner_id``: as its owner holding the rule's ``own``, or by holding ``permission``."""
        if self.can(permission):
            return True
        return owner_id is not None and owner_id == self.user_id and self.can(OWNERSHIP[permission].own)


def require(principal: Principal, permission: Permission) -> None:
    """Refuse unless ``principal``'s role holds ``permission``.

    Raises
    ------
    Forbidden
        ``FORBIDDEN`` naming the permission and the role, ``details = {"permission", "role"}``.
    """
    if not principal.can(permission):
        role = principal.role.value
        details = {"permission": permission.value, "role": role}
        raise Forbidden(f"Your role {role} cannot {permission.value}", details=details)


def require_owner_or(principal: Principal, owner_id: str | None, permission: Permission) -> None:
    """Refuse unless ``principal`` owns the resource (and holds the rule's ``own``) or holds ``permission``.

    Parameters
    ----------
    principal:
        The verified caller.
    owner_id:
        The user who owns the resource (uploader, author, requester); ``None`` when unknown.
    permission:
        An ``…-any`` permission, a key of :data:`OWNERSHIP`.

    Raises
    ------
    Forbidden
        The rule's code (``NOT_UPLOADER``, ``NOT_COMMENT_AUTHOR``, ``NOT_RENDER_REQUESTER``) with
        ``details = {"permission", "role", "owner"}``; or ``FORBIDDEN`` with
        ``{"permission", "role"}`` when the role lacks even the rule's ``own`` permission.
    """
    if principal.can_act_on(owner_id, permission):
        return
    rule = OWNERSHIP[permission]
    require(principal, rule.own)
    role = principal.role.value
    holders = " or ".join(r.value for r in Role if r in ROLE_PERMISSIONS[permission])
    raise Forbidden(
        f"Only its {rule.owner} or a member whose role is {holders} may {PERMISSION_PURPOSE[permission]}",
        code=rule.code,
        details={"permission": permission.value, "role": role, "owner": rule.owner},
    )


def _mark(role: Role, permission: Permission) -> str:
    if allows(role, permission):
        return "✓"
    rule = OWNERSHIP.get(permission)
    return "own" if rule is not None and allows(role, rule.own) else ""


def role_table_markdown() -> str:
    """The README's role table: one row per permission, one column per role.

    ``✓`` holds the permission; ``own`` (``…-any`` rows) may do it only to their own resource.
    """
    roles = list(Role)
    lines = [
        "| permission | what it allows | " + " | ".join(r.value for r in roles) + " |",
        "|---|---|" + "|".join(":-:" for _ in roles) + "|",
    ]
    for permission in ROLE_PERMISSIONS:
        marks = " | ".join(_mark(r, permission) for r in roles)
        purpose = PERMISSION_PURPOSE[permission]
        rule = OWNERSHIP.get(permission)
        if rule is not None:
            purpose += f" of anyone (`own`: only as its {rule.owner})"
        lines.append(f"| `{permission.value}` | {purpose} | {marks} |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(role_table_markdown())
