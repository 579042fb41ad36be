"""Roles, permissions, and the one table that says which role may do what.

Every route asks :func:`keyframe.http.auth.authorize` for a :class:`Permission`; nothing else in the
code compares role names. The README's role table is generated from :data:`ROLE_PERMISSIONS`
(``tests/unit/test_permissions.py`` keeps it in sync).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


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
    RENDER_READ = "render:read"
    RENDER_WRITE = "render:write"
    REVIEW_COMMENT = "review:comment"
    REVIEW_DECIDE = "review:decide"
    ACTIVITY_READ = "activity:read"
    LIVE_CONNECT = "live:connect"


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
    Permission.RENDER_READ: frozenset(_EVERYONE),
    Permission.RENDER_WRITE: frozenset(_CREATORS),
    Permission.REVIEW_COMMENT: frozenset(_CREATORS),
    Permission.REVIEW_DECIDE: frozenset(_LEADS),
    Permission.ACTIVITY_READ: frozenset(_EVERYONE),
    Permission.LIVE_CONNECT: frozenset(_EVERYONE),
}
"""Permission -> the roles that hold it. The single source of truth for authorization."""

PERMISSION_PURPOSE: dict[Permission, str] = {
    Permission.STUDIO_READ: "read your profile, your studios and the member list",
    Permission.MEMBERS_MANAGE: "invite members, change roles, remove members",
    Permission.PROJECT_READ: "list and read projects",
    Permission.PROJECT_WRITE: "create, edit and archive projects",
    Permission.ASSET_READ: "list and read assets, versions, dependencies; download versions",
    Permission.ASSET_WRITE: "create and edit assets and their dependencies",
    Permission.ASSET_ARCHIVE: "archive and restore assets",
    Permission.VERSION_ROLLBACK: "move an asset's current version (rollback / forward)",
    Permission.UPLOAD_WRITE: "upload files that become new versions; reprocess versions",
    Permission.RENDER_READ: "list and read render jobs; play renders",
    Permission.RENDER_WRITE: "request, cancel and retry render jobs",
    Permission.REVIEW_COMMENT: "comment on versions, resolve comments",
    Permission.REVIEW_DECIDE: "approve or request changes on a version",
    Permission.ACTIVITY_READ: "read the activity log",
    Permission.LIVE_CONNECT: "open a live review socket and join rooms",
}


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


def role_table_markdown() -> str:
    """The README's role table: one row per permission, one column per role."""
    roles = list(Role)
    lines = [
        "| permission | what it allows | " + " | ".join(r.value for r in roles) + " |",
        "|---|---|" + "|".join(":-:" for _ in roles) + "|",
    ]
    for permission, holders in ROLE_PERMISSIONS.items():
        marks = " | ".join("✓" if r in holders else "" for r in roles)
        lines.append(f"| `{permission.value}` | {PERMISSION_PURPOSE[permission]} | {marks} |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(role_table_markdown())
