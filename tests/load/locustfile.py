"""A studio's Monday morning, as Locust users against ``make dev`` (or a deployed stage with ``--host``).

Run it with ``make load`` (``python -m tests.load``, which bounds users, time and requests and prints the
report); ``locust -f tests/load/locustfile.py`` works too, with the same options.

Before the run starts (Locust's ``init`` event, so ``--run-time`` counts the load only), one studio
is set up through the public API: an ADMIN, ``--load-members`` members (ARTIST and DIRECTOR), a
project, a few assets each with a small version (a Wavefront OBJ, whose pipeline has no FFmpeg step)
and one short video (2 s, 320x240, made with FFmpeg) that renders are requested from.
``--load-sockets`` listeners open live sockets and subscribe to the project's room. Then the
simulated users arrive:

- :class:`Reviewer` (most users): signs in, refreshes its token now and then, lists and filters the
  assets, opens versions and their comments, posts comments.
- :class:`Uploader` (``KEYFRAME_LOAD_UPLOADERS``, 20 by default, at once): small files through presigned
  multipart parts (open, PUT every part to S3, complete).
- :class:`Renderer` (2): bursts of render requests above the studio's concurrent limit, so some answer
  429 ``RENDER_LIMIT_REACHED`` (expected, counted in the 429 share); accepted ones are cancelled at once.

Every comment the API accepted is an ``asset:commented`` event the listeners must receive: at the end
each listener is given ``--load-drain`` seconds to see every one, and the report counts the events
lost (expected 0). The report (printed, and written as JSON to ``--load-summary``): requests per
second, p50/p95/p99 per endpoint, error rate, server errors (5xx), the 429 share, events expected and
lost, and how long the events took (``eventDelivery``: from posting a comment to its event on each
socket: count, p50, p95, max). Locust's own ``--csv`` and ``--html`` write the
CSV and HTML reports.

Safety: traffic goes to loopback addresses only (the API, the presigned S3 URLs, the socket) unless
``--load-allow-remote`` is given (``make load`` sets it only for an explicit ``--host``); a run stops
at ``--load-max-requests`` requests, and ``make load`` caps users and run time.
"""

from __future__ import annotations

import hashlib
import ipaddress
import itertools
import json
import os
import random
import subprocess
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import gevent
import gevent.event
import gevent.pool
from locust import HttpUser, between, events, task
from locust.env import Environment
from locust.runners import MasterRunner, WorkerRunner

PASSWORD = "load-test-password-1"
ROLES = ("ARTIST", "DIRECTOR")
RENDER_BURST = 6  # above the default MAX_CONCURRENT_RENDERS_PER_STUDIO (4): the rest answer 429


class LoadSetupError(RuntimeError):
    """The studio could not be set up: the load run cannot start."""


# ------------------------------------------------------------------------------------ the guards
def is_loopback(url: str) -> bool:
    """True when ``url``'s host is a loopback name or address (``localhost``, ``127.0.0.0/8``, ``::1``)."""
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_target(environment: Environment, url: str) -> None:
    if not environment.parsed_options.load_allow_remote and not is_loopback(url):
        raise LoadSetupError(f"refusing to send load to {url}: not a loopback address (use --host to allow)")


# ------------------------------------------------------------------------------------ the world
@dataclass
class Member:
    """An account of the studio (users share them: logins and refreshes are per simulated user)."""

    email: str
    role: str
    token: str


@dataclass
class World:
    """What the setup made and what the run saw (shared by every user of this process)."""

    host: str
    project_id: str = ""
    project_room: str = ""
    members: list[Member] = field(default_factory=list)
    versioned: list[str] = field(default_factory=list)  # assets with a READY version 1 (comments)
    upload_assets: list[str] = field(default_factory=list)
    video_asset: str = ""
    video_ready: gevent.event.Event = field(default_factory=gevent.event.Event)
    listeners: list[Listener] = field(default_factory=list)
    posted_at: dict[str, float] = field(default_factory=dict)  # accepted comment id -> when its POST was sent
    lock: threading.Lock = field(default_factory=threading.Lock)
    statuses: dict[int, int] = field(default_factory=dict)
    requests: int = 0
    stopping: bool = False


@dataclass
class _Run:
    """This process's run: its environment and the world the setup made."""

    environment: Environment | None = None
    world: World | None = None


RUN = _Run()


def _call(host: str, method: str, path: str, token: str | None = None, **kwargs: Any) -> Any:
    import requests

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    answer = requests.request(method, f"{host}{path}", headers=headers, timeout=60, **kwargs)
    if answer.status_code >= 300:
        raise LoadSetupError(f"setup: {method} {path} answered {answer.status_code}: {answer.text[:300]}")
    return answer.json() if answer.content else None


def _upload(host: str, token: str, asset_id: str, *, name: str, data: bytes, content_type: str) -> None:
    import requests

    opened = _call(
        host,
        "POST",
        f"/assets/{asset_id}/uploads",
        token,
        json={"fileName": name, "size": len(data), "contentType": content_type},
    )
    parts = []
    for part in opened["parts"]:
        start = (part["partNumber"] - 1) * opened["partSize"]
        put = requests.put(
            part["url"],
            data=data[start : start + opened["partSize"]],
            headers=part.get("headers"),
            timeout=60,
        )
        put.raise_for_status()
        parts.append({"partNumber": part["partNumber"], "etag": put.headers["ETag"]})
    _call(
        host,
        "POST",
        f"/assets/{asset_id}/uploads/{opened['uploadId']}/complete",
        token,
        json={"parts": parts},
    )


def _wait_ready(host: str, token: str, asset_id: str, timeout: float = 120) -> None:
    import requests

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer = requests.get(
            f"{host}/assets/{asset_id}/versions/1", headers={"Authorization": f"Bearer {token}"}, timeout=60
        )
        if answer.status_code == 404:  # not published yet
            gevent.sleep(0.3)
            continue
        if answer.status_code != 200:
            raise LoadSetupError(
                f"setup: version 1 of {asset_id} answered {answer.status_code}: {answer.text}"
            )
        version = answer.json()
        if version["status"] == "READY":
            return
        if version["status"] == "FAILED":
            raise LoadSetupError(f"setup: version 1 of {asset_id} FAILED: {version}")
        gevent.sleep(0.3)
    raise LoadSetupError(f"setup: version 1 of {asset_id} was not READY within {timeout:.0f} s")


def obj_file(label: str) -> bytes:
    """A small valid Wavefront OBJ (a triangle, padded with comments to ~2 KiB): a scene version."""
    return (
        f"# keyframe load test {label}\n" + "# padding\n" * 200 + "v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n"
    ).encode()


def video_file() -> bytes:
    """A 2 s 320x240 H.264 clip made with FFmpeg (the machine's, or the imageio-ffmpeg wheel's)."""
    from keyframe.media.ffmpeg import ffmpeg_exe

    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "clip.mp4"
        subprocess.run(
            [ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=24:duration=2",
             "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(out)],
            check=True, timeout=60,
        )  # fmt: skip
        return out.read_bytes()


def _parallel(call: Any, inputs: list[Any], size: int = 8) -> list[Any]:
    """``[call(x) for x in inputs]`` on a pool of ``size`` greenlets (in order; the first error raises)."""
    return list(gevent.pool.Pool(size).imap(call, inputs))


def set_up(environment: Environment) -> World:
    """Make the studio the users work in (see the module docstring); raises :class:`LoadSetupError`."""
    options = environment.parsed_options
    host = (environment.host or "").rstrip("/")
    _check_target(environment, host)
    world = World(host)
    run = uuid.uuid4().hex[:8]
    registered = _call(
        host,
        "POST",
        "/auth/register",
        json={"studioName": f"Monday {run}", "email": f"load-admin-{run}@example.com", "password": PASSWORD,
              "displayName": "Load Admin"},
    )  # fmt: skip
    admin = registered["accessToken"]

    def join(index: int) -> Member:
        role = ROLES[index % len(ROLES)]
        email = f"load-{run}-{index}@example.com"
        invitation = _call(host, "POST", "/studio/invitations", admin, json={"email": email, "role": role})
        accepted = _call(
            host, "POST", "/auth/accept-invitation",
            json={"token": invitation["token"], "password": PASSWORD, "displayName": f"Member {index}"},
        )  # fmt: skip
        return Member(email, role, accepted["accessToken"])

    jobs = [gevent.spawn(join, i) for i in range(options.load_members)]
    clip = gevent.spawn(video_file)
    project = _call(
        host, "POST", "/projects", admin, json={"name": f"Monday {run}", "code": f"M{run[:5].upper()}"}
    )
    world.project_id, world.project_room = project["id"], f"project:{project['id']}"

    def asset(name: str) -> str:
        body = {
            "projectId": world.project_id,
            "name": name,
            "type": "SHOT" if name.startswith("Shot") else "PROP",
        }
        return str(_call(host, "POST", "/assets", admin, json=body)["id"])

    names = ["Shot 010"] + [f"Prop {i:02d}" for i in range(options.load_assets)]
    names += [f"Upload {i:02d}" for i in range(Uploader.fixed_count)]
    ids = _parallel(asset, names)
    world.video_asset = ids[0]
    world.versioned = ids[1 : 1 + options.load_assets]
    world.upload_assets = ids[1 + options.load_assets :]
    _parallel(
        lambda a: _upload(host, admin, a, name="prop.obj", data=obj_file(a), content_type="model/obj"),
        world.versioned,
    )
    _upload(host, admin, world.video_asset, name="shot010.mp4", data=clip.get(), content_type="video/mp4")
    gevent.joinall(jobs, raise_error=True)
    world.members = [job.value for job in jobs]
    _parallel(lambda a: _wait_ready(host, admin, a), world.versioned)

    def video_ready() -> None:
        _wait_ready(host, admin, world.video_asset)
        world.video_ready.set()

    gevent.spawn(video_ready)  # renders start once it is READY; the rest of the load does not wait

    def listen(index: int) -> Listener:
        member = world.members[index % len(world.members)]
        listener = Listener(environment, host, member.token, world.project_room)
        listener.open()
        return listener

    world.listeners = _parallel(listen, list(range(options.load_sockets)))
    # the morning's first note, posted once every socket listens: a run always has events to deliver
    posted = time.monotonic()
    first = _call(
        host,
        "POST",
        f"/assets/{world.versioned[0]}/versions/1/comments",
        admin,
        json={"body": "Good morning"},
    )
    world.posted_at[str(first["commentId"])] = posted
    return world


# ------------------------------------------------------------------------------------ the sockets
class Listener:
    """A live socket subscribed to the project's room, keeping the ids of the comments it received."""

    def __init__(self, environment: Environment, host: str, token: str, room: str) -> None:
        self.environment, self.host, self.token, self.room = environment, host, token, room
        self.seen_at: dict[str, float] = {}  # comment id -> monotonic time its event arrived
        self.events = 0
        self.closed: str | None = None
        self._ws: Any = None

    def open(self) -> None:
        """Ticket, connect, subscribe (each timed as a request named ``WS …``); then read on a greenlet."""
        from websockets.sync.client import connect

        ticket = self._timed("WS ticket", lambda: _call(self.host, "POST", "/live/tickets", self.token))
        _check_target(self.environment, ticket["url"])
        self._ws = self._timed(
            "WS connect", lambda: connect(ticket["url"], proxy=None, open_timeout=30).__enter__()
        )

        def subscribe() -> dict[str, Any]:
            self._ws.send(json.dumps({"action": "subscribe", "room": self.room, "correlationId": "sub"}))
            while True:
                frame = json.loads(self._ws.recv(timeout=30))
                if frame.get("type") in ("subscribed", "error"):
                    if frame["type"] == "error":
                        raise LoadSetupError(f"subscribe refused: {frame}")
                    return frame

        self._timed("WS subscribe", subscribe)
        gevent.spawn(self._read)

    def _timed(self, name: str, call: Any) -> Any:
        started = time.perf_counter()
        try:
            result = call()
        except Exception as exc:
            self.environment.events.request.fire(
                request_type="WS", name=name, response_time=(time.perf_counter() - started) * 1000,
                response_length=0, exception=exc, context={},
            )  # fmt: skip
            raise
        self.environment.events.request.fire(
            request_type="WS", name=name, response_time=(time.perf_counter() - started) * 1000,
            response_length=0, exception=None, context={},
        )  # fmt: skip
        return result

    def _read(self) -> None:
        try:
            for raw in self._ws:
                frame = json.loads(raw)
                if frame.get("type") == "asset:commented":
                    self.events += 1
                    comment_id = str((frame.get("data") or {}).get("commentId"))
                    self.seen_at.setdefault(comment_id, time.monotonic())
        except Exception as exc:
            self.closed = f"{type(exc).__name__}: {exc}"
        else:
            self.closed = "closed"

    def close(self) -> None:
        """Close the socket."""
        if self._ws is not None:
            self._ws.close()


def events_lost(world: World, drain_seconds: float) -> tuple[int, int]:
    """``(expected, lost)``: deliveries owed to the listeners, and those not received after the drain."""
    deadline = time.monotonic() + drain_seconds
    while True:
        with world.lock:
            expected = set(world.posted_at)
        lost = sum(len(expected - listener.seen_at.keys()) for listener in world.listeners)
        if lost == 0 or time.monotonic() >= deadline:
            return len(expected) * len(world.listeners), lost
        gevent.sleep(0.1)


def delivery_seconds(world: World) -> list[float]:
    """Seconds from posting each accepted comment (its POST sent) to its event on each socket, one per
    delivery received: what a reviewer waits to see a colleague's note, the request's own time
    included (under load the event often arrives before the poster has read the 201)."""
    with world.lock:
        posted = dict(world.posted_at)
    return [
        arrived - posted[comment_id]
        for listener in world.listeners
        for comment_id, arrived in list(listener.seen_at.items())
        if comment_id in posted
    ]


# ------------------------------------------------------------------------------------ the users
class StudioUser(HttpUser):
    """Shared by the simulated users: an account of the studio, signed in on start."""

    abstract = True
    wait_time = between(0.5, 2.0)
    _accounts = itertools.count()

    def on_start(self) -> None:
        """Sign in as one of the studio's members (``POST /auth/login``)."""
        assert RUN.world is not None, "the studio was not set up"
        self.world = RUN.world
        self.member = self.world.members[next(self._accounts) % len(self.world.members)]
        self.token = ""
        self.refresh_token = ""
        answer = self.client.post("/auth/login", json={"email": self.member.email, "password": PASSWORD})
        if answer.status_code == 200:
            self.token, self.refresh_token = answer.json()["accessToken"], answer.json()["refreshToken"]
        else:
            self.token = self.member.token  # the setup's token keeps this user going; the failure is counted

    @property
    def auth(self) -> dict[str, str]:
        """The Authorization header."""
        return {"Authorization": f"Bearer {self.token}"}


class Reviewer(StudioUser):
    """The Monday-morning reader: lists and filters assets, opens versions and comments, comments."""

    weight = 10

    def on_start(self) -> None:
        """Sign in, then note something on a version at once (each run has events to deliver)."""
        super().on_start()
        self.comment()

    @task(6)
    def list_assets(self) -> None:
        """``GET /assets`` by project, then filtered by type or searched by name."""
        params = random.choice(
            [{"projectId": self.world.project_id}, {"projectId": self.world.project_id, "type": "PROP"},
             {"projectId": self.world.project_id, "q": "Prop"}, {"limit": 20}]
        )  # fmt: skip
        self.client.get("/assets", params=params, headers=self.auth, name="/assets")

    @task(4)
    def open_version(self) -> None:
        """``GET /assets/{id}/versions`` and ``…/versions/1``."""
        asset_id = random.choice(self.world.versioned)
        self.client.get(f"/assets/{asset_id}/versions", headers=self.auth, name="/assets/{id}/versions")
        self.client.get(f"/assets/{asset_id}/versions/1", headers=self.auth, name="/assets/{id}/versions/{v}")

    @task(2)
    def read_comments(self) -> None:
        """``GET …/versions/1/comments``."""
        asset_id = random.choice(self.world.versioned)
        self.client.get(
            f"/assets/{asset_id}/versions/1/comments", headers=self.auth,
            name="/assets/{id}/versions/{v}/comments",
        )  # fmt: skip

    @task(2)
    def comment(self) -> None:
        """``POST …/versions/1/comments``: every 201 is an event the listeners must receive."""
        asset_id = random.choice(self.world.versioned)
        body = {"body": f"Monday note {uuid.uuid4().hex[:8]}", "frame": random.randint(0, 47)}
        posted = time.monotonic()
        answer = self.client.post(
            f"/assets/{asset_id}/versions/1/comments", json=body, headers=self.auth,
            name="/assets/{id}/versions/{v}/comments",
        )  # fmt: skip
        if answer.status_code == 201:
            with self.world.lock:
                comment_id = str(answer.json()["commentId"])
                self.world.posted_at[comment_id] = posted

    @task(1)
    def refresh(self) -> None:
        """``POST /auth/refresh``: rotate the refresh token."""
        if not self.refresh_token:
            return
        answer = self.client.post("/auth/refresh", json={"refreshToken": self.refresh_token})
        if answer.status_code == 200:
            self.token, self.refresh_token = answer.json()["accessToken"], answer.json()["refreshToken"]


class Uploader(StudioUser):
    """One of the concurrent uploaders: a small file through presigned parts, again and again."""

    weight = 0
    fixed_count = int(os.environ.get("KEYFRAME_LOAD_UPLOADERS", "20"))
    wait_time = between(1.0, 3.0)

    def on_start(self) -> None:
        """Sign in; each uploader has its own asset (one upload at a time per asset)."""
        super().on_start()
        index = next(Uploader._assets) % len(self.world.upload_assets)
        self.asset_id = self.world.upload_assets[index]

    _assets = itertools.count()

    @task
    def upload(self) -> None:
        """Open, PUT the parts to their presigned URLs, complete (202)."""
        data = obj_file(uuid.uuid4().hex)
        opened = self.client.post(
            f"/assets/{self.asset_id}/uploads", headers=self.auth, name="/assets/{id}/uploads",
            json={"fileName": "prop.obj", "size": len(data), "contentType": "model/obj",
                  "sha256": hashlib.sha256(data).hexdigest()},
        )  # fmt: skip
        if opened.status_code != 201:
            return
        session = opened.json()
        parts = []
        for part in session["parts"]:
            if not is_loopback(part["url"]) and not self._remote_allowed():
                raise LoadSetupError(f"refusing to PUT to {part['url']}: not a loopback address")
            start = (part["partNumber"] - 1) * session["partSize"]
            put = self.client.put(
                part["url"], data=data[start : start + session["partSize"]], headers=part.get("headers"),
                name="S3 presigned part (PUT)",
            )  # fmt: skip
            if put.status_code != 200:
                return
            parts.append({"partNumber": part["partNumber"], "etag": put.headers["ETag"]})
        self.client.post(
            f"/assets/{self.asset_id}/uploads/{session['uploadId']}/complete", json={"parts": parts},
            headers=self.auth, name="/assets/{id}/uploads/{u}/complete",
        )  # fmt: skip

    def _remote_allowed(self) -> bool:
        return bool(self.environment.parsed_options.load_allow_remote)


class Renderer(StudioUser):
    """Bursts of render requests above the studio's limit: some 202 (cancelled at once), some 429."""

    weight = 0
    fixed_count = 2
    wait_time = between(2.0, 4.0)

    @task
    def burst(self) -> None:
        """``POST /assets/{id}/renders`` :data:`RENDER_BURST` times, then ``DELETE /renders/{id}`` of
        the 202s."""
        if not self.world.video_ready.wait(timeout=0):
            return
        accepted = []
        for _ in range(RENDER_BURST):
            with self.client.post(
                f"/assets/{self.world.video_asset}/renders", json={"preset": "filmstrip", "priority": "LOW"},
                headers=self.auth, name="/assets/{id}/renders", catch_response=True,
            ) as answer:  # fmt: skip
                if answer.status_code == 429:
                    answer.success()  # the limit at work: expected, counted in the 429 share
                elif answer.status_code == 202:
                    accepted.append(answer.json()["renderJobId"])
        for job_id in accepted:
            with self.client.delete(
                f"/renders/{job_id}", headers=self.auth, name="/renders/{id}", catch_response=True
            ) as answer:
                if answer.status_code == 409:
                    answer.success()  # it finished before the cancel arrived


# ------------------------------------------------------------------------------------ the events
@events.init_command_line_parser.add_listener
def _options(parser: Any) -> None:
    group = parser.add_argument_group("Keyframe Monday morning")
    group.add_argument("--load-members", type=int, default=8, help="studio accounts the users share")
    group.add_argument("--load-assets", type=int, default=6, help="assets with a version to read and comment")
    group.add_argument("--load-sockets", type=int, default=20, help="live sockets listening for events")
    group.add_argument("--load-max-requests", type=int, default=50_000, help="stop after this many requests")
    group.add_argument("--load-drain", type=float, default=10.0, help="seconds the sockets get to catch up")
    group.add_argument("--load-summary", default="", help="write the report as JSON to this file")
    group.add_argument("--load-allow-remote", action="store_true", help="allow a non-loopback --host")


@events.init.add_listener
def _init(environment: Environment, **_: Any) -> None:
    """Set the studio up before the run starts (so ``--run-time`` counts the load only)."""
    if isinstance(environment.runner, (MasterRunner, WorkerRunner)):
        raise LoadSetupError("the Monday-morning load runs in one process (no --master/--worker)")
    RUN.environment = environment
    if environment.parsed_options is None or not environment.host:
        return  # the web UI without a host: nothing to set up against yet
    started = time.perf_counter()
    RUN.world = set_up(environment)
    print(f"studio set up in {time.perf_counter() - started:.1f} s", flush=True)


@events.request.add_listener
def _request(response: Any = None, **_: Any) -> None:
    world = RUN.world
    if world is None:
        return
    with world.lock:
        world.requests += 1
        if response is not None and getattr(response, "status_code", None):
            world.statuses[response.status_code] = world.statuses.get(response.status_code, 0) + 1
        over = world.requests >= world_limit() and not world.stopping
        if over:
            world.stopping = True
    if over and RUN.environment is not None and RUN.environment.runner is not None:
        gevent.spawn(RUN.environment.runner.quit)


def world_limit() -> int:
    """The request bound of this run (``--load-max-requests``)."""
    return int(RUN.environment.parsed_options.load_max_requests) if RUN.environment else 1 << 62


@events.quitting.add_listener
def _report(environment: Environment, **_: Any) -> None:
    world = RUN.world
    if world is None:
        return
    expected, lost = events_lost(world, environment.parsed_options.load_drain)
    summary = build_summary(environment, world, expected, lost)
    for listener in world.listeners:
        listener.close()
    print(format_summary(summary), flush=True)
    if environment.parsed_options.load_summary:
        Path(environment.parsed_options.load_summary).write_text(json.dumps(summary, indent=2))


def build_summary(environment: Environment, world: World, expected: int, lost: int) -> dict[str, Any]:
    """The report as a JSON-able dict: totals, per-endpoint figures, statuses, events."""
    stats = environment.stats
    total = stats.total
    with world.lock:
        statuses = dict(world.statuses)
    requests_sent = sum(statuses.values()) or total.num_requests
    endpoints = [
        {
            "method": entry.method,
            "name": entry.name,
            "requests": entry.num_requests,
            "failures": entry.num_failures,
            "rps": round(entry.total_rps, 2),
            "p50": entry.get_response_time_percentile(0.5),
            "p95": entry.get_response_time_percentile(0.95),
            "p99": entry.get_response_time_percentile(0.99),
        }
        for entry in sorted(stats.entries.values(), key=lambda e: (e.name, e.method))
    ]
    return {
        "host": world.host,
        "users": environment.parsed_options.num_users,
        "requests": total.num_requests,
        "failures": total.num_failures,
        "rps": round(total.total_rps, 2),
        "p50": total.get_response_time_percentile(0.5),
        "p95": total.get_response_time_percentile(0.95),
        "p99": total.get_response_time_percentile(0.99),
        "errorRate": round(total.num_failures / total.num_requests, 4) if total.num_requests else 0.0,
        "serverErrors": sum(n for status, n in statuses.items() if status >= 500),
        "share429": round(statuses.get(429, 0) / requests_sent, 4) if requests_sent else 0.0,
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "eventsExpected": expected,
        "eventsLost": lost,
        "eventDelivery": _delivery(delivery_seconds(world)),
        "socketsClosedEarly": sum(1 for listener in world.listeners if listener.closed),
        "endpoints": endpoints,
        "errors": [
            {"method": e.method, "name": e.name, "error": str(e.error), "count": e.occurrences}
            for e in stats.errors.values()
        ][:20],
    }


def _delivery(seconds: list[float]) -> dict[str, Any]:
    """``count`` deliveries and their p50, p95 and max in ms (``None`` without any)."""
    if not seconds:
        return {"count": 0, "p50": None, "p95": None, "max": None}
    ordered = sorted(seconds)

    def at(share: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000, 1)

    return {"count": len(ordered), "p50": at(0.5), "p95": at(0.95), "max": round(ordered[-1] * 1000, 1)}


def format_summary(summary: dict[str, Any]) -> str:
    """The report as text: one line per endpoint, then the totals."""
    lines = [
        "",
        "Monday morning at " + summary["host"],
        f"{'endpoint':<52} {'reqs':>6} {'fail':>5} {'rps':>7} {'p50':>6} {'p95':>6} {'p99':>6}  (ms)",
    ]
    for e in summary["endpoints"]:
        lines.append(
            f"{(e['method'] + ' ' + e['name'])[:52]:<52} {e['requests']:>6} {e['failures']:>5}"
            f" {e['rps']:>7.1f} {e['p50']:>6.0f} {e['p95']:>6.0f} {e['p99']:>6.0f}"
        )
    lines += [
        f"{'total':<52} {summary['requests']:>6} {summary['failures']:>5} {summary['rps']:>7.1f}"
        f" {summary['p50']:>6.0f} {summary['p95']:>6.0f} {summary['p99']:>6.0f}",
        f"error rate {summary['errorRate']:.2%} | server errors (5xx) {summary['serverErrors']}"
        f" | 429 share {summary['share429']:.2%} | statuses {summary['statuses']}",
        f"events: {summary['eventsExpected']} deliveries expected, {summary['eventsLost']} lost"
        f" | sockets closed early: {summary['socketsClosedEarly']}",
    ]
    delivery = summary["eventDelivery"]
    if delivery["count"]:
        lines.append(
            f"event delivery (a comment posted to its event on a socket): {delivery['count']} deliveries,"
            f" p50 {delivery['p50']:.0f} ms, p95 {delivery['p95']:.0f} ms, max {delivery['max']:.0f} ms"
        )
    for error in summary["errors"]:
        lines.append(f"  {error['count']}x {error['method']} {error['name']}: {error['error'][:160]}")
    return "\n".join(lines)
