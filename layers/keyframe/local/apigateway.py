"""API Gateway REST emulation: route matching, REST proxy events, the gateway's own answers.

Used by the local HTTP server (``keyframe.local.restapi``) and by integration tests, so both exercise
exactly what the cloud does: one invocation of the real function handler per request, which
authenticates the caller itself (:func:`keyframe.identity.authorizer.authenticate`, wired by
:func:`keyframe.registry.build_api`); like the deployed REST API, the gateway runs no authorizer.
"""

from __future__ import annotations

import base64
import json
import os
import re
import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from keyframe import registry
from keyframe.http import cors
from keyframe.local import lambdas
from keyframe.observability import logger

API_ID = "local"
STAGE_NAME = "local"


@dataclass(frozen=True)
class Route:
    """One REST route with the regex that matches concrete paths."""

    endpoint: registry.Endpoint
    pattern: re.Pattern[str]
    params: tuple[str, ...]


@dataclass
class GatewayResponse:
    """What the gateway sends back: status, headers (single-valued), body bytes."""

    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body or b"null")


def _compile(path: str) -> tuple[re.Pattern[str], tuple[str, ...]]:
    params = tuple(re.findall(r"{([^}/+]+)\+?}", path))
    regex = re.sub(r"{[^}/+]+\+}", "(.+)", path)
    regex = re.sub(r"{[^}/]+}", "([^/]+)", regex)
    return re.compile(f"^{regex}$"), params


def _error(
    status: int, code: str, message: str, correlation_id: str, extra: dict[str, str] | None = None
) -> GatewayResponse:
    body = {"error": {"code": code, "message": message, "correlationId": correlation_id}}
    headers = {"Content-Type": "application/json", "X-Correlation-Id": correlation_id, **(extra or {})}
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"  # as the deployed UNAUTHORIZED gateway response
    return GatewayResponse(status, headers, json.dumps(body).encode())


def allowed_origins() -> tuple[str, ...]:
    """The browser origins of ``CORS_ALLOW_ORIGINS`` (read per request, as the stack's functions do)."""
    return cors.parse_origins(os.environ.get("CORS_ALLOW_ORIGINS"))


class RestGateway:
    """Route requests to the real handlers the way API Gateway REST + a TOKEN authorizer would."""

    def __init__(self) -> None:
        self.routes = []
        for endpoint in registry.endpoints():
            pattern, params = _compile(endpoint.path)
            self.routes.append(Route(endpoint, pattern, params))
        # literal paths before templated ones, as API Gateway prefers the most specific resource
        self.routes.sort(key=lambda r: (r.endpoint.path.count("{"), -len(r.endpoint.path)))

    def match(self, method: str, path: str) -> tuple[Route | None, dict[str, str], bool]:
        """Find the route for ``method path``: ``(route, path_params, path_exists)``."""
        path_exists = False
        for route in self.routes:
            found = route.pattern.match(path)
            if not found:
                continue
            path_exists = True
            if method in (route.endpoint.method, "OPTIONS"):
                values = [unquote(v) for v in found.groups()]
                return route, dict(zip(route.params, values, strict=True)), True
        return None, {}, path_exists

    def handle(
        self,
        method: str,
        path: str,
        *,
        query: dict[str, list[str]] | None = None,
        headers: dict[str, str] | None = None,
        body: bytes | None = None,
        source_ip: str = "127.0.0.1",
    ) -> GatewayResponse:
        """Answer one HTTP request as the deployed REST API would.

        The gateway's own answers carry CORS headers for an allowed ``Origin``, as the gateway
        responses of ``infra/api.py`` do: preflight (``OPTIONS`` on any route's path, answered
        without a function, like API Gateway's mock integration), 404 for an unknown route, 502.
        The handlers add their own (:mod:`keyframe.http.app`), their 401 included.
        """
        method = method.upper()
        headers = dict(headers or {})
        request_id = str(uuid.uuid4())
        lower = {k.lower(): v for k, v in headers.items()}
        correlation_id = lower.get("x-correlation-id") or request_id
        origins = allowed_origins()
        gateway_cors = cors.response_headers(lower.get("origin"), origins)
        route, params, _ = self.match(method, path)
        if route is None:
            # API Gateway answers an unknown method exactly like an unknown path (its
            # MISSING_AUTHENTICATION_TOKEN response, which infra/api.py maps to this 404).
            return _error(404, "ROUTE_NOT_FOUND", "No such endpoint", correlation_id, gateway_cors)
        if method == "OPTIONS" and origins:
            preflight = cors.preflight_headers(lower.get("origin"), origins)
            return GatewayResponse(204, {"X-Correlation-Id": correlation_id, **preflight}, b"")
        endpoint = route.endpoint
        event = build_rest_event(
            method,
            path,
            resource=endpoint.path,
            path_params=params,
            query=query or {},
            headers=headers,
            body=body,
            authorizer=None,
            request_id=request_id,
            source_ip=source_ip,
        )
        try:
            result = lambdas.invoke(endpoint.function, event)
        except Exception as exc:  # a crashed handler: API Gateway answers 502 (Lambda error)
            trace = "".join(getattr(exc, "stack_trace", None) or [])  # from its execution environment
            logger.exception("handler crashed", extra={"function": endpoint.function, "stackTrace": trace})
            return _error(502, "INTERNAL_ERROR", "Internal server error", correlation_id, gateway_cors)
        return _to_response(result)


def build_rest_event(
    method: str,
    path: str,
    *,
    resource: str,
    path_params: dict[str, str],
    query: dict[str, list[str]],
    headers: dict[str, str],
    body: bytes | None,
    authorizer: dict[str, Any] | None,
    request_id: str | None = None,
    source_ip: str = "127.0.0.1",
) -> dict[str, Any]:
    """An API Gateway REST proxy event (version 1.0) as the cloud sends it."""
    text: str | None = None
    is_b64 = False
    if body:
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            text, is_b64 = base64.b64encode(body).decode(), True
    request_id = request_id or str(uuid.uuid4())
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": headers or None,
        "multiValueHeaders": {k: [v] for k, v in headers.items()} or None,
        "queryStringParameters": {k: v[-1] for k, v in query.items()} or None,
        "multiValueQueryStringParameters": query or None,
        "pathParameters": path_params or None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": resource,
            "httpMethod": method,
            "path": f"/{STAGE_NAME}{path}",
            "stage": STAGE_NAME,
            "requestId": request_id,
            "requestTimeEpoch": int(time.time() * 1000),
            "apiId": API_ID,
            "accountId": "000000000000",
            "identity": {"sourceIp": source_ip, "userAgent": headers.get("User-Agent")},
            "authorizer": authorizer,
        },
        "body": text,
        "isBase64Encoded": is_b64,
    }


def _to_response(result: dict[str, Any]) -> GatewayResponse:
    headers: dict[str, str] = {}
    for key, values in (result.get("multiValueHeaders") or {}).items():
        headers[key] = ", ".join(str(v) for v in values)
    for key, value in (result.get("headers") or {}).items():
        headers[key] = str(value)
    raw = result.get("body") or ""
    body = base64.b64decode(raw) if result.get("isBase64Encoded") else raw.encode()
    return GatewayResponse(int(result["statusCode"]), headers, body)
