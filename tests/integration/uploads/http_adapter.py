"""A ``requests`` transport adapter that answers from the in-process API gateway.

Mount it on a session (``session.mount(API, GatewayAdapter(gateway))``) to run HTTP clients such as
``keyframe upload`` against the real routes, authorizer and handlers under moto, with no port.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

API = "http://keyframe.test"
"""The base URL the adapter is mounted under."""


class GatewayAdapter(BaseAdapter):
    """A ``requests`` transport that answers from the in-process API gateway."""

    def __init__(self, gateway: Any) -> None:
        super().__init__()
        self.gateway = gateway

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        parts = urlsplit(request.url)
        body = request.body.encode() if isinstance(request.body, str) else request.body
        answer = self.gateway.handle(
            request.method, parts.path, query=parse_qs(parts.query), headers=dict(request.headers), body=body
        )
        response = requests.Response()
        response.status_code = answer.status
        response._content = answer.body
        response.headers = CaseInsensitiveDict(answer.headers)
        response.url = request.url
        response.request = request
        return response

    def close(self) -> None:
        """Nothing to release."""
