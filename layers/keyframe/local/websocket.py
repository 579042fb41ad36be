"""API Gateway WebSocket API emulation, with its ``@connections`` management API on the same port.

Served by aiohttp (one asyncio loop on its own thread; handlers run on a thread pool), because
the management API needs ``POST``/``DELETE`` on the WebSocket's own host, as in AWS.

WebSocket (any path, e.g. ``ws://127.0.0.1:3001/live?ticket=…``):

- connect: the REQUEST authorizer ``registry.WEBSOCKET_AUTHORIZER`` (if set) runs first; raising
  ``Unauthorized`` rejects the handshake with 401, a Deny policy with 403, any other error with 500.
  Then the ``$connect`` route (if any); a non-2xx ``statusCode`` rejects the handshake with it.
  The authorizer's ``context`` (plus ``principalId``) is ``requestContext.authorizer`` of every later
  event of that connection, as in AWS.
- each message: the route key is the JSON body's ``action`` if it names a key of
  ``registry.WEBSOCKET_ROUTES``, else ``$default``; a ``body`` in the handler's result is sent back
  (two-way route). No handler for the route: nothing happens.
- close: the ``$disconnect`` route.

Management API (what ``boto3.client("apigatewaymanagementapi", endpoint_url=...)`` calls; an
optional stage prefix such as ``/local/@connections/…`` is accepted):

- ``POST /@connections/{id}`` sends the body to the client (text if UTF-8, else binary), 200;
- ``GET /@connections/{id}`` connection info; ``DELETE /@connections/{id}`` closes it, 204;
- unknown or closed ids answer 410 ``GoneException``;
- local only: ``GET /@connections`` lists open connections (tests use it to learn an id).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import secrets
import socket
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypedDict
from urllib.parse import unquote

from aiohttp import WSMsgType, web

from keyframe import registry
from keyframe.local import handlers, lambdas

log = logging.getLogger("keyframe.local.websocket")

MAX_POST_BYTES = 128 * 1024
"""API Gateway's limit for one ``PostToConnection`` payload (and one client message)."""


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _now_ms() -> int:
    return int(time.time() * 1000)


def _aws_error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"message": message}, status=status, headers={"x-amzn-ErrorType": code})


class Peer(TypedDict):
    """What a ``requestContext`` says about the client before its connection is open."""

    connection_id: str
    connected_at: int
    source_ip: str
    user_agent: str


@dataclass
class Connection:
    """One open WebSocket client."""

    connection_id: str
    ws: web.WebSocketResponse
    connected_at: int
    source_ip: str
    user_agent: str
    path: str
    query: dict[str, list[str]]
    authorizer: dict[str, Any] | None
    last_active_at: int = field(default_factory=_now_ms)
    send_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def peer(self) -> dict[str, Any]:
        """What every event's ``requestContext`` says about this connection."""
        return {
            "connection_id": self.connection_id,
            "connected_at": self.connected_at,
            "source_ip": self.source_ip,
            "user_agent": self.user_agent,
            "authorizer": self.authorizer,
        }


class WebSocketGateway:
    """The WebSocket API and ``@connections`` on ``host:port`` (0 = a free port, bound at once).

    Parameters
    ----------
    stage / api_id:
        Reported in every event's ``requestContext``.
    workers:
        Threads that run handlers (each message's handler runs on one).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 3001,
        *,
        stage: str = "local",
        api_id: str = "local-ws",
        workers: int = 8,
    ) -> None:
        self.host = host
        self.stage = stage
        self.api_id = api_id
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((host, port))
        self._socket.listen(128)
        self._socket.setblocking(False)
        self.connections: dict[str, Connection] = {}
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ws-handler")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()

    # ---------------------------------------------------------------- lifecycle
    @property
    def port(self) -> int:
        """The bound port."""
        return int(self._socket.getsockname()[1])

    @property
    def url(self) -> str:
        """The WebSocket URL clients connect to: ``ws://host:port/live``."""
        return f"ws://{self.host}:{self.port}/live"

    @property
    def connections_url(self) -> str:
        """The ``@connections`` endpoint for ``apigatewaymanagementapi`` (``LIVE_CONNECTIONS_ENDPOINT``)."""
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        """Serve on a daemon thread running its own asyncio loop."""
        self._thread = threading.Thread(target=self._serve, name="websocket", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("The WebSocket gateway did not start")

    def _serve(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        app = web.Application(client_max_size=MAX_POST_BYTES * 2)
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        loop.run_until_complete(self._runner.setup())
        loop.run_until_complete(web.SockSite(self._runner, self._socket).start())
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.close()

    def stop(self) -> None:
        """Close every connection (1001 going away), stop serving, free the port."""
        loop = self._loop
        if loop is not None and loop.is_running():
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(timeout=5)
            loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._executor.shutdown(wait=False, cancel_futures=True)
        with contextlib.suppress(OSError):
            self._socket.close()

    async def _shutdown(self) -> None:
        for connection in list(self.connections.values()):
            with contextlib.suppress(Exception):
                await connection.ws.close(code=1001, message=b"Server shutting down")
        if self._runner is not None:
            await self._runner.cleanup()

    async def _in_thread(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    # ----------------------------------------------------------------- routing
    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        raw_path = request.raw_path.split("?", 1)[0]
        if "/@connections" in raw_path:
            tail = raw_path.split("/@connections", 1)[1].strip("/")
            return await self._management(request, unquote(tail))
        if request.method == "GET" and request.headers.get("Upgrade", "").lower() == "websocket":
            return await self._websocket(request)
        return web.json_response(
            {"message": f"This is a WebSocket endpoint: connect with ws://{self.host}:{self.port}/live"},
            status=426,
            headers={"Upgrade": "websocket"},
        )

    async def _management(self, request: web.Request, connection_id: str) -> web.StreamResponse:
        if not connection_id:
            if request.method != "GET":
                return _aws_error(405, "MethodNotAllowed", "Only GET lists connections")
            return web.json_response(
                {
                    "connections": [
                        {
                            "connectionId": c.connection_id,
                            "connectedAt": _iso(c.connected_at),
                            "path": c.path,
                            "query": c.query,
                            "sourceIp": c.source_ip,
                        }
                        for c in self.connections.values()
                    ]
                }
            )
        connection = self.connections.get(connection_id)
        if connection is None or connection.ws.closed:
            return _aws_error(410, "GoneException", f"Connection {connection_id} is gone")
        if request.method == "POST":
            data = await request.read()
            if len(data) > MAX_POST_BYTES:
                return _aws_error(413, "PayloadTooLargeException", "Payload is larger than 128 KB")
            try:
                async with connection.send_lock:
                    try:
                        await connection.ws.send_str(data.decode("utf-8"))
                    except UnicodeDecodeError:
                        await connection.ws.send_bytes(data)
            except (ConnectionError, RuntimeError):
                return _aws_error(410, "GoneException", f"Connection {connection_id} is gone")
            connection.last_active_at = _now_ms()
            return web.Response(status=200)
        if request.method == "GET":
            return web.json_response(
                {
                    "connectedAt": _iso(connection.connected_at),
                    "identity": {"sourceIp": connection.source_ip, "userAgent": connection.user_agent},
                    "lastActiveAt": _iso(connection.last_active_at),
                }
            )
        if request.method == "DELETE":
            await connection.ws.close(code=1000, message=b"Closed by the server")
            return web.Response(status=204)
        return _aws_error(405, "MethodNotAllowed", f"{request.method} is not allowed on @connections")

    # --------------------------------------------------------------- WebSocket
    def _context(
        self,
        route_key: str,
        event_type: str,
        *,
        connection_id: str,
        connected_at: int,
        source_ip: str,
        user_agent: str,
        authorizer: dict[str, Any] | None,
    ) -> dict[str, Any]:
        """``requestContext`` of a WebSocket event, as API Gateway builds it."""
        now = _now_ms()
        request_id = str(uuid.uuid4())
        context: dict[str, Any] = {
            "routeKey": route_key,
            "eventType": event_type,
            "extendedRequestId": request_id,
            "requestTime": datetime.now(UTC).strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "messageDirection": "IN",
            "stage": self.stage,
            "connectedAt": connected_at,
            "requestTimeEpoch": now,
            "identity": {"sourceIp": source_ip, "userAgent": user_agent},
            "requestId": request_id,
            "domainName": f"{self.host}:{self.port}",
            "connectionId": connection_id,
            "apiId": self.api_id,
        }
        if authorizer is not None:
            context["authorizer"] = authorizer
        return context

    def _authorize(self, function: str, event: dict[str, Any]) -> tuple[int, dict[str, Any] | None]:
        """Run the REQUEST authorizer: ``(0, context)`` to accept, ``(status, None)`` to refuse."""
        try:
            result = lambdas.invoke(function, event)
        except Exception as exc:
            if str(exc) == "Unauthorized":
                return 401, None
            log.exception("WebSocket authorizer %s failed", function)
            return 500, None
        statements = ((result or {}).get("policyDocument") or {}).get("Statement") or []
        if not any(s.get("Effect") == "Allow" for s in statements):
            return 403, None
        return 0, {**(result.get("context") or {}), "principalId": result.get("principalId")}

    async def _websocket(self, request: web.Request) -> web.StreamResponse:
        connection_id = secrets.token_urlsafe(12)
        connected_at = _now_ms()
        source_ip = request.remote or "127.0.0.1"
        user_agent = request.headers.get("User-Agent", "")
        peer: Peer = {
            "connection_id": connection_id,
            "connected_at": connected_at,
            "source_ip": source_ip,
            "user_agent": user_agent,
        }
        headers = dict(request.headers)
        query: dict[str, list[str]] = {}
        for key, value in request.query.items():
            query.setdefault(key, []).append(value)
        base = {
            "headers": headers,
            "multiValueHeaders": {k: request.headers.getall(k) for k in request.headers},
            "queryStringParameters": {k: v[-1] for k, v in query.items()} or None,
            "multiValueQueryStringParameters": query or None,
            "stageVariables": None,
        }
        authorizer: dict[str, Any] | None = None
        if registry.WEBSOCKET_AUTHORIZER:
            context = self._context("$connect", "CONNECT", **peer, authorizer=None)
            event = {
                "type": "REQUEST",
                **base,
                "requestContext": context,
                "methodArn": f"arn:aws:execute-api:us-east-1:{handlers.LOCAL_ACCOUNT_ID}:"
                f"{self.api_id}/{self.stage}/$connect",
            }
            status, authorizer = await self._in_thread(self._authorize, registry.WEBSOCKET_AUTHORIZER, event)
            if status:
                refusal = {401: "Unauthorized", 403: "Forbidden"}.get(status, "Internal server error")
                log.info("WS connect refused by the authorizer: %d", status)
                return web.json_response({"message": refusal}, status=status)
        protocols: tuple[str, ...] = ()
        connect = registry.WEBSOCKET_ROUTES.get("$connect")
        if connect:
            context = self._context("$connect", "CONNECT", **peer, authorizer=authorizer)
            event = {**base, "requestContext": context, "isBase64Encoded": False}
            try:
                result = await self._in_thread(lambdas.invoke, connect, event)
            except Exception:
                log.exception("$connect handler %s failed", connect)
                return web.json_response({"message": "Internal server error"}, status=500)
            result = result if isinstance(result, dict) else {}
            status = int(result.get("statusCode", 200))
            if not 200 <= status < 300:
                log.info("WS connect refused by $connect: %d", status)
                return web.Response(status=status, text=result.get("body") or "")
            protocol = {k.lower(): v for k, v in (result.get("headers") or {}).items()}.get(
                "sec-websocket-protocol"
            )
            protocols = (protocol,) if protocol else ()
        ws = web.WebSocketResponse(protocols=protocols, max_msg_size=MAX_POST_BYTES, autoping=True)
        await ws.prepare(request)
        connection = Connection(
            connection_id, ws, connected_at, source_ip, user_agent, request.path, query, authorizer
        )
        self.connections[connection_id] = connection
        log.info("WS %s connected (%s)", connection_id, request.path_qs.split("?", 1)[0])
        try:
            async for message in ws:
                if message.type == WSMsgType.TEXT:
                    await self._on_message(connection, message.data, False)
                elif message.type == WSMsgType.BINARY:
                    await self._on_message(connection, base64.b64encode(message.data).decode(), True)
        finally:
            self.connections.pop(connection_id, None)
            await self._on_disconnect(connection)
        return ws

    def route_key(self, body: str, is_base64: bool) -> str:
        """``$request.body.action`` if it is a configured route, else ``$default``.

        Like API Gateway, a frame that is not a JSON object with a string ``action`` (garbage, a
        list, JSON nested too deep to parse) goes to ``$default``; it never drops the connection.
        """
        if not is_base64:
            try:
                action = json.loads(body).get("action")
            except (ValueError, AttributeError, RecursionError):
                action = None
            if isinstance(action, str) and action in registry.WEBSOCKET_ROUTES:
                return action
        return "$default"

    async def _on_message(self, connection: Connection, body: str, is_base64: bool) -> None:
        connection.last_active_at = _now_ms()
        route = self.route_key(body, is_base64)
        function = registry.WEBSOCKET_ROUTES.get(route)
        if not function:
            return
        context = self._context(route, "MESSAGE", **connection.peer())
        context["messageId"] = secrets.token_urlsafe(9)
        event = {"requestContext": context, "body": body, "isBase64Encoded": is_base64}
        started = time.perf_counter()
        try:
            result = await self._in_thread(lambdas.invoke, function, event)
        except Exception:
            log.exception("WS route %s (%s) failed", route, function)
            reply: str | None = json.dumps(
                {
                    "message": "Internal server error",
                    "connectionId": connection.connection_id,
                    "requestId": context["requestId"],
                }
            )
        else:
            reply = result.get("body") if isinstance(result, dict) else None
        log.info("WS %s %s %.0f ms", connection.connection_id, route, (time.perf_counter() - started) * 1000)
        if reply is not None and not connection.ws.closed:
            async with connection.send_lock:
                with contextlib.suppress(ConnectionError, RuntimeError):
                    await connection.ws.send_str(reply if isinstance(reply, str) else json.dumps(reply))

    async def _on_disconnect(self, connection: Connection) -> None:
        log.info("WS %s disconnected (%s)", connection.connection_id, connection.ws.close_code)
        function = registry.WEBSOCKET_ROUTES.get("$disconnect")
        if not function:
            return
        context = self._context("$disconnect", "DISCONNECT", **connection.peer())
        context["disconnectStatusCode"] = connection.ws.close_code or 1005
        context["disconnectReason"] = ""
        event = {"headers": {}, "requestContext": context, "isBase64Encoded": False}
        try:
            await self._in_thread(lambdas.invoke, function, event)
        except Exception:
            log.exception("$disconnect handler %s failed", function)
