"""The one permission table: sane, complete, and shown in the README as it is in code."""

from pathlib import Path

import pytest

from keyframe.errors import Forbidden
from keyframe.identity.permissions import (
    OWNERSHIP,
    PERMISSION_PURPOSE,
    ROLE_PERMISSIONS,
    Permission,
    Principal,
    Role,
    allows,
    require_owner_or,
    role_table_markdown,
)

README = Path(__file__).resolve().parents[3] / "README.md"


def test_every_permission_has_holders_and_a_purpose() -> None:
    assert set(ROLE_PERMISSIONS) == set(Permission)
    assert set(PERMISSION_PURPOSE) == set(Permission)


def test_admin_holds_everything_and_viewer_only_reads() -> None:
    assert all(allows(Role.ADMIN, p) for p in Permission)
    viewer = {p for p in Permission if allows(Role.VIEWER, p)}
    # besides reading: a live socket, and the analytics events of what they play (nobody else sees them)
    assert all(
        p.value.endswith(":read") or p in (Permission.LIVE_CONNECT, Permission.ANALYTICS_SEND) for p in viewer
    )


def test_issue_rules() -> None:
    assert not allows(Role.ARTIST, Permission.REVIEW_DECIDE)
    assert allows(Role.DIRECTOR, Permission.REVIEW_DECIDE)
    assert allows(Role.ARTIST, Permission.ASSET_WRITE)
    assert not allows(Role.ARTIST, Permission.ASSET_ARCHIVE)
    assert not allows(Role.DIRECTOR, Permission.PROJECT_WRITE)
    assert allows(Role.PRODUCER, Permission.PROJECT_WRITE)
    assert not allows("SUPERUSER", Permission.STUDIO_READ)


def test_readme_shows_the_role_table_from_code() -> None:
    # Given the table generated from ROLE_PERMISSIONS / Then the README contains it verbatim
    assert role_table_markdown() in README.read_text(), "run: python -m keyframe.readme"


OWNED_RULES = [
    # (…-any permission, own permission, roles that may act on anyone's, code)
    (Permission.UPLOAD_FINISH_ANY, Permission.UPLOAD_WRITE, {Role.ADMIN, Role.PRODUCER}, "NOT_UPLOADER"),
    (
        Permission.COMMENT_RESOLVE_ANY,
        Permission.REVIEW_COMMENT,
        {Role.ADMIN, Role.PRODUCER, Role.DIRECTOR},
        "NOT_COMMENT_AUTHOR",
    ),
    (
        Permission.RENDER_CONTROL_ANY,
        Permission.RENDER_WRITE,
        {Role.ADMIN, Role.PRODUCER},
        "NOT_RENDER_REQUESTER",
    ),
]


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize(("permission", "own", "anyone", "code"), OWNED_RULES)
def test_resource_rules_for_every_role(
    role: Role, permission: Permission, own: Permission, anyone: set[Role], code: str
) -> None:
    # Given a member of `role` and a resource of a colleague, and one of their own
    me = Principal(studio_id="s", user_id="me", role=role)
    # Then anyone's resource needs the …-any permission
    assert me.can_act_on("colleague", permission) is (role in anyone)
    # And their own needs only the ordinary permission
    assert me.can_act_on("me", permission) is allows(role, own)
    assert me.can_act_on(None, permission) is (role in anyone)
    if role in anyone:
        require_owner_or(me, "colleague", permission)
        return
    # And a refusal names the rule's code, or the ordinary permission when even that is missing
    with pytest.raises(Forbidden) as refused:
        require_owner_or(me, "colleague", permission)
    if allows(role, own):
        assert refused.value.code == code
        assert refused.value.details["permission"] == permission.value
    else:
        assert refused.value.code == "FORBIDDEN"
        assert refused.value.details == {"permission": own.value, "role": role.value}
    assert OWNERSHIP[permission].code == code


def test_the_role_table_marks_own_only_rights() -> None:
    table = role_table_markdown()
    row = next(line for line in table.splitlines() if "`upload:finish-any`" in line)
    assert row.endswith("| ✓ | ✓ | own | own |  |")
    row = next(line for line in table.splitlines() if "`comment:resolve-any`" in line)
    assert row.endswith("| ✓ | ✓ | ✓ | own |  |")
