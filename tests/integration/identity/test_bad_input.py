"""Bad requests are 400/413/415 naming the field; bad tokens are 401 at the gateway."""

from __future__ import annotations

import json
import time

import boto3
import jwt
import pytest
from aws_lambda_powertools.utilities import parameters

from keyframe.identity import tokens
from keyframe.identity.permissions import Role
from keyframe.keys import KeySet, SigningKey, signing_keys
from keyframe.settings import AuthSettings, load
from tests.support.environment import JWT_SECRET_NAME
from tests.support.identity import DEFAULT_PASSWORD, add_member, login, register_studio, unique_email

REGISTER = {"studioName": "S", "email": "x@example.com", "password": DEFAULT_PASSWORD, "displayName": "X"}


def _fields(response) -> set[str]:
    return {d["field"] for d in response.json()["error"].get("details", {}).get("fields", [])}


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/auth/register", {**REGISTER, "password": "short-pass"}, "password"),
        ("/auth/register", {**REGISTER, "password": "p" * 257}, "password"),
        ("/auth/register", {**REGISTER, "email": "not-an-email"}, "email"),
        ("/auth/register", {**REGISTER, "email": "x@localhost"}, "email"),
        ("/auth/register", {**REGISTER, "studioName": ""}, "studioName"),
        ("/auth/register", {**REGISTER, "studioName": 7}, "studioName"),
        ("/auth/register", {**REGISTER, "isAdmin": True}, "isAdmin"),
        ("/auth/register", {k: v for k, v in REGISTER.items() if k != "displayName"}, "displayName"),
        ("/auth/login", {"email": "x@example.com", "password": 123456789012345}, "password"),
        (
            "/auth/login",
            {"email": "x@example.com", "password": DEFAULT_PASSWORD, "studioId": "../x"},
            "studioId",
        ),
        ("/auth/login", {"email": ["x@example.com"], "password": DEFAULT_PASSWORD}, "email"),
        ("/auth/refresh", {"refreshToken": ""}, "refreshToken"),
        ("/auth/refresh", {"refreshToken": "a.b", "familyId": "x"}, "familyId"),
        ("/auth/logout", {}, "refreshToken"),
        ("/auth/accept-invitation", {"token": "a.b", "password": "short"}, "password"),
    ],
)
def test_public_bad_input_is_400_naming_the_field(api, path, body, field):
    # When
    response = api.post(path, json=body)

    # Then
    assert response.status == 400
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert field in _fields(response), error
    assert field in error["message"]


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("POST", "/studio/invitations", {"email": "bad", "role": "ARTIST"}, "email"),
        ("POST", "/studio/invitations", {"email": "a@example.com", "role": "OWNER"}, "role"),
        ("POST", "/studio/invitations", {"email": "a@example.com"}, "role"),
        ("PATCH", "/studio/members/{self}", {"role": 3}, "role"),
        ("PATCH", "/studio/members/{self}", {"role": "ADMIN", "extra": 1}, "extra"),
    ],
)
def test_member_routes_bad_input_is_400_naming_the_field(api, method, path, body, field):
    # Given an ADMIN
    admin = register_studio(api)

    # When
    response = api.request(method, path.format(self=admin.user_id), json_body=body, token=admin.access_token)

    # Then
    assert response.status == 400
    assert field in _fields(response)


def test_malformed_json_is_400(api):
    response = api.post(
        "/auth/login", raw_body=b'{"email": "x@example.com",', headers={"Content-Type": "application/json"}
    )
    assert response.status == 400
    assert response.json()["error"]["code"] == "MALFORMED_JSON"
    assert _fields(response) == {"body"}


def test_json_that_is_not_an_object_is_400(api):
    response = api.post("/auth/login", json=["x@example.com", DEFAULT_PASSWORD])
    assert response.status == 400


def test_missing_body_is_400(api):
    response = api.post("/auth/register")
    assert response.status == 400


def test_wrong_content_type_is_415(api):
    body = json.dumps(REGISTER).encode()
    response = api.post("/auth/register", raw_body=body, headers={"Content-Type": "text/plain"})
    assert response.status == 415


def test_oversized_body_is_413(api):
    response = api.post("/auth/register", json={**REGISTER, "studioName": "x" * 1_100_000})
    assert response.status == 413


def test_bad_input_writes_nothing(api):
    # Given a registration refused for its password
    email = unique_email()
    assert api.post("/auth/register", json={**REGISTER, "email": email, "password": "short"}).status == 400

    # Then the e-mail is still free
    assert api.post("/auth/register", json={**REGISTER, "email": email}).status == 201


# ---------------------------------------------------------------- tokens at the gateway


def _fid(session) -> str:
    """The session (refresh-token family) id of ``session``: what its access tokens name as ``fid``."""
    return session.refresh_token.split(".")[0]


def _claims(session, **overrides) -> dict:
    settings = load(AuthSettings)
    now = int(time.time())
    claims = {
        "sub": session.user_id,
        "sid": session.studio_id,
        "fid": _fid(session),
        "role": "ADMIN",
        "iss": settings.JWT_ISSUER,
        "aud": settings.JWT_AUDIENCE,
        "iat": now,
        "exp": now + 600,
        "jti": "j",
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def _forge(claims: dict, *, secret: bytes | None = None, kid: str | None = None, typ: str = "at+jwt") -> str:
    current = signing_keys().current
    return jwt.encode(
        claims, secret or current.secret, algorithm="HS256", headers={"typ": typ, "kid": kid or current.kid}
    )


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda s: None, id="missing"),
        pytest.param(lambda s: "", id="empty"),
        pytest.param(lambda s: "not-a-jwt", id="garbage"),
        pytest.param(
            lambda s: tokens.issue_access_token(
                s.user_id, s.studio_id, Role.ADMIN, family_id=_fid(s), now=int(time.time()) - 3600
            ),
            id="expired",
        ),
        pytest.param(
            lambda s: s.access_token[:-2] + ("AA" if s.access_token[-2:] != "AA" else "BB"), id="tampered"
        ),
        pytest.param(
            lambda s: jwt.encode(
                _claims(s), None, algorithm="none", headers={"typ": "at+jwt", "kid": "test-key-1"}
            ),
            id="alg-none",
        ),
        pytest.param(lambda s: _forge(_claims(s, iss="https://evil.example")), id="wrong-issuer"),
        pytest.param(lambda s: _forge(_claims(s, aud="someone-else")), id="wrong-audience"),
        pytest.param(lambda s: _forge(_claims(s), secret=b"k" * 64), id="wrong-key"),
        pytest.param(lambda s: _forge(_claims(s), kid="unknown-kid"), id="unknown-kid"),
        pytest.param(lambda s: _forge(_claims(s), typ="JWT"), id="wrong-typ"),
        pytest.param(lambda s: _forge(_claims(s, sid="another-studio")), id="other-studio-claim"),
        pytest.param(lambda s: _forge(_claims(s, fid="0" * 32)), id="unknown-session"),
        pytest.param(lambda s: _forge(_claims(s, fid=None)), id="no-session"),
    ],
)
def test_bad_access_tokens_are_401(api, make):
    # Given a real member and a bad token derived from their identity
    session = register_studio(api)
    token = make(session)

    # When it is sent to a protected route
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    response = api.get("/me", headers=headers)

    # Then 401, while the real token works
    assert response.status == 401
    assert api.get("/me", token=session.access_token).status == 200


def test_non_bearer_scheme_is_401(api):
    session = register_studio(api)
    assert api.get("/me", headers={"Authorization": f"Basic {session.access_token}"}).status == 401


def test_key_rotation_keeps_old_tokens_valid_and_signs_with_the_new_key(api):
    # Given a member holding a token signed with the current key
    session = register_studio(api)
    old = signing_keys().current

    # When the secret is rotated (new key on top, old key kept as previous)
    document = {
        "kid": "test-key-2",
        "secret": "n" * 64,
        "previous": [{"kid": old.kid, "secret": old.secret.decode()}],
    }
    boto3.client("secretsmanager").put_secret_value(
        SecretId=JWT_SECRET_NAME, SecretString=json.dumps(document)
    )
    parameters.clear_caches()

    # Then the old token still works, and a new sign-in gets a token signed with the new key
    assert api.get("/me", token=session.access_token).status == 200
    fresh = login(api, session.email)
    assert jwt.get_unverified_header(fresh.access_token)["kid"] == "test-key-2"
    assert api.get("/me", token=fresh.access_token).status == 200

    # And once the old key is dropped, the old token is refused
    boto3.client("secretsmanager").put_secret_value(
        SecretId=JWT_SECRET_NAME, SecretString=json.dumps({"kid": "test-key-2", "secret": "n" * 64})
    )
    parameters.clear_caches()
    assert api.get("/me", token=session.access_token).status == 401


def test_a_token_keyset_given_explicitly_is_not_the_served_one(api):
    # A token signed with a key set that is not the secret's (e.g. a developer's local key) is refused
    session = register_studio(api)
    foreign = KeySet.of(SigningKey("test-key-1", b"z" * 64))
    token = tokens.issue_access_token(
        session.user_id, session.studio_id, Role.ADMIN, family_id=_fid(session), keyset=foreign
    )
    assert api.get("/me", token=token).status == 401


def test_viewer_gets_403_not_401_on_admin_routes(api):
    admin = register_studio(api)
    viewer = add_member(api, admin, "VIEWER")
    response = api.post(
        "/studio/invitations", json={"email": unique_email(), "role": "VIEWER"}, token=viewer.access_token
    )
    assert response.status == 403
    assert response.json()["error"]["details"] == {"permission": "members:manage", "role": "VIEWER"}
