"""CORS: which browser origins may call the API, and the headers every answer carries for them.

One policy for every place that answers a browser:

- the handlers (:mod:`keyframe.http.app` adds these headers to every response, its own 413/415
  pre-checks included, and Powertools answers preflight inside a function);
- the local gateway (:mod:`keyframe.local.apigateway`: preflight, 401/403 from the authorizer, 404 for
  an unknown route, 5xx), as API Gateway's preflight and gateway responses do in the cloud;
- the CDK app (``infra/api.py``: preflight and gateway responses; ``infra/waf.py``: the origin gate).

An answer to an allowed ``Origin`` carries ``Access-Control-Allow-Origin: <that origin>`` and
``Access-Control-Expose-Headers``; an answer to any other origin carries no CORS header. Every answer
says ``Vary: Origin`` once an allow-list is configured, so a cache never hands one origin's answer
to another.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

CORRELATION_HEADER = "X-Correlation-Id"

ALLOW_HEADERS: tuple[str, ...] = (
    "Authorization",
    "Content-Type",
    CORRELATION_HEADER,
    "If-Match",
    "Idempotency-Key",
)
"""Request headers a browser may send (preflight ``Access-Control-Allow-Headers``)."""

EXPOSE_HEADERS: tuple[str, ...] = ("ETag", CORRELATION_HEADER, "Retry-After", "Location")
"""Response headers a browser script may read."""

ALLOW_METHODS: tuple[str, ...] = ("OPTIONS", "GET", "PUT", "POST", "DELETE", "PATCH", "HEAD")
"""Methods preflight allows (API Gateway's ``Cors.ALL_METHODS``)."""

MAX_AGE_SECONDS = 600
"""How long a browser may cache a preflight answer."""


def parse_origins(value: str | None) -> tuple[str, ...]:
    """``"https://a.example, https://b.example"`` -> ``("https://a.example", "https://b.example")``."""
    return tuple(o.strip() for o in (value or "").split(",") if o.strip())


def header(headers: Mapping[str, str] | None, name: str) -> str | None:
    """The value of header ``name`` in ``headers``, whatever the case of its key; ``None`` if absent."""
    lowered = name.lower()
    for key, value in (headers or {}).items():
        if key.lower() == lowered:
            return value
    return None


def response_headers(origin: str | None, allowed: Sequence[str]) -> dict[str, str]:
    """The CORS headers of an actual (non-preflight) answer to a request from ``origin``.

    Parameters
    ----------
    origin:
        The request's ``Origin`` header (``None`` when absent).
    allowed:
        The allow-list (exact ``scheme://host[:port]`` strings).

    Returns
    -------
    dict
        ``{}`` when no allow-list is configured; ``{"Vary": "Origin"}`` for an origin not allowed (or
        none); for an allowed origin also ``Access-Control-Allow-Origin`` (the origin itself) and
        ``Access-Control-Expose-Headers``.
    """
    if not allowed:
        return {}
    headers = {"Vary": "Origin"}
    if origin and origin in allowed:
        headers["Access-Control-Allow-Origin"] = origin
        headers["Access-Control-Expose-Headers"] = ",".join(EXPOSE_HEADERS)
    return headers


def preflight_headers(origin: str | None, allowed: Sequence[str]) -> dict[str, str]:
    """The headers of a preflight (``OPTIONS``) answer: :func:`response_headers` plus, for an allowed
    origin, the methods, request headers and max age a browser may use."""
    headers = response_headers(origin, allowed)
    if "Access-Control-Allow-Origin" in headers:
        headers.pop("Access-Control-Expose-Headers")
        headers["Access-Control-Allow-Methods"] = ",".join(ALLOW_METHODS)
        headers["Access-Control-Allow-Headers"] = ",".join(ALLOW_HEADERS)
        headers["Access-Control-Max-Age"] = str(MAX_AGE_SECONDS)
    return headers
