"""The TOKEN authorizer's answers: policy shape, role from the membership, refusals (no network)."""

from __future__ import annotations

import pytest

from keyframe.identity import authorizer, token_keys, tokens
from keyframe.identity.permissions import Role

KEYS = token_keys.LocalTokenKeys()
KEYS.add("k1")
METHOD_ARN = "arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/GET/projects/p-1"


class FakeMembership:
    def __init__(self, role: str) -> None:
        self.role = role


class FakeFamily:
    def __init__(self, user_id: str = "u-1", studio_id: str = "s-1", *, revoked: bool = False) -> None:
        self.user_id, self.studio_id, self.revoked = user_id, studio_id, revoked


FAMILY = ("REFRESH#f-1", "FAMILY")


def _issue(role: Role, **kw: object) -> str:
    return tokens.issue_access_token("u-1", "s-1", role, family_id="f-1", keys=KEYS, **kw)


@pytest.fixture
def memberships(monkeypatch: pytest.MonkeyPatch) -> dict[tuple[str, str], object]:
    """Stand-ins for the tenants table's membership and session items and the secret's keys.

    The tokens of these tests belong to the live session ``f-1`` of u-1 in s-1.
    """
    table: dict[tuple[str, str], object] = {FAMILY: FakeFamily()}
    monkeypatch.setattr(token_keys, "token_keys", lambda: KEYS)
    monkeypatch.setattr(authorizer, "get_or_none", lambda model, pk, sk: table.get((pk, sk)))
    return table


def _event(token: str, *, scheme: str = "Bearer", kind: str = "TOKEN") -> dict:
    return {"type": kind, "authorizationToken": f"{scheme} {token}", "methodArn": METHOD_ARN}


def test_allow_policy_covers_the_whole_stage_and_carries_the_context(memberships):
    # Given a member of studio s-1 with a valid token
    memberships[("STUDIO#s-1", "MEMBER#u-1")] = FakeMembership("DIRECTOR")
    token = _issue(Role.DIRECTOR)

    # When
    answer = authorizer.authorize_token(_event(token))

    # Then
    assert answer == {
        "principalId": "u-1",
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Action": "execute-api:Invoke",
                    "Effect": "Allow",
                    "Resource": ["arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/*/*"],
                }
            ],
        },
        "context": {"studioId": "s-1", "userId": "u-1", "role": "DIRECTOR", "sessionId": "f-1"},
    }


def test_role_comes_from_the_membership_not_the_token(memberships):
    # Given a token issued while the member was ADMIN, and a membership now VIEWER
    memberships[("STUDIO#s-1", "MEMBER#u-1")] = FakeMembership("VIEWER")
    token = _issue(Role.ADMIN)

    # When / Then the context says VIEWER
    assert authorizer.authorize_token(_event(token))["context"]["role"] == "VIEWER"


def test_lowercase_bearer_scheme_is_accepted(memberships):
    memberships[("STUDIO#s-1", "MEMBER#u-1")] = FakeMembership("ARTIST")
    token = _issue(Role.ARTIST)
    assert authorizer.authorize_token(_event(token, scheme="bearer"))["principalId"] == "u-1"


def _refused(event: dict) -> None:
    with pytest.raises(Exception, match=r"^Unauthorized$") as caught:
        authorizer.authorize_token(event)
    assert type(caught.value) is Exception


def test_removed_member_is_refused(memberships):
    # Given a valid token but no membership any more
    token = _issue(Role.ARTIST)
    _refused(_event(token))


@pytest.mark.parametrize(
    "authorization",
    ["", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Token abc", "Bearer not.a.jwt"],
)
def test_missing_or_malformed_authorization_is_refused(memberships, authorization):
    _refused({"type": "TOKEN", "authorizationToken": authorization, "methodArn": METHOD_ARN})


def test_expired_token_is_refused_before_any_lookup(memberships):
    memberships[("STUDIO#s-1", "MEMBER#u-1")] = FakeMembership("ARTIST")
    token = _issue(Role.ARTIST, now=1_000_000)
    _refused(_event(token))


def test_request_authorizer_events_are_refused(memberships):
    memberships[("STUDIO#s-1", "MEMBER#u-1")] = FakeMembership("ARTIST")
    token = _issue(Role.ARTIST)
    _refused(_event(token, kind="REQUEST"))


def test_malformed_method_arn_is_refused(memberships):
    memberships[("STUDIO#s-1", "MEMBER#u-1")] = FakeMembership("ARTIST")
    token = _issue(Role.ARTIST)
    _refused({"type": "TOKEN", "authorizationToken": f"Bearer {token}", "methodArn": "nonsense"})


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
    memberships[("STUDIO#s-1", "MEMBER#u-1")] = FakeMembership("ARTIST")
    memberships[FAMILY] = family
    # When / Then refused
    _refused(_event(_issue(Role.ARTIST)))
