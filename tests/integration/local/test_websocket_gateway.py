"""The WebSocket API emulation: authorizer, $connect, routes, two-way replies, @connections, $disconnect."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from keyframe import registry
from keyframe.local.websocket import WebSocketGateway


def _open(gateway: WebSocketGateway, query: str = "") -> Any:
    return connect(gateway.url + query, proxy=None, open_timeout=5)


def _only_connection(gateway: WebSocketGateway) -> str:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if gateway.connections:
            return next(iter(gateway.connections))
        time.sleep(0.02)
    raise AssertionError("no connection registered")


def test_without_routes_a_client_connects_and_default_messages_get_no_reply(
    gateway: WebSocketGateway,
) -> None:
    # Given no WebSocket routes at all
    with _open(gateway) as ws:
        # When the client sends a message
        ws.send(json.dumps({"action": "subscribe"}))

        # Then the connection is open and nothing comes back
        with pytest.raises(TimeoutError):
            ws.recv(timeout=0.3)
        assert len(gateway.connections) == 1


def test_authorizer_refusals_reject_the_handshake(
    gateway: WebSocketGateway, ws_routes: dict, handlers: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an authorizer that raises Unauthorized without a ticket and denies ticket "deny"
    def authorizer(event: dict, context: Any) -> dict:
        ticket = (event.get("queryStringParameters") or {}).get("ticket")
        if not ticket:
            raise Exception("Unauthorized")
        effect = "Deny" if ticket == "deny" else "Allow"
        return {
            "principalId": "u-1",
            "policyDocument": {
                "Version": "2012-10-17",
                "Statement": [
                    {"Action": "execute-api:Invoke", "Effect": effect, "Resource": event["methodArn"]}
                ],
            },
            "context": {"studioId": "s-1", "role": "ARTIST"},
        }

    handlers["ws-auth"] = authorizer
    monkeypatch.setattr(registry, "WEBSOCKET_AUTHORIZER", "ws-auth")

    # When / Then
    with pytest.raises(InvalidStatus) as missing:
        _open(gateway)
    assert missing.value.response.status_code == 401
    with pytest.raises(InvalidStatus) as denied:
        _open(gateway, "?ticket=deny")
    assert denied.value.response.status_code == 403
    with _open(gateway, "?ticket=good"):
        connection = gateway.connections[_only_connection(gateway)]
        assert connection.authorizer == {"studioId": "s-1", "role": "ARTIST", "principalId": "u-1"}


def test_connect_handler_status_decides_the_handshake(
    gateway: WebSocketGateway, ws_routes: dict, handlers: dict
) -> None:
    # Given a $connect handler refusing clients without ?room=
    seen: list[dict] = []

    def on_connect(event: dict, context: Any) -> dict:
        seen.append(event)
        ok = bool((event.get("queryStringParameters") or {}).get("room"))
        return {"statusCode": 200 if ok else 403}

    handlers["ws-connect"] = on_connect
    ws_routes["$connect"] = "ws-connect"

    # When / Then
    with pytest.raises(InvalidStatus) as refused:
        _open(gateway)
    assert refused.value.response.status_code == 403
    with _open(gateway, "?room=studio&room=asset:1"):
        event = seen[-1]
        assert event["requestContext"]["routeKey"] == "$connect"
        assert event["requestContext"]["eventType"] == "CONNECT"
        assert event["requestContext"]["connectionId"] == _only_connection(gateway)
        assert event["multiValueQueryStringParameters"] == {"room": ["studio", "asset:1"]}


def test_action_routes_and_default_route_reply_to_the_caller(
    gateway: WebSocketGateway, ws_routes: dict, handlers: dict
) -> None:
    # Given an "echo" action route and a $default route
    events: list[dict] = []

    def echo(event: dict, context: Any) -> dict:
        events.append(event)
        return {
            "statusCode": 200,
            "body": json.dumps(
                {"route": event["requestContext"]["routeKey"], "got": json.loads(event["body"])}
            ),
        }

    handlers["ws-echo"] = echo
    ws_routes["echo"] = "ws-echo"
    ws_routes["$default"] = "ws-echo"

    with _open(gateway) as ws:
        # When
        ws.send(json.dumps({"action": "echo", "n": 1}))
        first = json.loads(ws.recv(timeout=5))
        ws.send(json.dumps({"action": "unknown", "n": 2}))
        second = json.loads(ws.recv(timeout=5))

    # Then
    assert first == {"route": "echo", "got": {"action": "echo", "n": 1}}
    assert second == {"route": "$default", "got": {"action": "unknown", "n": 2}}
    assert events[0]["requestContext"]["eventType"] == "MESSAGE"
    assert events[0]["isBase64Encoded"] is False


def test_a_failing_route_handler_sends_internal_server_error(
    gateway: WebSocketGateway, ws_routes: dict, handlers: dict
) -> None:
    # Given a $default handler that raises
    def broken(event: dict, context: Any) -> dict:
        raise RuntimeError("boom")

    handlers["ws-broken"] = broken
    ws_routes["$default"] = "ws-broken"

    # When
    with _open(gateway) as ws:
        ws.send("hello")
        reply = json.loads(ws.recv(timeout=5))

    # Then: API Gateway's error frame, and the connection stays usable
    assert reply["message"] == "Internal server error"
    assert reply["connectionId"]


def test_management_api_posts_reads_and_deletes_connections(
    gateway: WebSocketGateway, ws_routes: dict, handlers: dict, management: Any
) -> None:
    # Given a $disconnect handler and one connected client
    disconnected = threading.Event()
    handlers["ws-bye"] = lambda event, context: disconnected.set()
    ws_routes["$disconnect"] = "ws-bye"
    with _open(gateway) as ws:
        connection_id = _only_connection(gateway)

        # When the backend pushes to it with boto3
        management.post_to_connection(ConnectionId=connection_id, Data=b'{"type":"render:progress","pct":40}')
        info = management.get_connection(ConnectionId=connection_id)

        # Then the client receives the frame and the connection info is AWS-shaped
        assert json.loads(ws.recv(timeout=5)) == {"type": "render:progress", "pct": 40}
        assert info["ConnectedAt"].year >= 2024
        assert info["Identity"]["SourceIp"] == "127.0.0.1"

        # When the backend deletes the connection
        management.delete_connection(ConnectionId=connection_id)

        # Then the client is closed, $disconnect ran, and the id is gone
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=5)
    assert disconnected.wait(5)
    with pytest.raises(ClientError) as gone:
        management.post_to_connection(ConnectionId=connection_id, Data=b"late")
    assert gone.value.response["Error"]["Code"] == "GoneException"
    assert gone.value.response["ResponseMetadata"]["HTTPStatusCode"] == 410


def test_unknown_connection_is_gone(management: Any) -> None:
    with pytest.raises(ClientError) as gone:
        management.get_connection(ConnectionId="nope")
    assert gone.value.response["Error"]["Code"] == "GoneException"
