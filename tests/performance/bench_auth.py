"""Authorization cost per request on the local stack: Lambda invocations and latency.

Setup: the whole local stack in this process (:class:`keyframe.local.stack.LocalStack`, as ``make
dev`` runs it: the emulator, the REST gateway, every function in its own execution environments),
on free ports and a temporary state folder. One studio is registered; then, after a warm-up, each
route below is called ``REQUESTS`` times in a row over HTTP with the admin's token. Reported per
route: Lambda invocations per request (counted at ``keyframe.local.lambdas.invoke``, the one door
from the gateway to a function) and the p50 / p95 latency seen by the client.

Paired comparison: with ``BENCH_AUTH_COMPARE=<another checkout>`` (e.g. a worktree of the commit
before issue 15.2, whose REST gateway runs the TOKEN authorizer Lambda and then the handler), that
checkout's ``python -m keyframe.local`` starts too, on its own free ports, and every request goes
to both stacks in turn (alternating which goes first), so both see the same machine load; the
p50 of each and their ratio are printed. The README (Architecture, "Authorization in one
invocation") keeps the figures.

Run: ``python -m tests.performance.bench_auth`` (or ``make bench ONLY=auth``).
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import time
import urllib.request
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

from tests.support.local_stack import start_local_stack

REQUESTS = 200
WARMUP = 20
ROUTES = ("/me", "/projects")


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _call(
    base: str, method: str, path: str, *, token: str | None = None, body: Any = None
) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def _register(base: str) -> str:
    """Register a studio with one project on ``base``; its admin's access token."""
    email = f"bench-{uuid.uuid4().hex[:8]}@example.com"
    status, answer = _call(base, "POST", "/auth/register", body={
        "studioName": "Bench", "email": email, "password": "correct-horse-battery-staple",
        "displayName": "Bench"})  # fmt: skip
    assert status == 201, answer
    token = str(answer["accessToken"])
    status, answer = _call(base, "POST", "/projects", token=token, body={"name": "Bench", "code": "B"})
    assert status == 201, answer
    return token


def _compare(base: str, token: str, checkout: Path) -> None:
    """Alternate every request between this stack and ``checkout``'s; print both p50 and the ratio.

    ``checkout``'s ``python -m keyframe.local`` runs in its own process, on free ports.
    """
    state = Path(tempfile.mkdtemp(prefix="keyframe-bench-auth-other-"))
    stack = start_local_stack(state, log_level=None, checkout=checkout, ready_within=180, poll_seconds=0.5)
    other = stack.http_url.rstrip("/")
    try:
        other_token = _register(other)
        print(f"\npaired with {checkout} (requests alternate; p50 / p95 ms)")
        print(f"{'route':<12} {'this':>16} {'other':>16} {'this/other p50':>15}")
        for route in ROUTES:
            for _ in range(WARMUP):
                _call(base, "GET", route, token=token)
                _call(other, "GET", route, token=other_token)
            mine: list[float] = []
            theirs: list[float] = []
            for i in range(REQUESTS):
                pairs = [(base, token, mine), (other, other_token, theirs)]
                for url, bearer, timings in pairs if i % 2 == 0 else pairs[::-1]:
                    started = time.perf_counter()
                    status, answer = _call(url, "GET", route, token=bearer)
                    timings.append((time.perf_counter() - started) * 1000)
                    assert status == 200, answer
            a, b = statistics.median(mine), statistics.median(theirs)
            print(
                f"{route:<12} {a:>7.1f} / {_percentile(mine, 0.95):>6.1f} "
                f"{b:>7.1f} / {_percentile(theirs, 0.95):>6.1f} {a / b:>15.2f}"
            )
    finally:
        stack.stop(timeout=60)


def main() -> None:
    """Start the stack, register a studio, time the routes, print the table."""
    state = Path(tempfile.mkdtemp(prefix="keyframe-bench-auth-"))
    os.environ.update(
        {"MOTO_PORT": "0", "KEYFRAME_HTTP_PORT": "0", "KEYFRAME_WS_PORT": "0",
         "KEYFRAME_STATE_DIR": str(state), "KEYFRAME_SNAPSHOT_SECONDS": "0"}
    )  # fmt: skip
    from keyframe.local import lambdas
    from keyframe.local.stack import LocalStack, StackConfig

    counts: Counter[str] = Counter()
    real_invoke = lambdas.invoke

    def counting_invoke(name: str, event: dict[str, Any]) -> Any:
        counts[name] += 1
        return real_invoke(name, event)

    lambdas.invoke = counting_invoke  # type: ignore[assignment]
    stack = LocalStack(StackConfig.from_env())
    stack.start()
    try:
        base = stack.urls["api"].rstrip("/")
        token = _register(base)
        print(f"{'route':<12} {'requests':>8} {'invocations/request':>20} {'p50 ms':>8} {'p95 ms':>8}")
        for route in ROUTES:
            for _ in range(WARMUP):
                _call(base, "GET", route, token=token)
            counts.clear()
            timings = []
            for _ in range(REQUESTS):
                started = time.perf_counter()
                status, answer = _call(base, "GET", route, token=token)
                timings.append((time.perf_counter() - started) * 1000)
                assert status == 200, answer
            per_request = sum(counts.values()) / REQUESTS
            detail = ", ".join(f"{name} {n / REQUESTS:g}" for name, n in sorted(counts.items()))
            print(
                f"{route:<12} {REQUESTS:>8} {per_request:>20.2f} {statistics.median(timings):>8.1f} "
                f"{_percentile(timings, 0.95):>8.1f}   ({detail})"
            )
        compare = os.environ.get("BENCH_AUTH_COMPARE")
        if compare:
            _compare(base, token, Path(compare).resolve())
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
