"""The outbox on the local stack: events per second from the catalog table's stream to a socket, and
the delivery lag p50 / p95 from the change's commit to the event reaching the socket (issue 13).

Setup: the local stack (``python -m keyframe.local`` on free ports, as ``make dev`` runs it, with its
stream poller); a studio registered over HTTP and one real WebSocket client subscribed to the studio
room. Each event is an outbox item ``project:updated`` for the studio room written into the
emulator's catalog table (what a committed change leaves when its inline publish never happened, as
in ``tests/e2e/test_outbox.py``), so every event travels the outbox path: the stream poller,
``outbox-stream``, the room log and the fan-out to the socket. The commit time is when the
``PutItem`` returns; the arrival time is when the client reads the frame.

1. **Paced**: ``PACED`` events, one every ``PACE_SECONDS``: the delivery lag of a quiet studio.
2. **Burst**: ``BURST`` events written back to back: events per second through the outbox (first
   commit to last arrival) against the rate the events were written (the baseline, same run), and
   the lag under that load.

Run: ``python -m tests.performance.bench_outbox`` (or ``make bench ONLY=outbox``).
"""

from __future__ import annotations

import json
import statistics
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import requests
from boto3.dynamodb.types import TypeSerializer

from tests.support.local_stack import LocalStackProcess, start_local_stack

PACED = 40
PACE_SECONDS = 0.25
BURST = 300
START_TIMEOUT = 120
_serialize = TypeSerializer().serialize


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


class Socket:
    """One WebSocket client subscribed to the studio room; ``arrivals[marker]`` = perf_counter()."""

    def __init__(self, url: str) -> None:
        from websockets.sync.client import connect

        self.ws = connect(url, proxy=None, open_timeout=30).__enter__()
        self.ws.send(json.dumps({"action": "subscribe", "room": "studio"}))
        while json.loads(self.ws.recv(timeout=30)).get("type") != "subscribed":
            pass
        self.arrivals: dict[str, float] = {}
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        try:
            for raw in self.ws:
                now = time.perf_counter()
                frame = json.loads(raw)
                marker = (frame.get("data") or {}).get("projectId")
                if marker and "seq" in frame:
                    self.arrivals.setdefault(marker, now)
        except Exception:
            return

    def wait(self, markers: list[str], timeout: float = 120) -> None:
        """Until every marker has arrived (TimeoutError naming how many did)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(m in self.arrivals for m in markers):
                return
            time.sleep(0.01)
        got = sum(m in self.arrivals for m in markers)
        raise TimeoutError(f"{got} of {len(markers)} events reached the socket")


def _store(client: Any, table: str, studio_id: str, marker: str) -> float:
    """Put one outbox item (as a committed change leaves it); the perf_counter() of its commit."""
    event_id = f"evt_{uuid.uuid4().hex}"
    micros = time.time_ns() // 1000 % 1_000_000
    occurred = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + f".{micros:06d}Z"
    item = {
        "pk": f"STUDIO#{studio_id}#OUTBOX", "sk": f"{occurred}#{event_id}", "recordType": "event",
        "eventId": event_id, "type": "project:updated", "studioId": studio_id, "occurredAt": occurred,
        "subject": f"project/{marker}", "data": json.dumps({"projectId": marker}), "rooms": ["studio"],
        "ttl": int(time.time()) + 3600,
    }  # fmt: skip
    client.put_item(TableName=table, Item={k: _serialize(v) for k, v in item.items()})
    return time.perf_counter()


def _lags(socket: Socket, commits: dict[str, float]) -> list[float]:
    return [(socket.arrivals[m] - t) * 1000 for m, t in commits.items()]


def _run(stack: LocalStackProcess) -> None:
    http = requests.Session()
    email = f"bench-{uuid.uuid4().hex[:10]}@example.com"
    body = {"studioName": "Bench Outbox", "email": email, "password": "correct-horse-battery-staple",
            "displayName": "Bench"}  # fmt: skip
    answer = http.post(f"{stack.http_url}/auth/register", json=body, timeout=30)
    answer.raise_for_status()
    token, studio_id = answer.json()["accessToken"], answer.json()["studio"]["studioId"]
    ticket = http.post(
        f"{stack.http_url}/live/tickets", headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    ticket.raise_for_status()
    socket = Socket(ticket.json()["url"])
    client, table = stack.client("dynamodb"), stack.env["CATALOG_TABLE"]
    try:
        paced: dict[str, float] = {}
        for number in range(PACED):
            marker = f"paced-{number}"
            paced[marker] = _store(client, table, studio_id, marker)
            time.sleep(PACE_SECONDS)
        socket.wait(list(paced))
        lags = _lags(socket, paced)
        print(f"paced ({PACED} events, one every {PACE_SECONDS} s): lag p50 {statistics.median(lags):7.1f} ms"
              f"  p95 {_percentile(lags, 0.95):7.1f} ms", flush=True)  # fmt: skip
        burst: dict[str, float] = {}
        started = time.perf_counter()
        for number in range(BURST):
            marker = f"burst-{number}"
            burst[marker] = _store(client, table, studio_id, marker)
        written = time.perf_counter() - started
        socket.wait(list(burst))
        through = max(socket.arrivals[m] for m in burst) - started
        lags = _lags(socket, burst)
        print(
            f"burst ({BURST} events back to back): {BURST / through:6.1f} events/s through the outbox"
            f" vs {BURST / written:6.1f} events/s written (baseline): {written / through:.2f}x"
            f" | lag p50 {statistics.median(lags):7.1f} ms  p95 {_percentile(lags, 0.95):7.1f} ms",
            flush=True,
        )
    finally:
        socket.ws.close()


def main() -> None:
    """Start the local stack, print paced lag and burst throughput/lag, stop the stack."""
    with tempfile.TemporaryDirectory(prefix="bench-outbox-") as name:
        stack = start_local_stack(Path(name), log_level="ERROR", ready_within=START_TIMEOUT)
        try:
            _run(stack)
        finally:
            stack.stop()


if __name__ == "__main__":
    main()
