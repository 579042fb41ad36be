"""An HTTP-like client over :class:`keyframe.local.apigateway.RestGateway` for integration tests.

Requests go through the real route table, the real authorizer and the real handlers, exactly as on
the local stack, but in-process under moto's ``mock_aws``.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

from keyframe.local.apigateway import GatewayResponse, RestGateway


class ApiClient:
    """``client.post("/auth/register", json={...}, token=...)`` -> :class:`GatewayResponse`."""

    def __init__(self) -> None:
        self.gateway = RestGateway()

    def request(
        self,
        method: str,
        url: str,
        *,
        json_body: Any = None,
        raw_body: bytes | None = None,
        token: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> GatewayResponse:
        """Send one request; ``json_body`` is serialised with ``Content-Type: application/json``."""
        parts = urlsplit(url)
        all_headers = dict(headers or {})
        body = raw_body
        if json_body is not None:
            body = json.dumps(json_body).encode()
            all_headers.setdefault("Content-Type", "application/json")
        if token:
            all_headers["Authorization"] = f"Bearer {token}"
        return self.gateway.handle(
            method, parts.path, query=parse_qs(parts.query), headers=all_headers, body=body
        )

    def get(self, url: str, **kw: Any) -> GatewayResponse:
        """GET ``url``."""
        return self.request("GET", url, **kw)

    def post(self, url: str, json: Any = None, **kw: Any) -> GatewayResponse:
        """POST ``url`` with a JSON body."""
        return self.request("POST", url, json_body=json, **kw)

    def put(self, url: str, json: Any = None, **kw: Any) -> GatewayResponse:
        """PUT ``url`` with a JSON body."""
        return self.request("PUT", url, json_body=json, **kw)

    def patch(self, url: str, json: Any = None, **kw: Any) -> GatewayResponse:
        """PATCH ``url`` with a JSON body."""
        return self.request("PATCH", url, json_body=json, **kw)

    def delete(self, url: str, **kw: Any) -> GatewayResponse:
        """DELETE ``url``."""
        return self.request("DELETE", url, **kw)
