"""``GET /.well-known/jwks.json``: the public keys that verify Keyframe's access tokens (RFC 7517).

Public (no token) and cacheable: ``Cache-Control: public, max-age=300``, shorter than the time a
rotated-in key is listed before it signs (:data:`keyframe.identity.token_keys.PUBLISH_AHEAD_SECONDS`),
so a client that honours the header always knows a key before the first token it signs. A client
that meets an unknown ``kid`` may fetch the document again.
"""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from pydantic import BaseModel, ConfigDict, Field

from keyframe import clock
from keyframe.http.contract import answers
from keyframe.identity import token_keys

CACHE_CONTROL = f"public, max-age={token_keys.secret_keys.CACHE_SECONDS}"

router = Router()


class Jwk(BaseModel):
    """One RSA public key (RFC 7517/7518): ``n`` and ``e`` base64url, ``kid`` the token header's."""

    model_config = ConfigDict(extra="allow")

    kty: str = Field(description="Key type", examples=["RSA"])
    kid: str = Field(description="Key id, as in the access token's header")
    alg: str = Field(description="Algorithm the key verifies", examples=["RS256"])
    use: str = Field(description="Public key use", examples=["sig"])
    n: str = Field(description="Modulus, base64url")
    e: str = Field(description="Exponent, base64url", examples=["AQAB"])


class JwkSet(BaseModel):
    """The keys that verify access tokens now: the signing key, a key about to sign, and a key
    rotated out less than one access-token lifetime ago."""

    keys: list[Jwk]


@router.get(
    "/.well-known/jwks.json",
    summary="The public keys that verify access tokens (JWKS, cacheable 5 minutes)",
    tags=["auth"],
    operation_id="getJwks",
    openapi_extensions=answers(),
)
def jwks() -> Response[JwkSet]:
    """The JWKS document (keyring in the signing secret, public keys from ``kms:GetPublicKey``)."""
    document = token_keys.token_keys().jwks(int(clock.epoch()))
    return Response(
        status_code=200,
        content_type="application/json",
        body=JwkSet.model_validate(document),
        headers={"Cache-Control": CACHE_CONTROL},
    )
