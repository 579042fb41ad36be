"""Authentication inside the API function: role from the membership, refusals (no network)."""

from __future__ import annotations

import pytest

from keyframe.errors import Unauthenticated
from keyframe.identity import authorizer, token_keys, tokens
from keyframe.identity.permissions import Role

KEYS = token_keys.LocalTokenKeys()
KEYS.add("k1")


class FakeMembership:
    def __init__(self, role: str) -> None:
        self.role = role


class FakeFamily:
    def __init__(self, user_id: str = "u-1", studio_id: str = "s-1", *, revoked: bool = False) -> None:
        self.user_id, self.studio_id, self.revoked = user_id, studio_id, revoked


MEMBER = ("STUDIO#s-1", "MEMBER#u-1")
FAMILY = ("REFRESH#f-1", "FAMILY")


def _issue(role: Role, **kw: object) -> str:
    return tokens.issue_access_token("u-1", "s-1", role, family_id="f-1", keys=KEYS, **kw)


@pytest.fixture
def memberships(monkeypatch: pytest.MonkeyPatch) -> dict[tuple[str, str], object]:
    """Stand-ins for the tenants table's membership and session items and the token keys.

    The tokens of these tests belong to the live session ``f-1`` of u-1 in s-1.
    """
    table: dict[tuple[str, str], object] = {FAMILY: FakeFamily()}
    lookups: list[tuple[str, str, str]] = []
    monkeypatch.setattr(token_keys, "token_keys", lambda: KEYS)

    def read(studio_id: str, user_id: str, family_id: str):
        lookups.append((studio_id, user_id, family_id))
        return table.get(("STUDIO#" + studio_id, "MEMBER#" + user_id)), table.get(
            ("REFRESH#" + family_id, "FAMILY")
        )

    monkeypatch.setattr(authorizer, "_membership_and_family", read)
    table["lookups"] = lookups  # type: ignore[assignment]
    return table


def test_a_member_gets_the_context_of_their_studio_and_role(memberships):
    # Given a member of studio s-1 with a valid token
    memberships[MEMBER] = FakeMembership("DIRECTOR")
    # When / Then
    assert authorizer.authenticate(f"Bearer {_issue(Role.DIRECTOR)}") == {
        "studioId": "s-1",
        "userId": "u-1",
        "role": "DIRECTOR",
        "sessionId": "f-1",
    }
    # And the membership and the session were read in one lookup
    assert memberships["lookups"] == [("s-1", "u-1", "f-1")]


def test_role_comes_from_the_membership_not_the_token(memberships):
    # Given a token issued while the member was ADMIN, and a membership now VIEWER
    memberships[MEMBER] = FakeMembership("VIEWER")
    # When / Then the context says VIEWER
    assert authorizer.authenticate(f"Bearer {_issue(Role.ADMIN)}")["role"] == "VIEWER"


def test_lowercase_bearer_scheme_is_accepted(memberships):
    memberships[MEMBER] = FakeMembership("ARTIST")
    assert authorizer.authenticate(f"bearer {_issue(Role.ARTIST)}")["userId"] == "u-1"


def _refused(authorization: str | None) -> None:
    with pytest.raises(Unauthenticated):
        authorizer.authenticate(authorization)


def test_removed_member_is_refused(memberships):
    # Given a valid token but no membership any more
    _refused(f"Bearer {_issue(Role.ARTIST)}")


def test_a_membership_with_an_unknown_role_is_refused_not_a_crash(memberships):
    memberships[MEMBER] = FakeMembership("OWNER")
    _refused(f"Bearer {_issue(Role.ARTIST)}")


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Token abc", "Bearer not.a.jwt"],
)
def test_missing_or_malformed_authorization_is_refused(memberships, authorization):
    _refused(authorization)


def test_expired_token_is_refused_before_any_lookup(memberships):
    memberships[MEMBER] = FakeMembership("ARTIST")
    _refused(f"Bearer {_issue(Role.ARTIST, now=1_000_000)}")
    assert memberships["lookups"] == []


def test_bearer_token_parsing():
    assert authorizer.bearer_token("Bearer abc.def.ghi") == "abc.def.ghi"
    assert authorizer.bearer_token("  BEARER   abc  ") == "abc"


@pytest.mark.parametrize(
    "family",
    [
        pytest.param(None, id="no-such-session"),
        pytest.param(FakeFamily(revoked=True), id="signed-out"),
        pytest.param(FakeFamily(user_id="u-2"), id="another-users-session"),
        pytest.param(FakeFamily(studio_id="s-2"), id="another-studios-session"),
    ],
)
def test_a_token_whose_session_ended_is_refused(memberships, family):
    # Given a member with a valid token whose session is gone, signed out or not theirs
    memberships[MEMBER] = FakeMembership("ARTIST")
    memberships[FAMILY] = family
    # When / Then refused
    _refused(f"Bearer {_issue(Role.ARTIST)}")
