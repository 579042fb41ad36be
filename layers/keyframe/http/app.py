"""The REST resolver every API function uses: validation, errors, correlation ids, headers, CORS.

``functions/<name>/handler.py`` is only (``build_api`` in :mod:`keyframe.registry` looks up the
function's routers and calls :func:`build_resolver`)::

    app = build_api("identity-api")

    @logger.inject_lambda_context(log_event=False)
    @metrics.log_metrics
    @tracer.capture_lambda_handler(capture_response=False)
    def lambda_handler(event, context):
        return app.resolve(event, context)
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, CORSConfig
from aws_lambda_powertools.event_handler.api_gateway import Router

from keyframe import errors
from keyframe.http import cors
from keyframe.http.auth import set_current_event
from keyframe.http.bodies import JSON_MEDIA_TYPE, check_json_media_type, parse_json
from keyframe.http.errors import error_body, register_error_handlers, status_for
from keyframe.observability import logger
from keyframe.settings import CoreSettings, load

CORRELATION_HEADER = cors.CORRELATION_HEADER

SECURITY_HEADERS: dict[str, str] = {
    "Strict-Transport-Security": "max-age=63072000; includeSubDomains",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
}
"""Sent on every REST response (the docs page relaxes the CSP for its inline style)."""

CORS_ALLOW_HEADERS = cors.ALLOW_HEADERS
"""Request headers a browser may send (:data:`keyframe.http.cors.ALLOW_HEADERS`)."""

CORS_EXPOSE_HEADERS = cors.EXPOSE_HEADERS
"""Response headers a browser script may read (:data:`keyframe.http.cors.EXPOSE_HEADERS`)."""

WWW_AUTHENTICATE = "WWW-Authenticate"
BEARER_CHALLENGE = "Bearer"
"""Every 401 names the scheme to use (RFC 9110 section 11.6.1, RFC 6750 section 3)."""

_BODY_METHODS = {"POST", "PUT", "PATCH"}


def _header(event: dict[str, Any], name: str) -> str | None:
    return cors.header(event.get("headers"), name)


def correlation_id_of(event: dict[str, Any]) -> str:
    """The request's correlation id: the ``X-Correlation-Id`` header if sane, else the request id."""
    given = _header(event, CORRELATION_HEADER)
    if given and 0 < len(given) <= 128 and given.isprintable():
        return given
    return (event.get("requestContext") or {}).get("requestId") or str(uuid.uuid4())


def _reject(status: int, code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(error_body(code, message, details)),
        "isBase64Encoded": False,
    }


def _precheck(event: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Read the body once, strictly (:mod:`keyframe.http.bodies`), before routing.

    Returns the event to route (its body re-serialised from the parsed JSON, its ``Content-Type``
    normalised) and, when the body is refused, the response to send instead: 413 over
    ``MAX_BODY_BYTES``, 415 for another media type or charset, 400 for bytes that are not UTF-8,
    not JSON, repeat a key or nest deeper than :data:`keyframe.http.bodies.MAX_DEPTH`.
    """
    body = event.get("body")
    if not body:
        return event, None
    try:
        raw = base64.b64decode(body, validate=True) if event.get("isBase64Encoded") else body.encode()
    except (binascii.Error, ValueError):
        return event, _reject(400, "INVALID_ENCODING", "The request body is not valid base64")
    limit = load(CoreSettings).MAX_BODY_BYTES
    if len(raw) > limit:
        return event, _reject(
            413, "PAYLOAD_TOO_LARGE", f"The request body is {len(raw)} bytes; the limit is {limit}"
        )
    if event.get("httpMethod", "").upper() not in _BODY_METHODS:
        return event, None
    try:
        check_json_media_type(_header(event, "Content-Type"))
        value = parse_json(raw)
    except errors.KeyframeError as exc:
        return event, _reject(status_for(exc), exc.code, exc.message, exc.details)
    headers = {k: v for k, v in (event.get("headers") or {}).items() if k.lower() != "content-type"}
    headers["Content-Type"] = JSON_MEDIA_TYPE
    multi = {k: v for k, v in (event.get("multiValueHeaders") or {}).items() if k.lower() != "content-type"}
    multi["Content-Type"] = [JSON_MEDIA_TYPE]
    routed = {
        **event,
        "headers": headers,
        "multiValueHeaders": multi,
        "body": json.dumps(value),
        "isBase64Encoded": False,
    }
    return routed, None


Authenticator = Callable[[str | None], dict[str, str]]
"""``authenticate(authorization_header) -> {"studioId", "userId", "role"}``, raising
:class:`~keyframe.errors.Unauthenticated` (``keyframe.identity.authorizer.authenticate``)."""


class KeyframeResolver(APIGatewayRestResolver):
    """``APIGatewayRestResolver`` that authenticates, sets the correlation id, pre-checks bodies and
    adds headers.

    With an ``authenticator``, every request to a route that ``is_public`` does not name is
    authenticated first (before its body is read): the context it returns becomes
    ``requestContext.authorizer`` (what :mod:`keyframe.http.auth` reads), and a refusal is the same
    401 the gateway's authorizer answered (``UNAUTHENTICATED``, ``WWW-Authenticate: Bearer``); an
    authenticator that crashes (keys or table unreachable) is a 500 ``AUTHORIZER_FAILURE``.
    An event that already carries an authorizer context (set by API Gateway, never by a client) is
    taken as is.
    """

    def __init__(
        self,
        *args: Any,
        authenticator: Authenticator | None = None,
        is_public: Callable[[str], bool] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.authenticator = authenticator
        self.is_public = is_public or (lambda path: False)

    def _authenticate(self, event: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """The event with the caller's context, or the 401 to send instead."""
        if self.authenticator is None or event.get("httpMethod", "").upper() == "OPTIONS":
            return event, None
        request_context = event.get("requestContext") or {}
        route = event.get("resource") or event.get("path") or ""
        if request_context.get("authorizer") or self.is_public(route):
            return event, None
        try:
            caller = self.authenticator(_header(event, "Authorization"))
        except errors.Unauthenticated:
            return event, _reject(401, "UNAUTHENTICATED", "Unauthorized")
        except Exception:  # keys or table unreachable: 500 in the error shape, never a 401
            logger.exception("authentication failed")
            return event, _reject(500, "AUTHORIZER_FAILURE", "Authentication failed; try again")
        return {**event, "requestContext": {**request_context, "authorizer": caller}}, None

    def resolve(self, event: dict[str, Any], context: Any) -> dict[str, Any]:  # type: ignore[override]
        """Resolve ``event`` (an API Gateway REST proxy event) into a proxy response dict."""
        correlation_id = correlation_id_of(event)
        logger.set_correlation_id(correlation_id)
        event, refused = self._authenticate(event)
        if refused is not None:
            return _decorate(refused, correlation_id, event)
        event, refused = _precheck(event)
        set_current_event(event)
        try:
            response = refused or super().resolve(event, context)
        finally:
            set_current_event(None)
        return _decorate(response, correlation_id, event)


def _decorate(response: dict[str, Any], correlation_id: str, event: dict[str, Any]) -> dict[str, Any]:
    response["statusCode"] = int(response["statusCode"])
    # CORS on every answer, the pre-checks' 413/415 too (Powertools adds it only to routed ones)
    origins = load(CoreSettings).cors_origins
    extra = {
        **SECURITY_HEADERS,
        CORRELATION_HEADER: correlation_id,
        **cors.response_headers(_header(event, "Origin"), origins),
    }
    if response["statusCode"] == 401:
        extra[WWW_AUTHENTICATE] = BEARER_CHALLENGE
    if event.get("path") == "/docs":
        extra["Content-Security-Policy"] = (
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"
        )
    multi = response.get("multiValueHeaders")
    if multi is not None:
        present = {key.lower() for key in multi} | {key.lower() for key in response.get("headers") or {}}
        for key, value in extra.items():
            if key.lower() not in present:
                multi[key] = [value]
    else:
        headers = response.setdefault("headers", {})
        present = {key.lower() for key in headers}
        for key, value in extra.items():
            if key.lower() not in present:
                headers[key] = value
    return response


def cors_config() -> CORSConfig | None:
    """CORS from ``CORS_ALLOW_ORIGINS`` (comma-separated); ``None`` (no CORS) when empty."""
    origins = load(CoreSettings).cors_origins
    if not origins:
        return None
    return CORSConfig(
        allow_origin=origins[0],
        extra_origins=origins[1:],
        allow_headers=list(CORS_ALLOW_HEADERS),
        expose_headers=list(CORS_EXPOSE_HEADERS),
        max_age=cors.MAX_AGE_SECONDS,
        allow_credentials=False,
    )


def build_resolver(
    routers: Iterable[Router],
    *,
    authenticator: Authenticator | None = None,
    is_public: Callable[[str], bool] | None = None,
) -> KeyframeResolver:
    """Build the resolver of an API function that serves ``routers``.

    ``authenticator`` / ``is_public``: see :class:`KeyframeResolver` (the registry passes the
    identity domain's and its list of public paths).

    The function's core settings (:class:`keyframe.settings.CoreSettings`) are validated here, at
    cold start: a missing ``STAGE`` or a wildcard CORS origin stops the function before it serves.

    Raises
    ------
    pydantic.ValidationError
        Invalid core settings (the message names the variable).
    """
    app = KeyframeResolver(
        enable_validation=True, cors=cors_config(), authenticator=authenticator, is_public=is_public
    )
    register_error_handlers(app)
    for router in routers:
        app.include_router(router)
    return app
