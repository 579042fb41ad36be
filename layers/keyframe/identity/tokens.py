"""Access tokens (JWT) and the opaque tokens (refresh, invitation) Keyframe hands out.

Access token: a JWT signed with RS256 by a KMS key (:mod:`keyframe.identity.token_keys`), header
``{"alg": "RS256", "typ": "at+jwt", "kid": <KMS key id>}`` (RFC 9068), claims ``sub`` (user id),
``sid`` (studio id), ``fid`` (the session: its refresh-token family, which the authorizer checks so
that signing out ends the access token at once), ``role``, ``iss``, ``aud``, ``iat``, ``exp``
(``iat`` + ``ACCESS_TOKEN_TTL_SECONDS``), ``jti``. Verification pins the algorithm (no ``none``, no
HS256 with the public key as its secret), checks the header type, finds the public key by ``kid``
among the keyring's keys whose window is open, and requires every claim; any failure is
:class:`~keyframe.errors.Unauthenticated` with one message, so nothing tells an attacker which
check failed.

Opaque tokens: ``{lookupId}.{secret}``, where ``lookupId`` names the stored record (a refresh-token
family, an invitation) and ``secret`` is 256 random bits. Only :func:`token_hash` (SHA-256) of the
whole token is stored.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass

import jwt

from keyframe import clock
from keyframe.errors import Unauthenticated
from keyframe.identity import token_keys
from keyframe.identity.permissions import Role
from keyframe.settings import AuthSettings, load

ALGORITHM = token_keys.ALGORITHM
TOKEN_TYPE = "at+jwt"
REQUIRED_CLAIMS = ("sub", "sid", "fid", "role", "iss", "aud", "iat", "exp", "jti")
LEEWAY_SECONDS = token_keys.LEEWAY_SECONDS
"""Clock skew tolerated on ``exp``/``iat`` (seconds)."""

INVALID_TOKEN = "The access token is missing, invalid or expired"


@dataclass(frozen=True)
class AccessClaims:
    """What a verified access token says.

    Attributes
    ----------
    user_id, studio_id:
        ``sub`` and ``sid``.
    family_id:
        ``fid``: the refresh-token family (session) the token was issued for.
    role:
        The role at issue time (the authorizer uses the membership's current role instead).
    jti:
        Unique token id.
    expires_at:
        ``exp`` (epoch seconds).
    """

    user_id: str
    studio_id: str
    role: Role
    jti: str
    expires_at: int
    family_id: str


def issue_access_token(
    user_id: str,
    studio_id: str,
    role: Role | str,
    *,
    family_id: str,
    keys: token_keys.TokenKeys | None = None,
    settings: AuthSettings | None = None,
    now: int | None = None,
    jti: str | None = None,
) -> str:
    """Sign an access token for ``user_id`` in ``studio_id`` with ``role``.

    Parameters
    ----------
    family_id:
        The session (refresh-token family) the token belongs to (``fid``).
    keys:
        The token keys (default: :func:`keyframe.identity.token_keys.token_keys`: one ``kms:Sign``
        with the key the keyring names current at ``now``).
    settings:
        Issuer, audience and lifetime (default: from the environment).
    now:
        Issue time, epoch seconds (default: the clock).
    jti:
        The token id (default: random). Given with ``now``, the same token is signed again.

    Returns
    -------
    str
        The compact JWT.

    Raises
    ------
    RuntimeError
        No signing key is active.
    botocore.exceptions.ClientError
        KMS refused to sign.
    """
    settings = settings or load(AuthSettings)
    keys = keys or token_keys.token_keys()
    issued_at = int(clock.epoch()) if now is None else now
    claims = {
        "sub": user_id,
        "sid": studio_id,
        "fid": family_id,
        "role": Role(role).value,
        "iss": settings.JWT_ISSUER,
        "aud": settings.JWT_AUDIENCE,
        "iat": issued_at,
        "exp": issued_at + settings.ACCESS_TOKEN_TTL_SECONDS,
        "jti": jti or uuid.uuid4().hex,
    }
    signer = keys.signer(issued_at)
    return sign_jwt(claims, signer)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def sign_jwt(claims: Mapping[str, object], signer: token_keys.Signer) -> str:
    """A compact RS256 JWS of ``claims`` with header ``{"alg", "typ": "at+jwt", "kid"}``.

    pyjwt needs the private key to sign; the key stays in KMS, so the signing input is built here
    and only the signature comes from ``signer``.
    """
    header = {"alg": ALGORITHM, "typ": TOKEN_TYPE, "kid": signer.kid}
    signing_input = ".".join(
        _b64(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims)
    )
    return f"{signing_input}.{_b64(signer.sign(signing_input.encode()))}"


def verify_access_token(
    token: str,
    *,
    keys: token_keys.TokenKeys | None = None,
    settings: AuthSettings | None = None,
    now: int | None = None,
) -> AccessClaims:
    """Verify ``token`` and return its claims.

    Checks, in order: the header (``alg`` RS256, ``typ`` at+jwt, a ``kid`` the keyring lists and
    whose window is open at ``now``), the signature with that key's public half (cached per
    process), ``exp``/``iat`` (5 s leeway), ``iss``, ``aud``, and that every claim of
    :data:`REQUIRED_CLAIMS` is present with a usable value.

    Raises
    ------
    Unauthenticated
        ``INVALID_TOKEN`` for any failure (one message for all of them).
    """
    settings = settings or load(AuthSettings)
    keys = keys or token_keys.token_keys()
    if not token or len(token) > 4096:
        raise Unauthenticated(INVALID_TOKEN, code="INVALID_TOKEN")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise Unauthenticated(INVALID_TOKEN, code="INVALID_TOKEN") from None
    kid = header.get("kid")
    if header.get("alg") != ALGORITHM or header.get("typ") != TOKEN_TYPE or not isinstance(kid, str):
        raise Unauthenticated(INVALID_TOKEN, code="INVALID_TOKEN")
    public_key = keys.public_key(kid, int(clock.epoch()) if now is None else now)
    if public_key is None:
        raise Unauthenticated(INVALID_TOKEN, code="INVALID_TOKEN")
    try:
        claims = jwt.decode(
            token,
            public_key,
            algorithms=[ALGORITHM],
            issuer=settings.JWT_ISSUER,
            audience=settings.JWT_AUDIENCE,
            leeway=LEEWAY_SECONDS,
            options={"require": list(REQUIRED_CLAIMS), "strict_aud": True},
        )
        role = Role(claims["role"])
    except (jwt.PyJWTError, ValueError):
        raise Unauthenticated(INVALID_TOKEN, code="INVALID_TOKEN") from None
    user_id, studio_id, jti, family_id = claims["sub"], claims["sid"], claims["jti"], claims["fid"]
    if not all(isinstance(v, str) and v for v in (user_id, studio_id, jti, family_id)):
        raise Unauthenticated(INVALID_TOKEN, code="INVALID_TOKEN")
    return AccessClaims(
        user_id=user_id,
        studio_id=studio_id,
        role=role,
        jti=jti,
        expires_at=int(claims["exp"]),
        family_id=family_id,
    )


def new_opaque_token(lookup_id: str) -> str:
    """``{lookup_id}.{256 random bits, url-safe base64}``."""
    return f"{lookup_id}.{secrets.token_urlsafe(32)}"


def token_hash(token: str) -> str:
    """SHA-256 of the whole token, hex (what the tables store instead of the token)."""
    return hashlib.sha256(token.encode()).hexdigest()


def hashes_match(token: str, stored_hash: str | None) -> bool:
    """Constant-time comparison of ``token``'s hash with a stored hash."""
    return bool(stored_hash) and hmac.compare_digest(token_hash(token), stored_hash or "")


def lookup_id_of(token: str) -> str | None:
    """The ``lookupId`` part of an opaque token, or ``None`` when the token is malformed."""
    lookup_id, dot, secret = token.partition(".")
    if not dot or not secret or not lookup_id or len(lookup_id) > 64 or not lookup_id.isalnum():
        return None
    return lookup_id
