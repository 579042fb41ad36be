"""The one permission table: sane, complete, and shown in the README as it is in code."""

from pathlib import Path

from keyframe.identity.permissions import (
    PERMISSION_PURPOSE,
    ROLE_PERMISSIONS,
    Permission,
    Role,
    allows,
    role_table_markdown,
)

README = Path(__file__).resolve().parents[3] / "README.md"


def test_every_permission_has_holders_and_a_purpose() -> None:
    assert set(ROLE_PERMISSIONS) == set(Permission)
    assert set(PERMISSION_PURPOSE) == set(Permission)


def test_admin_holds_everything_and_viewer_only_reads() -> None:
    assert all(allows(Role.ADMIN, p) for p in Permission)
    viewer = {p for p in Permission if allows(Role.VIEWER, p)}
    assert all(p.value.endswith(":read") or p is Permission.LIVE_CONNECT for p in viewer)


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
