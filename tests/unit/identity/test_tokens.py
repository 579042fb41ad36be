"""Access tokens: what is issued, and every forgery the verifier must refuse (no network: keys are given)."""

from __future__ import annotations

import base64
import json
import time

import jwt
import pytest

from keyframe.errors import Unauthenticated
from keyframe.identity import tokens
from keyframe.identity.permissions import Role
from keyframe.keys import KeySet, SigningKey
from keyframe.settings import AuthSettings, load

CURRENT = SigningKey("key-2", b"c" * 64)
PREVIOUS = SigningKey("key-1", b"p" * 64)
KEYS = KeySet.of(CURRENT, PREVIOUS)


def _settings(**overrides: object) -> AuthSettings:
    return load(AuthSettings).model_copy(update=overrides)


def _issue(**kw: object) -> str:
    return tokens.issue_access_token("user-1", "studio-1", Role.ARTIST, family_id="fam-1", keyset=KEYS, **kw)


def _claims(**overrides: object) -> dict:
    now = int(time.time())
    settings = _settings()
    claims = {
        "sub": "user-1",
        "sid": "studio-1",
        "fid": "fam-1",
        "role": "ARTIST",
        "iss": settings.JWT_ISSUER,
        "aud": settings.JWT_AUDIENCE,
        "iat": now,
        "exp": now + 900,
        "jti": "j-1",
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def _sign(
    claims: dict, *, key: SigningKey = CURRENT, headers: dict | None = None, algorithm: str = "HS256"
) -> str:
    return jwt.encode(
        claims, key.secret, algorithm=algorithm, headers=headers or {"typ": "at+jwt", "kid": key.kid}
    )


def _refused(token: str, **kw: object) -> None:
    with pytest.raises(Unauthenticated) as caught:
        tokens.verify_access_token(token, keyset=KEYS, **kw)
    assert caught.value.message == tokens.INVALID_TOKEN


def test_issued_token_has_typed_header_and_every_claim():
    # Given a token issued now
    now = int(time.time())
    token = _issue(now=now)

    # When its header and claims are read
    header = jwt.get_unverified_header(token)
    claims = jwt.decode(token, options={"verify_signature": False})

    # Then it is an RFC 9068 access token for 15 minutes with the studio and role
    assert header == {"alg": "HS256", "typ": "at+jwt", "kid": "key-2"}
    settings = _settings()
    assert claims["sub"] == "user-1" and claims["sid"] == "studio-1" and claims["role"] == "ARTIST"
    assert claims["fid"] == "fam-1"
    assert claims["iss"] == settings.JWT_ISSUER and claims["aud"] == settings.JWT_AUDIENCE
    assert claims["exp"] - claims["iat"] == settings.ACCESS_TOKEN_TTL_SECONDS == 900
    assert claims["iat"] == now and claims["jti"]


def test_verify_returns_the_claims_of_a_good_token():
    # Given / When
    verified = tokens.verify_access_token(_issue(), keyset=KEYS)

    # Then
    assert (verified.user_id, verified.studio_id, verified.role) == ("user-1", "studio-1", Role.ARTIST)
    assert verified.family_id == "fam-1"


def test_each_token_has_its_own_jti():
    assert (
        jwt.decode(_issue(), options={"verify_signature": False})["jti"]
        != jwt.decode(_issue(), options={"verify_signature": False})["jti"]
    )


def test_token_signed_with_a_previous_key_still_verifies():
    # Given a token signed with the key before the rotation
    token = _sign(_claims(), key=PREVIOUS)

    # When / Then it verifies because the previous key is still listed
    assert tokens.verify_access_token(token, keyset=KEYS).user_id == "user-1"


@pytest.mark.parametrize("token", ["", "not-a-jwt", "a.b.c", "x" * 5000])
def test_missing_or_garbage_token_is_refused(token):
    _refused(token)


def test_expired_token_is_refused():
    # Given a token issued an hour ago (15-minute lifetime)
    _refused(_issue(now=int(time.time()) - 3600))


def test_token_issued_in_the_future_is_refused():
    _refused(_sign(_claims(iat=int(time.time()) + 600, exp=int(time.time()) + 1500)))


def test_tampered_signature_is_refused():
    # Given a good token whose signature has one character changed
    token = _issue()
    head, body, signature = token.split(".")
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]

    # When / Then
    _refused(f"{head}.{body}.{flipped}")


def test_tampered_payload_is_refused():
    # Given a good token whose payload is rewritten to claim ADMIN (signature kept)
    head, body, signature = _issue().split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    claims["role"] = "ADMIN"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()

    # When / Then
    _refused(f"{head}.{forged}.{signature}")


def test_alg_none_is_refused():
    # Given an unsigned token (alg none) with the right header type and kid
    token = jwt.encode(_claims(), None, algorithm="none", headers={"typ": "at+jwt", "kid": CURRENT.kid})

    # When / Then
    _refused(token)


def test_other_hmac_algorithm_is_refused():
    _refused(_sign(_claims(), algorithm="HS512"))


def test_wrong_issuer_is_refused():
    _refused(_sign(_claims(iss="https://evil.example")))


def test_wrong_audience_is_refused():
    _refused(_sign(_claims(aud="another-api")))


def test_audience_list_containing_ours_is_refused():
    # strict audience: exactly our audience, not a list that merely includes it
    _refused(_sign(_claims(aud=[_settings().JWT_AUDIENCE, "other"])))


def test_token_signed_with_another_secret_under_our_kid_is_refused():
    _refused(_sign(_claims(), key=SigningKey(CURRENT.kid, b"x" * 64)))


def test_unknown_kid_is_refused():
    _refused(_sign(_claims(), key=SigningKey("key-99", b"c" * 64)))


def test_missing_kid_is_refused():
    _refused(_sign(_claims(), headers={"typ": "at+jwt"}))


@pytest.mark.parametrize("typ", [None, "JWT", "id+jwt", "at+JWT "])
def test_wrong_header_type_is_refused(typ):
    headers = {"kid": CURRENT.kid} | ({"typ": typ} if typ is not None else {"typ": None})
    token = _sign(_claims(), headers={k: v for k, v in headers.items() if v is not None})
    _refused(token)


@pytest.mark.parametrize("claim", ["sub", "sid", "fid", "role", "iss", "aud", "iat", "exp", "jti"])
def test_token_missing_a_required_claim_is_refused(claim):
    _refused(_sign(_claims(**{claim: None})))


@pytest.mark.parametrize("claims", [{"role": "OWNER"}, {"sid": ""}, {"sub": 42}, {"fid": ""}, {"fid": 7}])
def test_token_with_unusable_claim_values_is_refused(claims):
    _refused(_sign(_claims(**claims)))


def test_issuer_and_audience_come_from_the_settings():
    # Given settings with another issuer
    other = _settings(JWT_ISSUER="https://other.example")

    # When a token is issued with them
    token = tokens.issue_access_token("u", "s", Role.VIEWER, family_id="f", keyset=KEYS, settings=other)

    # Then it verifies with those settings and not with the default ones
    assert tokens.verify_access_token(token, keyset=KEYS, settings=other).role == Role.VIEWER
    _refused(token)


def test_opaque_tokens_are_random_and_only_their_hash_is_comparable():
    # Given two opaque tokens for the same record
    first, second = tokens.new_opaque_token("abc123"), tokens.new_opaque_token("abc123")

    # Then they differ, name their record, and hash to a stable SHA-256 hex digest
    assert first != second
    assert tokens.lookup_id_of(first) == "abc123"
    assert len(tokens.token_hash(first)) == 64 and tokens.token_hash(first) == tokens.token_hash(first)
    assert tokens.hashes_match(first, tokens.token_hash(first))
    assert not tokens.hashes_match(second, tokens.token_hash(first))
    assert not tokens.hashes_match(first, None)


@pytest.mark.parametrize("token", ["", "nodot", ".secret", "id.", "../etc.secret", "a" * 65 + ".s"])
def test_malformed_opaque_tokens_have_no_lookup_id(token):
    assert tokens.lookup_id_of(token) is None


def test_the_same_iat_and_jti_sign_the_same_token_again():
    # (how a refresh replayed within the grace window gets the very same access token back)
    now = int(time.time())
    assert _issue(now=now, jti="j-42") == _issue(now=now, jti="j-42")
    assert _issue(now=now, jti="j-42") != _issue(now=now, jti="j-43")
