"""Access tokens (JWT) and the opaque tokens (refresh, invitation) Keyframe hands out.

Access token: a JWT signed with HS256, header ``{"alg": "HS256", "typ": "at+jwt", "kid": ...}``
(RFC 9068), claims ``sub`` (user id), ``sid`` (studio id), ``fid`` (the session: its refresh-token
family, which the authorizer checks so that signing out ends the access token at once), ``role``,
``iss``, ``aud``, ``iat``, ``exp`` (``iat`` + ``ACCESS_TOKEN_TTL_SECONDS``), ``jti``.
Verification pins the algorithm, checks the header type, finds the key by ``kid``, and requires
every claim; any failure is :class:`~keyframe.errors.Unauthenticated` with one message, so nothing
tells an attacker which check failed.

Opaque tokens: ``{lookupId}.{secret}``, where ``lookupId`` names the stored record (a refresh-token
family, an invitation) and ``secret`` is 256 random bits. Only :func:`token_hash` (SHA-256) of the
whole token is stored.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
import uuid
from dataclasses import dataclass
from typing import Any

import jwt

from keyframe import keys as signing
from keyframe.errors import Unauthenticated
from keyframe.identity.permissions import Role
from keyframe.settings import AuthSettings, load

ALGORITHM = "HS256"
TOKEN_TYPE = "at+jwt"
REQUIRED_CLAIMS = ("sub", "sid", "fid", "role", "iss", "aud", "iat", "exp", "jti")
LEEWAY_SECONDS = 5
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
    keyset: signing.KeySet | None = None,
    settings: AuthSettings | None = None,
    now: int | None = None,
    jti: str | None = None,
) -> str:
    """Sign an access token for ``user_id`` in ``studio_id`` with ``role``.

    Parameters
    ----------
    family_id:
        The session (refresh-token family) the token belongs to (``fid``).
    keyset:
        Keys to sign with (default: :func:`keyframe.keys.signing_keys`, Secrets Manager).
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
    """
    settings = settings or load(AuthSettings)
    keyset = keyset or signing.signing_keys()
    issued_at = int(time.time()) if now is None else now
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
    headers = {"typ": TOKEN_TYPE, "kid": keyset.current.kid}
    return jwt.encode(claims, keyset.current.secret, algorithm=ALGORITHM, headers=headers)


def _key_for(header: dict[str, Any], keyset: signing.KeySet | None) -> signing.SigningKey:
    kid = header.get("kid")
    if not isinstance(kid, str):
        raise Unauthenticated(INVALID_TOKEN, code="INVALID_TOKEN")
    if keyset is not None:
        key = keyset.find(kid)
    else:
        key = signing.signing_keys().find(kid)
        if key is None and signing.refetch_allowed():
            key = signing.signing_keys(force_fetch=True).find(kid)
    if key is None:
        raise Unauthenticated(INVALID_TOKEN, code="INVALID_TOKEN")
    return key


def verify_access_token(
    token: str,
    *,
    keyset: signing.KeySet | None = None,
    settings: AuthSettings | None = None,
) -> AccessClaims:
    """Verify ``token`` and return its claims.

    Checks, in order: the header (``alg`` HS256, ``typ`` at+jwt, a known ``kid``), the signature,
    ``exp``/``iat`` (5 s leeway), ``iss``, ``aud``, and that every claim of :data:`REQUIRED_CLAIMS` is
    present with a usable value.

    Raises
    ------
    Unauthenticated
        ``INVALID_TOKEN`` for any failure (one message for all of them).
    """
    settings = settings or load(AuthSettings)
    if not token or len(token) > 4096:
        raise Unauthenticated(INVALID_TOKEN, code="INVALID_TOKEN")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise Unauthenticated(INVALID_TOKEN, code="INVALID_TOKEN") from None
    if header.get("alg") != ALGORITHM or header.get("typ") != TOKEN_TYPE:
        raise Unauthenticated(INVALID_TOKEN, code="INVALID_TOKEN")
    key = _key_for(header, keyset)
    try:
        claims = jwt.decode(
            token,
            key.secret,
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
