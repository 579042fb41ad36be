"""Who is calling a REST route: the bearer JWT, the membership and the session, checked in the API
function itself (one Lambda invocation per request; issue 15.2).

:func:`authenticate` is what every API function's resolver runs before a non-public route
(:func:`keyframe.registry.build_api` wires it into :class:`keyframe.http.app.KeyframeResolver`):

1. the token (:func:`keyframe.identity.tokens.verify_access_token`: RS256, a listed ``kid``, the
   public key cached per process, every claim);
2. the membership item of (``sid``, ``sub``): its **current** role is the caller's role, so a role
   change applies to the next request and a removed member is refused at once;
3. the token's session (``fid``, its refresh-token family): a signed-out (revoked) session's access
   tokens are refused from the next request on.

Steps 2 and 3 are one strongly consistent ``BatchGetItem`` of two small items (tenants table). No
result is cached anywhere, which is what keeps revocation immediate. The answer is the context an
API Gateway authorizer would have set (``studioId``, ``userId``, ``role``, ``sessionId``);
:mod:`keyframe.http.auth` reads it from ``requestContext.authorizer`` as before.

Why not an authorizer Lambda with a cache (the other option measured): a cached allow cannot see a
removal, a role change or a logout, so the handler would need the same consistent read anyway, and
every cache miss still costs a second invocation. The README (Architecture) has the figures.
"""

from __future__ import annotations

from typing import Any

from keyframe.errors import Unauthenticated
from keyframe.identity import tokens
from keyframe.identity.models import (
    FAMILY_SK,
    MembershipItem,
    RefreshFamilyItem,
    family_pk,
    member_sk,
    studio_pk,
)
from keyframe.identity.permissions import Role
from keyframe.observability import logger
from keyframe.storage import clients


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


def _membership_and_family(
    studio_id: str, user_id: str, family_id: str
) -> tuple[MembershipItem | None, RefreshFamilyItem | None]:
    """Both items in one strongly consistent BatchGetItem (tenants table; unprocessed keys retried)."""
    table = MembershipItem.Meta.table_name
    wanted = [
        {"pk": {"S": studio_pk(studio_id)}, "sk": {"S": member_sk(user_id)}},
        {"pk": {"S": family_pk(family_id)}, "sk": {"S": FAMILY_SK}},
    ]
    found: list[dict[str, Any]] = []
    request: dict[str, Any] = {table: {"Keys": wanted, "ConsistentRead": True}}
    for _ in range(5):
        answer = _dynamodb().batch_get_item(RequestItems=request)
        found += answer.get("Responses", {}).get(table, [])
        request = answer.get("UnprocessedKeys") or {}
        if not request:
            break
    else:
        raise RuntimeError("the tenants table left keys unprocessed five times")
    membership = next((MembershipItem.from_raw_data(i) for i in found if i["sk"]["S"] != FAMILY_SK), None)
    family = next((RefreshFamilyItem.from_raw_data(i) for i in found if i["sk"]["S"] == FAMILY_SK), None)
    return membership, family


def _dynamodb() -> Any:
    """The process's DynamoDB client (:func:`keyframe.storage.clients.client`)."""
    return clients.client("dynamodb")


def authenticate(authorization: str | None) -> dict[str, str]:
    """Verify an ``Authorization`` header value; the caller's context.

    Returns
    -------
    dict
        ``{"studioId", "userId", "role", "sessionId"}``: the role read from the membership now,
        ``sessionId`` the token's session (``fid``, so ``/me/sessions`` can tell the caller's own).

    Raises
    ------
    Unauthenticated
        A missing, malformed, expired, tampered or otherwise invalid token (``INVALID_TOKEN``), a
        membership that no longer exists (``MEMBERSHIP_ENDED``), or a session that was signed out
        or is not the token's (``SESSION_ENDED``). Callers answer all of them with the same 401.
    """
    try:
        claims = tokens.verify_access_token(bearer_token(authorization))
        membership, family = _membership_and_family(claims.studio_id, claims.user_id, claims.family_id)
        if membership is None:
            raise Unauthenticated("membership ended", code="MEMBERSHIP_ENDED")
        role = Role(membership.role)
        if (
            family is None
            or family.revoked
            or (family.user_id, family.studio_id) != (claims.user_id, claims.studio_id)
        ):
            raise Unauthenticated("session ended", code="SESSION_ENDED")
    except Unauthenticated as exc:
        logger.info("request refused: not authenticated", extra={"reason": exc.code})
        raise
    except (KeyError, ValueError) as exc:  # an item that does not parse: refuse, never crash
        logger.info("request refused: not authenticated", extra={"reason": type(exc).__name__})
        raise Unauthenticated(tokens.INVALID_TOKEN, code="INVALID_TOKEN") from None
    return {
        "studioId": claims.studio_id,
        "userId": claims.user_id,
        "role": role.value,
        "sessionId": claims.family_id,
    }
