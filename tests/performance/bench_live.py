"""Live fan-out: latency from ``deliver()`` to the clients of one room, parallel against sequential.

Setup: moto server (the live and tenants tables) and the fan-out in this process; in a child
process (as API Gateway and the browsers are not inside the Lambda), the local WebSocket gateway
(:class:`keyframe.local.websocket.WebSocketGateway`, whose ``@connections`` API the fan-out posts to)
and N real WebSocket clients (one asyncio loop) that connected through the real ``$connect``
authorizer with tickets; their connections are put in one asset room. Each round hands one
envelope to :func:`keyframe.live.fanout.deliver` and records when every client receives it.
Reported for N = 100 and 500: the p50 / p95 latency of a client's receipt and the time
``deliver()`` takes, with the bounded pool (``LIVE_FANOUT_WORKERS``, 16) and with one worker
(sequential posting), and their ratio; then the same rounds posting through boto3's
``post_to_connection`` (the fan-out before issue 15.4) as the baseline of
:class:`keyframe.live.posting.ConnectionPoster` (target: p95 <= 1 s for 500 sockets).

The local gateway answers a post in well under a millisecond, so there the fan-out is bound by
botocore's CPU per call (about 1-2 ms) and the pool cannot win much. The same rounds then run
against a local ``@connections`` fake that takes 2 ms per post, closer to API Gateway's latency
(measured at the fake), which shows what the bounded pool buys when posting waits on the network.
Without aiohttp only the fake runs.

Run: ``python -m tests.performance.bench_live`` (or ``make bench ONLY=live``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import multiprocessing
import os
import statistics
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3

SIZES = (100, 500)
ROUNDS = {100: 15, 500: 6}
FAKE_POST_SECONDS = 0.002
TICKET_CHUNK = 50
STUDIO = "bench-studio"
ROOM = "asset:bench-asset"


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


@contextlib.contextmanager
def _environment(**values: str) -> Iterator[None]:
    previous = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextlib.contextmanager
def _moto() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    from keyframe.storage.tables import create_tables
    from tests.support.environment import TEST_STAGE

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        with _environment(AWS_ENDPOINT_URL=endpoint):
            create_tables(boto3.client("dynamodb", endpoint_url=endpoint), TEST_STAGE)
            yield endpoint
    finally:
        server.stop()


def _reset_clients() -> None:
    from pynamodb.models import Model

    from keyframe import settings
    from keyframe.live import fanout

    settings.reset()
    fanout._poster.cache_clear()
    stack = list(Model.__subclasses__())
    while stack:
        cls = stack.pop()
        cls._connection = None
        stack.extend(cls.__subclasses__())


# --- the clients (one asyncio loop on a thread) -------------------------------------------------


class Clients:
    """N WebSocket clients; ``arrivals[marker]`` collects ``perf_counter()`` of each receipt."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.sockets: list[Any] = []
        self.arrivals: dict[str, list[float]] = {}
        self.lock = threading.Lock()

    def _run(self, coroutine: Any, timeout: float = 300) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    async def _reader(self, ws: Any) -> None:
        with contextlib.suppress(Exception):
            async for raw in ws:
                now = time.perf_counter()
                marker = json.loads(raw).get("data", {}).get("marker")
                if marker:
                    with self.lock:
                        self.arrivals.setdefault(marker, []).append(now)

    async def _open(self, urls: list[str]) -> None:
        from websockets.asyncio.client import connect

        semaphore = asyncio.Semaphore(16)

        async def one(url: str) -> None:
            async with semaphore:
                ws = await connect(url, proxy=None, open_timeout=30, max_queue=None)
            self.sockets.append(ws)
            self.loop.create_task(self._reader(ws))

        await asyncio.gather(*(one(url) for url in urls))

    def open(self, urls: list[str]) -> None:
        """Connect to every URL (16 handshakes at a time)."""
        self._run(self._open(urls))

    async def _close(self) -> None:
        await asyncio.gather(*(ws.close() for ws in self.sockets), return_exceptions=True)

    def close(self) -> None:
        """Close every socket and stop the loop."""
        self._run(self._close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)

    def wait(self, marker: str, count: int, timeout: float = 60) -> list[float]:
        """The receipt times of ``marker`` once ``count`` clients have it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                got = list(self.arrivals.get(marker, []))
            if len(got) >= count:
                return got
            time.sleep(0.002)
        raise TimeoutError(f"{marker}: {len(got)} of {count} clients received it")


def _rounds(size: int, arrivals_of: Any, workers: int) -> dict[str, float]:
    from keyframe import settings
    from keyframe.live import fanout

    latencies: list[float] = []
    durations: list[float] = []
    with _environment(LIVE_FANOUT_WORKERS=str(workers)):
        settings.reset()
        for round_number in range(ROUNDS[size]):
            marker = f"{size}-{workers}-{round_number}-{uuid.uuid4().hex[:6]}"
            envelope = {
                "type": "render:progress",
                "room": ROOM,
                "seq": round_number + 1,
                "ts": "2026-01-01T00:00:00Z",
                "correlationId": marker,
                "data": {"marker": marker, "percent": round_number},
            }
            started = time.perf_counter()
            fanout.deliver(STUDIO, [envelope])
            durations.append(time.perf_counter() - started)
            latencies.extend(t - started for t in arrivals_of(marker, size))
    settings.reset()
    return {
        "p50": statistics.median(latencies) * 1000,
        "p95": _percentile(latencies, 0.95) * 1000,
        "deliver": statistics.median(durations) * 1000,
    }


def _report(size: int, parallel: dict[str, float], sequential: dict[str, float], where: str) -> None:
    print(
        f"{size:>4} connections ({where}): parallel p50 {parallel['p50']:7.1f} ms"
        f"  p95 {parallel['p95']:7.1f} ms"
        f"  deliver {parallel['deliver']:7.1f} ms | sequential p50 {sequential['p50']:7.1f} ms"
        f"  p95 {sequential['p95']:7.1f} ms  deliver {sequential['deliver']:7.1f} ms"
        f" | sequential/parallel deliver time: {sequential['deliver'] / parallel['deliver']:.1f}x",
        flush=True,
    )


class _BotocorePoster:
    """The fan-out's posting before issue 15.4: boto3's ``post_to_connection`` (the baseline)."""

    def __init__(self) -> None:
        from keyframe.live import fanout

        self.client = fanout.management_client()

    def post(self, connection_id: str, payload: bytes) -> None:
        from botocore.exceptions import ClientError

        from keyframe.live import fanout
        from keyframe.live.posting import Gone

        try:
            self.client.post_to_connection(ConnectionId=connection_id, Data=payload)
        except ClientError as exc:
            if fanout.is_gone(exc):
                raise Gone(connection_id) from exc


@contextlib.contextmanager
def _botocore_posts() -> Iterator[None]:
    from keyframe.live import fanout

    real = fanout.connection_poster
    poster = _BotocorePoster()
    fanout.connection_poster = lambda: poster  # type: ignore[assignment]
    try:
        yield
    finally:
        fanout.connection_poster = real  # type: ignore[assignment]


def _report_baseline(size: int, now: dict[str, float], before: dict[str, float]) -> None:
    print(
        f"{size:>4} connections (local WebSocket gateway): p95 {now['p95']:7.1f} ms with signed posts on a"
        f" kept-alive pool vs {before['p95']:7.1f} ms through boto3's post_to_connection (16 workers both)"
        f" | deliver {now['deliver']:7.1f} vs {before['deliver']:7.1f} ms:"
        f" {before['deliver'] / now['deliver']:.2f}x"
        f" | target p95 <= 1000 ms at 500: {'met' if now['p95'] <= 1000 else 'NOT met'}",
        flush=True,
    )


def _gateway_process(channel: Any) -> None:
    """The child process: the gateway and the clients, driven by commands from the parent."""
    from keyframe.local.websocket import WebSocketGateway

    logging.getLogger("asyncio").setLevel(logging.CRITICAL)
    logging.getLogger("keyframe").setLevel(logging.ERROR)
    gateway = WebSocketGateway(port=0, workers=8)
    gateway.start()
    clients = Clients()
    channel.send((gateway.url, gateway.connections_url))
    while True:
        command, argument = channel.recv()
        if command == "connect":
            before = set(gateway.connections)
            clients.open(argument)
            channel.send(sorted(set(gateway.connections) - before))
        elif command == "arrivals":
            channel.send(clients.wait(*argument))
        else:
            clients.close()
            deadline = time.monotonic() + 60  # let the gateway run the (now empty) $disconnect of each
            while gateway.connections and time.monotonic() < deadline:
                time.sleep(0.1)
            time.sleep(1)
            gateway.stop()
            channel.send("stopped")
            return


def _with_gateway() -> None:
    """Gateway and clients in a child process (as API Gateway and browsers are not in the Lambda)."""
    from keyframe.identity.models import MembershipItem
    from keyframe.identity.permissions import Principal, Role
    from keyframe.live import connections, tickets

    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    process = context.Process(target=_gateway_process, args=(child,), daemon=True)
    process.start()
    url, connections_url = parent.recv()

    def arrivals_of(marker: str, count: int) -> list[float]:
        parent.send(("arrivals", (marker, count)))
        return list(parent.recv())

    opened: list[str] = []
    try:
        with _environment(LIVE_CONNECTIONS_ENDPOINT=connections_url):
            _reset_clients()
            principal = Principal(STUDIO, f"bench-user-{uuid.uuid4().hex[:6]}", Role.VIEWER)
            MembershipItem.new(STUDIO, principal.user_id, Role.VIEWER.value, "2026-01-01T00:00:00Z").save()
            for size in SIZES:
                while len(opened) < size:  # tickets live 60 s: issue each chunk just before it connects
                    count = min(TICKET_CHUNK, size - len(opened))
                    parent.send(
                        ("connect", [f"{url}?ticket={tickets.issue(principal).ticket}" for _ in range(count)])
                    )
                    for connection_id in parent.recv():
                        opened.append(connection_id)
                        record = connections.get_connection(connection_id)
                        if record is not None:  # joined directly: no presence:join storm while setting up
                            connections.join_room(record, ROOM)
                parallel = _rounds(size, arrivals_of, 16)
                sequential = _rounds(size, arrivals_of, 1)
                _report(size, parallel, sequential, "local WebSocket gateway, real clients")
                with _botocore_posts():
                    before = _rounds(size, arrivals_of, 16)
                _report_baseline(size, parallel, before)
    finally:
        _forget_connections(opened)
        parent.send(("stop", None))
        with contextlib.suppress(EOFError):
            parent.recv()
        process.join(30)


def _forget_connections(connection_ids: list[str]) -> None:
    """Drop the records first, so closing N clients does not announce N presence:leave to N - 1."""
    from keyframe.live import connections

    for connection_id in connection_ids:
        with contextlib.suppress(Exception):
            connections.close_connection(connection_id)


class _FakeConnections(BaseHTTPRequestHandler):
    """``POST /@connections/{id}``: sleep like API Gateway, record the receipt time (keep-alive)."""

    protocol_version = "HTTP/1.1"
    arrivals: dict[str, list[float]] = {}
    lock = threading.Lock()

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        time.sleep(FAKE_POST_SECONDS)
        marker = json.loads(body).get("data", {}).get("marker")
        with self.lock:
            self.arrivals.setdefault(marker, []).append(time.perf_counter())
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        """Quiet."""


def _with_fake() -> None:
    from keyframe.identity.permissions import Principal, Role
    from keyframe.live import connections

    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeConnections)
    threading.Thread(target=server.serve_forever, daemon=True).start()

    def arrivals_of(marker: str, count: int) -> list[float]:
        with _FakeConnections.lock:
            return list(_FakeConnections.arrivals.get(marker, []))

    try:
        endpoint = f"http://127.0.0.1:{server.server_address[1]}"
        with _environment(LIVE_CONNECTIONS_ENDPOINT=endpoint):
            _reset_clients()
            principal = Principal(STUDIO, "bench-user", Role.VIEWER)
            connected = 0
            for size in SIZES:
                for _ in range(size - connected):
                    record = connections.open_connection(uuid.uuid4().hex[:12] + "=", principal)
                    connections.join_room(record, ROOM)
                connected = size
                _report(
                    size,
                    _rounds(size, arrivals_of, 16),
                    _rounds(size, arrivals_of, 1),
                    "fake @connections, 2 ms",
                )
    finally:
        server.shutdown()


def main() -> None:
    """Print fan-out latency for 100 and 500 connections in one room, parallel and sequential."""
    logging.getLogger("keyframe").setLevel(logging.ERROR)
    logging.getLogger("asyncio").setLevel(logging.CRITICAL)
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "ERROR")
    with _moto():
        try:
            import aiohttp  # noqa: F401  (the gateway's server)
        except ImportError:
            print("the local WebSocket gateway cannot run here (no aiohttp)", flush=True)
        else:
            _with_gateway()
    with _moto():
        _with_fake()


if __name__ == "__main__":
    from tests.support import environment

    environment.apply()
    main()
