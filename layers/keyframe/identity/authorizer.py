"""The API Gateway REST TOKEN authorizer: verify the bearer JWT, the membership and the session.

Input (API Gateway)::

    {"type": "TOKEN", "authorizationToken": "Bearer <jwt>",
     "methodArn": "arn:aws:execute-api:{region}:{account}:{apiId}/{stage}/{METHOD}/{path}"}

On success the policy allows ``execute-api:Invoke`` on every method and path of the stage
(``{apiId}/{stage}/*/*``), so a cached answer stays right for the token's other requests, and the
context carries ``studioId``, ``userId`` and ``role`` for :mod:`keyframe.http.auth`. The role comes
from the membership item, not from the token: a role change applies to the next request and a
removed member is refused at once (as long as API Gateway's authorizer cache TTL is 0; with a
cache, within that TTL). The token's session (``fid``, its refresh-token family) is read too: a
signed-out (revoked) session's access tokens are refused from the next request on. Cost: two
strongly consistent GetItems of small items (membership, family) per request. Refusal is
``raise Exception("Unauthorized")``, API Gateway's contract for 401.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import (
    APIGatewayAuthorizerResponse,
    APIGatewayAuthorizerTokenEvent,
)

from keyframe.errors import Unauthenticated
from keyframe.identity import tokens
from keyframe.identity.models import (
    FAMILY_SK,
    MembershipItem,
    RefreshFamilyItem,
    family_pk,
    get_or_none,
    member_sk,
    studio_pk,
)
from keyframe.identity.permissions import Role
from keyframe.observability import logger

UNAUTHORIZED = "Unauthorized"
"""The exact message API Gateway turns into a 401."""


def bearer_token(authorization: str | None) -> str:
    """The token of an ``Authorization: Bearer <token>`` value (scheme case-insensitive).

    Raises
    ------
    Unauthenticated
        Missing value, another scheme, or an empty token.
    """
    scheme, _, token = (authorization or "").strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthenticated(tokens.INVALID_TOKEN, code="INVALID_TOKEN")
    return token


def authorize_token(event: dict[str, Any]) -> dict[str, Any]:
    """Answer one TOKEN authorizer event with an IAM policy, or refuse.

    Reads the signing keys (Secrets Manager, cached), the membership item and the token's
    refresh-token family (tenants table, strongly consistent).

    Returns
    -------
    dict
        ``{"principalId": userId, "policyDocument": {...Allow {apiId}/{stage}/*/*},
        "context": {"studioId", "userId", "role", "sessionId"}}`` (``sessionId``: the token's
        refresh-token family, so ``/me/sessions`` can tell the caller's own session).

    Raises
    ------
    Exception
        ``Exception("Unauthorized")`` for a missing, malformed, expired, tampered or otherwise
        invalid token, a membership that no longer exists, or a session that was signed out
        (revoked family) or is not the token's.
    """
    request = APIGatewayAuthorizerTokenEvent(event)
    try:
        if request.get_type != "TOKEN":
            raise Unauthenticated("not a TOKEN authorizer event")
        claims = tokens.verify_access_token(bearer_token(request.authorization_token))
        membership = get_or_none(MembershipItem, studio_pk(claims.studio_id), member_sk(claims.user_id))
        if membership is None:
            raise Unauthenticated("membership ended", code="MEMBERSHIP_ENDED")
        role = Role(membership.role)
        family = get_or_none(RefreshFamilyItem, family_pk(claims.family_id), FAMILY_SK)
        if (
            family is None
            or family.revoked
            or (family.user_id, family.studio_id) != (claims.user_id, claims.studio_id)
        ):
            raise Unauthenticated("session ended", code="SESSION_ENDED")
        response = APIGatewayAuthorizerResponse.from_route_arn(
            request.method_arn,
            principal_id=claims.user_id,
            context={
                "studioId": claims.studio_id,
                "userId": claims.user_id,
                "role": role.value,
                "sessionId": claims.family_id,
            },
        )
    except (Unauthenticated, KeyError, IndexError, ValueError) as exc:
        logger.info(
            "request refused by the authorizer", extra={"reason": getattr(exc, "code", type(exc).__name__)}
        )
        raise Exception(UNAUTHORIZED) from None
    response.allow_all_routes()
    return response.asdict()
