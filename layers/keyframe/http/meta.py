"""Routes that are about the API itself: liveness, readiness, the OpenAPI document and a docs page."""

from __future__ import annotations

import html
import json
import os
from pathlib import Path
from typing import Any

import boto3
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from botocore.exceptions import BotoCoreError, ClientError

from keyframe.errors import ServiceUnavailable
from keyframe.http import openapi
from keyframe.http.contract import answers
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
    client = boto3.client("dynamodb")
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
        boto3.client("s3").head_bucket(Bucket=bucket)
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
    summary="A readable page of every endpoint",
    tags=["meta"],
    operation_id="getDocs",
    openapi_extensions=answers(),
)
def docs():
    """A self-contained HTML page listing every endpoint (works offline, no CDN)."""
    document = openapi.committed()
    rows = []
    for path, item in sorted(document.get("paths", {}).items()):
        for method, op in item.items():
            auth = "public" if op.get("security") == [] else "bearer token"
            rows.append(
                f"<tr><td><b>{method.upper()}</b></td><td><code>{html.escape(path)}</code></td>"
                f"<td>{html.escape(op.get('summary', ''))}</td><td>{auth}</td></tr>"
            )
    page = (
        "<!doctype html><html><head><meta charset='utf-8'><title>Keyframe API</title>"
        "<style>body{font-family:sans-serif;margin:2em}td{padding:4px 10px;border-bottom:1px solid #ddd}"
        "</style></head><body><h1>Keyframe API</h1><p>Machine-readable: <a href='/openapi.json'>"
        "/openapi.json</a></p><table>" + "".join(rows) + "</table></body></html>"
    )
    return Response(status_code=200, content_type="text/html; charset=utf-8", body=page)
