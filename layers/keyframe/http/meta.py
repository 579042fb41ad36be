"""Routes that are about the API itself: liveness, readiness, the OpenAPI document and a docs page."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from botocore.exceptions import BotoCoreError, ClientError

from keyframe.errors import ServiceUnavailable
from keyframe.http import openapi
from keyframe.http.contract import answers
from keyframe.storage import clients, s3
from keyframe.storage.tables import TABLES

ASYNCAPI_DOCUMENT = Path(__file__).parent.parent / "live" / "asyncapi.json"
"""``keyframe/live/asyncapi.json``, written by ``make openapi`` (:mod:`keyframe.live.asyncapi`)."""

router = Router()


@router.get(
    "/health",
    summary="Liveness: answers without touching any dependency",
    tags=["meta"],
    operation_id="getHealth",
    openapi_extensions=answers(),
)
def health() -> dict[str, str]:
    """Liveness probe: no auth, no I/O."""
    return {"status": "ok"}


def _check_tables() -> dict[str, str]:
    client = clients.client("dynamodb")
    results = {}
    for spec in TABLES:
        name = os.environ.get(spec.env_var)
        if not name:
            results[spec.key] = f"not configured: {spec.env_var} is not set"
            continue
        try:
            status = client.describe_table(TableName=name)["Table"]["TableStatus"]
            results[spec.key] = "ok" if status in ("ACTIVE", "UPDATING") else status.lower()
        except (ClientError, BotoCoreError) as exc:
            results[spec.key] = f"unavailable: {type(exc).__name__}"
    return results


def _check_bucket() -> dict[str, str]:
    bucket = os.environ.get("MEDIA_BUCKET")
    if not bucket:
        return {"mediaBucket": "not configured: MEDIA_BUCKET is not set"}
    try:
        s3.client().head_bucket(Bucket=bucket)
        return {"mediaBucket": "ok"}
    except (ClientError, BotoCoreError) as exc:
        return {"mediaBucket": f"unavailable: {type(exc).__name__}"}


@router.get(
    "/ready",
    summary="Readiness: checks the tables and the media bucket",
    tags=["meta"],
    operation_id="getReadiness",
    openapi_extensions=answers("SERVICE_UNAVAILABLE"),
)
def ready() -> dict[str, Any]:
    """Readiness probe: DescribeTable on every table of the specs, HeadBucket on the media bucket.

    A table or bucket whose variable is missing counts as not ready (it is never skipped).

    Raises
    ------
    ServiceUnavailable
        (503) when any check fails; ``details`` lists each check.
    """
    checks = {**_check_tables(), **_check_bucket()}
    if not checks or any(value != "ok" for value in checks.values()):
        raise ServiceUnavailable("Not ready", details={"checks": checks})
    return {"status": "ready", "checks": checks}


@router.get(
    "/openapi.json",
    summary="The OpenAPI 3.1 document of this API",
    tags=["meta"],
    operation_id="getOpenApiDocument",
    openapi_extensions=answers(),
)
def openapi_document() -> dict[str, Any]:
    """The committed OpenAPI document (generated from the routes; a test keeps it in sync)."""
    return openapi.committed()


@router.get(
    "/asyncapi.json",
    summary="The AsyncAPI 3.0 document of the live (WebSocket) API",
    tags=["meta"],
    operation_id="getAsyncApiDocument",
    openapi_extensions=answers(),
)
def asyncapi_document() -> dict[str, Any]:
    """The committed AsyncAPI document: socket actions, room events and replies (a test keeps it in sync).

    Read as a file: importing ``keyframe.live.asyncapi`` would load every domain's models at cold start.
    """
    return json.loads(ASYNCAPI_DOCUMENT.read_text())


@router.get(
    "/docs",
    summary="Interactive docs: every endpoint with its schemas and examples; try a call with your token",
    tags=["meta"],
    operation_id="getDocs",
    openapi_extensions=answers(),
    responses={
        200: {
            "description": "The Swagger UI page (HTML, scripts and styles inline)",
            "content": {"text/html": {"schema": {"type": "string"}}},
        }
    },
)
def docs():  # no return annotation: Powertools would try to model Response as the body
    """Swagger UI (Powertools' bundled copy, inlined: no CDN) over the committed OpenAPI document.

    "Authorize" takes an access token (from ``POST /auth/login``); "Try it out" then calls this API
    on the page's own origin. The page links the AsyncAPI document of the live socket. Its
    Content-Security-Policy allows exactly its two inline scripts (by SHA-256), inline styles,
    ``data:`` images and requests to its own origin; every other route keeps ``default-src 'none'``.
    """
    page = docs_page()
    return Response(
        status_code=200,
        content_type="text/html; charset=utf-8",
        body=page.html,
        headers={"Content-Security-Policy": page.csp, "Cache-Control": "no-cache"},
    )


@dataclass(frozen=True)
class DocsPage:
    """The ``/docs`` HTML and the Content-Security-Policy that lets exactly its scripts run."""

    html: str
    csp: str


_DOCS_BANNER = (
    "<div style='font-family:sans-serif;padding:8px 20px;background:#1b1b1b;color:#eee'>"
    "<b>Keyframe API</b> &middot; OpenAPI: <a style='color:#9cf' href='/openapi.json'>/openapi.json</a>"
    " &middot; live socket (AsyncAPI 3.0): <a style='color:#9cf' href='/asyncapi.json'>/asyncapi.json</a>"
    " &middot; Authorize with the accessToken of <code>POST /auth/login</code></div>"
)


@cache
def docs_page() -> DocsPage:
    """Build the page once per execution environment (the document and the bundle do not change)."""
    # Powertools' Swagger UI package loads its OpenAPI models (~50 ms of CPU): only the first /docs pays
    from aws_lambda_powertools.event_handler.openapi import swagger_ui  # noqa: PLC0415
    from aws_lambda_powertools.event_handler.openapi.swagger_ui.html import (  # noqa: PLC0415
        generate_swagger_html,
    )

    bundle = Path(swagger_ui.__file__).parent
    spec = openapi.COMMITTED.read_text().replace("</", "<\\/")
    page = generate_swagger_html(
        spec=spec,
        swagger_js=(bundle / "swagger-ui-bundle.min.js").read_text(),
        swagger_css=(bundle / "swagger-ui.min.css").read_text(),
        swagger_base_url="",
        oauth2_config=None,
        persist_authorization=True,
    )
    page = page.replace("<title>Swagger UI</title>", "<title>Keyframe API</title>", 1)
    page = page.replace("<body>", "<body>" + _DOCS_BANNER, 1)
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(script.encode()).digest()).decode() + "'"
        for script in re.findall(r"<script>(.*?)</script>", page, flags=re.S)
    )
    csp = (
        f"default-src 'none'; script-src {hashes}; style-src 'unsafe-inline'; img-src 'self' data:; "
        "connect-src 'self'; font-src 'self' data:; base-uri 'none'; form-action 'none'; "
        "frame-ancestors 'none'"
    )
    return DocsPage(page, csp)
