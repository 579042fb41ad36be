"""Access tokens: what is issued, and every forgery the verifier must refuse (no network: keys are given)."""

from __future__ import annotations

import base64
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from keyframe.errors import Unauthenticated
from keyframe.identity import tokens
from keyframe.identity.permissions import Role
from keyframe.identity.token_keys import LocalSigner, LocalTokenKeys
from keyframe.settings import AuthSettings, load

KEYS = LocalTokenKeys()
ROTATED_AT = int(time.time()) - 60
"""When CURRENT became active (epoch seconds). The key windows are checked at an explicit ``now``
relative to it: a slow run can reach a test more than the grace after this module was imported."""
PREVIOUS = KEYS.add("key-1", active_from=0)
CURRENT = KEYS.add("key-2", active_from=ROTATED_AT)


def _settings(**overrides: object) -> AuthSettings:
    return load(AuthSettings).model_copy(update=overrides)


def _issue(**kw: object) -> str:
    return tokens.issue_access_token("user-1", "studio-1", Role.ARTIST, family_id="fam-1", keys=KEYS, **kw)


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


def _sign(claims: dict, *, key: LocalSigner = CURRENT, headers: dict | None = None) -> str:
    return jwt.encode(
        claims, key.private_key, algorithm="RS256", headers=headers or {"typ": "at+jwt", "kid": key.kid}
    )


def _public_pem(key: LocalSigner) -> bytes:
    return key.private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _refused(token: str, **kw: object) -> None:
    with pytest.raises(Unauthenticated) as caught:
        tokens.verify_access_token(token, keys=KEYS, **kw)
    assert caught.value.message == tokens.INVALID_TOKEN


def test_issued_token_has_typed_header_and_every_claim():
    # Given a token issued now
    now = int(time.time())
    token = _issue(now=now)

    # When its header and claims are read
    header = jwt.get_unverified_header(token)
    claims = jwt.decode(token, options={"verify_signature": False})

    # Then it is an RFC 9068 access token for 15 minutes with the studio and role
    assert header == {"alg": "RS256", "typ": "at+jwt", "kid": "key-2"}
    settings = _settings()
    assert claims["sub"] == "user-1" and claims["sid"] == "studio-1" and claims["role"] == "ARTIST"
    assert claims["fid"] == "fam-1"
    assert claims["iss"] == settings.JWT_ISSUER and claims["aud"] == settings.JWT_AUDIENCE
    assert claims["exp"] - claims["iat"] == settings.ACCESS_TOKEN_TTL_SECONDS == 900
    assert claims["iat"] == now and claims["jti"]


def test_verify_returns_the_claims_of_a_good_token():
    # Given / When
    verified = tokens.verify_access_token(_issue(), keys=KEYS)

    # Then
    assert (verified.user_id, verified.studio_id, verified.role) == ("user-1", "studio-1", Role.ARTIST)
    assert verified.family_id == "fam-1"


def test_each_token_has_its_own_jti():
    assert (
        jwt.decode(_issue(), options={"verify_signature": False})["jti"]
        != jwt.decode(_issue(), options={"verify_signature": False})["jti"]
    )


def test_issued_token_verifies_with_the_public_key_alone():
    # Given a token issued with the current key
    token = _issue()

    # When a third party verifies it with nothing but the public key (as from the JWKS)
    claims = jwt.decode(token, _public_pem(CURRENT), algorithms=["RS256"], audience=_settings().JWT_AUDIENCE)

    # Then
    assert claims["sub"] == "user-1"


def test_token_signed_with_a_previous_key_verifies_during_the_grace():
    # Given a token signed with the key before the rotation, 60 s after the new key became active
    token = _sign(_claims(), key=PREVIOUS)

    # When / Then it verifies: the grace (15 min + 5 s) is not over
    assert tokens.verify_access_token(token, keys=KEYS, now=ROTATED_AT + 60).user_id == "user-1"


def test_token_signed_with_a_rotated_out_key_after_its_grace_is_refused():
    # Given a token signed with the previous key, verified once the grace after the rotation is over
    token = _sign(_claims(), key=PREVIOUS)
    after_grace = ROTATED_AT + KEYS.grace + 1

    # When / Then (even though its own exp is not the reason: the key's window is closed)
    _refused(token, now=after_grace)


def test_alg_confusion_hs256_with_the_public_key_as_secret_is_refused():
    # Given an attacker who signs HS256 with the public key's PEM as the HMAC secret (pyjwt refuses
    # to do it with a PEM, so the token is assembled by hand)
    import hashlib
    import hmac

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    header = b64(json.dumps({"alg": "HS256", "typ": "at+jwt", "kid": CURRENT.kid}).encode())
    body = b64(json.dumps(_claims()).encode())
    signature = hmac.new(_public_pem(CURRENT), f"{header}.{body}".encode(), hashlib.sha256).digest()

    # When / Then
    _refused(f"{header}.{body}.{b64(signature)}")


def test_token_of_another_asymmetric_algorithm_under_our_kid_is_refused():
    token = jwt.encode(
        _claims(), ec.generate_private_key(ec.SECP256R1()), algorithm="ES256",
        headers={"typ": "at+jwt", "kid": CURRENT.kid},
    )  # fmt: skip
    _refused(token)


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


def test_hmac_algorithm_is_refused():
    token = jwt.encode(_claims(), "s" * 64, algorithm="HS256", headers={"typ": "at+jwt", "kid": CURRENT.kid})
    _refused(token)


def test_wrong_issuer_is_refused():
    _refused(_sign(_claims(iss="https://evil.example")))


def test_wrong_audience_is_refused():
    _refused(_sign(_claims(aud="another-api")))


def test_audience_list_containing_ours_is_refused():
    # strict audience: exactly our audience, not a list that merely includes it
    _refused(_sign(_claims(aud=[_settings().JWT_AUDIENCE, "other"])))


def test_token_signed_with_another_key_under_our_kid_is_refused():
    _refused(
        _sign(
            _claims(),
            key=LocalSigner(CURRENT.kid, rsa.generate_private_key(public_exponent=65537, key_size=2048)),
        )
    )


def test_forged_kid_is_refused():
    _refused(_sign(_claims(), key=LocalSigner("key-99", CURRENT.private_key)))


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
    token = tokens.issue_access_token("u", "s", Role.VIEWER, family_id="f", keys=KEYS, settings=other)

    # Then it verifies with those settings and not with the default ones
    assert tokens.verify_access_token(token, keys=KEYS, settings=other).role == Role.VIEWER
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
