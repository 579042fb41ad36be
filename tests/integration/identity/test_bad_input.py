"""Bad requests are 400/413/415 naming the field; bad tokens are 401 at the gateway."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import boto3
import jwt
import pytest
from aws_lambda_powertools.utilities import parameters
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from keyframe.identity import token_keys, tokens
from keyframe.identity.permissions import Role
from keyframe.settings import AuthSettings, load
from tests.support.environment import JWT_SECRET_NAME, TEST_STAGE
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


def _current_kid() -> str:
    return token_keys.token_keys().keyring().current(int(time.time())).kid


def _forge(claims: dict, *, typ: str = "at+jwt") -> str:
    """``claims`` signed with the stack's real current KMS key (what a holder of kms:Sign could do)."""
    signer = token_keys.KmsSigner(_current_kid(), boto3.client("kms"))
    header = {"alg": "RS256", "typ": typ, "kid": signer.kid}
    signing_input = ".".join(_b64(json.dumps(part).encode()) for part in (header, claims))
    return f"{signing_input}.{_b64(signer.sign(signing_input.encode()))}"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _foreign_key(claims: dict, kid: str | None = None) -> str:
    """``claims`` signed RS256 by a key that is not in KMS, under ``kid`` (default: the real one)."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return jwt.encode(
        claims, private, algorithm="RS256", headers={"typ": "at+jwt", "kid": kid or _current_kid()}
    )


def _alg_confusion(claims: dict) -> str:
    """HS256 keyed with the real public key's PEM (the classic RS256 -> HS256 confusion)."""
    kid = _current_kid()
    der = boto3.client("kms").get_public_key(KeyId=kid)["PublicKey"]
    pem = serialization.load_der_public_key(der).public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    signing_input = ".".join(
        _b64(json.dumps(part).encode()) for part in ({"alg": "HS256", "typ": "at+jwt", "kid": kid}, claims)
    )
    signature = hmac.new(pem, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


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
                _claims(s), None, algorithm="none", headers={"typ": "at+jwt", "kid": _current_kid()}
            ),
            id="alg-none",
        ),
        pytest.param(lambda s: _forge(_claims(s, iss="https://evil.example")), id="wrong-issuer"),
        pytest.param(lambda s: _forge(_claims(s, aud="someone-else")), id="wrong-audience"),
        pytest.param(lambda s: _foreign_key(_claims(s)), id="wrong-key"),
        pytest.param(lambda s: _foreign_key(_claims(s), kid="unknown-kid"), id="forged-kid"),
        pytest.param(lambda s: _alg_confusion(_claims(s)), id="alg-confusion-hs256-public-key"),
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

    # Then 401 naming the scheme, while the real token works
    assert response.status == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert api.get("/me", token=session.access_token).status == 200


def test_non_bearer_scheme_is_401(api):
    session = register_studio(api)
    assert api.get("/me", headers={"Authorization": f"Basic {session.access_token}"}).status == 401


def _jwks_kids(api) -> list[str]:
    response = api.get("/.well-known/jwks.json")
    assert response.status == 200 and response.headers["Cache-Control"] == "public, max-age=300"
    return [key["kid"] for key in response.json()["keys"]]


def _rotate(*, seconds_ago: int) -> token_keys.Rotation:
    """Rotate the token keys as if it had happened ``seconds_ago`` (its publish-ahead included)."""
    done = token_keys.rotate(
        secret_name=JWT_SECRET_NAME, stage=TEST_STAGE, now=int(time.time()) - seconds_ago
    )
    parameters.clear_caches()
    return done


def test_key_rotation_keeps_old_tokens_valid_and_signs_with_the_new_key(api):
    # Given a member holding a token signed with the current key
    session = register_studio(api)
    old_kid = jwt.get_unverified_header(session.access_token)["kid"]

    # When the keys were rotated just long enough ago for the new key to sign
    done = _rotate(seconds_ago=token_keys.PUBLISH_AHEAD_SECONDS + 1)

    # Then the old token still works, and a new sign-in gets a token signed with the new key
    assert api.get("/me", token=session.access_token).status == 200
    fresh = login(api, session.email)
    assert jwt.get_unverified_header(fresh.access_token)["kid"] == done.new_kid != old_kid
    assert api.get("/me", token=fresh.access_token).status == 200
    # And both keys are published
    assert {old_kid, done.new_kid} <= set(_jwks_kids(api))


def test_a_key_rotated_out_longer_than_the_grace_ago_is_refused_then_deleted(api):
    # Given a member holding a token signed with the current key
    session = register_studio(api)
    old_kid = jwt.get_unverified_header(session.access_token)["kid"]

    # When the new key became active longer ago than the longest token lifetime (+ leeway)
    grace = token_keys.grace_seconds()
    _rotate(seconds_ago=token_keys.PUBLISH_AHEAD_SECONDS + grace + 20)

    # Then the old token is refused (401 naming the scheme) although it has not expired itself
    refused = api.get("/me", token=session.access_token)
    assert refused.status == 401 and refused.headers["WWW-Authenticate"] == "Bearer"
    assert old_kid not in _jwks_kids(api)

    # And the next rotation unlists the key and schedules its deletion in KMS
    done = _rotate(seconds_ago=0)
    assert old_kid in done.retired
    state = boto3.client("kms").describe_key(KeyId=old_kid)["KeyMetadata"]["KeyState"]
    assert state == "PendingDeletion"
    # And a sign-in still works during the new key's publish-ahead (the previous key signs)
    assert api.get("/me", token=login(api, session.email).access_token).status == 200


def test_a_token_signed_with_a_key_outside_kms_is_refused(api):
    # A token signed by keys that are not the stack's (e.g. a developer's local key) is refused
    session = register_studio(api)
    foreign = token_keys.LocalTokenKeys()
    foreign.add(_current_kid())
    token = tokens.issue_access_token(
        session.user_id, session.studio_id, Role.ADMIN, family_id=_fid(session), keys=foreign
    )
    assert api.get("/me", token=token).status == 401


def test_jwks_publishes_the_current_key_and_verifies_a_real_token(api):
    # Given a member's token
    session = register_studio(api)
    # When a third party fetches the JWKS document and verifies the token with it alone
    response = api.get("/.well-known/jwks.json")
    keys = {key["kid"]: key for key in response.json()["keys"]}
    kid = jwt.get_unverified_header(session.access_token)["kid"]
    public = jwt.PyJWK(keys[kid]).key
    claims = jwt.decode(
        session.access_token, public, algorithms=["RS256"], audience=load(AuthSettings).JWT_AUDIENCE
    )
    # Then the claims are the member's; the document is public and carries no private part
    assert claims["sub"] == session.user_id
    assert all(set(key) == {"kty", "kid", "alg", "use", "n", "e"} for key in keys.values())


def test_viewer_gets_403_not_401_on_admin_routes(api):
    admin = register_studio(api)
    viewer = add_member(api, admin, "VIEWER")
    response = api.post(
        "/studio/invitations", json={"email": unique_email(), "role": "VIEWER"}, token=viewer.access_token
    )
    assert response.status == 403
    assert response.json()["error"]["details"] == {"permission": "members:manage", "role": "VIEWER"}
