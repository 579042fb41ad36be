"""In-process fixtures for the local stack's pieces (no subprocess, free ports)."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest

from keyframe import registry
from keyframe.local import lambdas
from keyframe.local.websocket import WebSocketGateway


@pytest.fixture
def ws_routes(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """An empty WebSocket route table and no authorizer; tests add test-only handlers."""
    routes: dict[str, str] = {}
    monkeypatch.setattr(registry, "WEBSOCKET_ROUTES", routes)
    monkeypatch.setattr(registry, "WEBSOCKET_AUTHORIZER", None)
    return routes


@pytest.fixture
def handlers(monkeypatch: pytest.MonkeyPatch) -> dict:
    """``handlers[name] = fn`` installs a test-only Lambda handler (``lambdas.OVERRIDES``)."""
    table: dict = {}
    monkeypatch.setattr(lambdas, "OVERRIDES", table)
    return table


@pytest.fixture
def gateway(ws_routes: dict[str, str], handlers: dict) -> Iterator[WebSocketGateway]:
    """A WebSocket gateway on a free port."""
    gateway = WebSocketGateway("127.0.0.1", 0, stage="local")
    gateway.start()
    yield gateway
    gateway.stop()


@pytest.fixture
def management(gateway: WebSocketGateway):
    """boto3's ``apigatewaymanagementapi`` client against the gateway's ``@connections``."""
    return boto3.client(
        "apigatewaymanagementapi", endpoint_url=gateway.connections_url, region_name="us-east-1"
    )
