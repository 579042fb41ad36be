"""``make demo`` / ``keyframe demo``: a studio's day against a running local stack, as a front end plays it.

Everything goes through the public API only: REST over HTTP (``requests``, through
:class:`~keyframe.cli.client.ApiClient`) and the live review socket (``websockets``), the way a
browser or the ``keyframe`` command would. The day:

1. a producer registers a studio (unique names and e-mails per run) and invites a director and an
   artist, who accept;
2. the producer creates a project; the artist creates a character, its rig and a shot, says that the
   shot uses the character and the character uses the rig, and asks for the rig's impact set;
3. the director and the artist open sockets (``POST /live/tickets``) and join the shot's room;
4. the artist uploads a clip (a 720p FFmpeg test pattern with a tone, or ``--file``) with the code
   of ``keyframe upload``; the director's socket shows ``pipeline:update`` until the version is READY;
5. the artist requests an HLS render; the director's socket shows ``render:status`` and
   ``render:progress`` until SUCCEEDED;
6. the director comments at a frame over the socket and the artist sees it live; the artist's
   approval is refused (``FORBIDDEN``); the director approves and the artist sees it;
7. the playback link is checked (HTTP 200, a master playlist starting with ``#EXTM3U``) and the
   studio's activity log is printed, newest first.

Each step is one line with the seconds since the start. Where the API lives: ``--api URL``, else the
``urls.api`` of the running stack's ``local-stack.json`` (``--stack-file``, default
``$KEYFRAME_STATE_DIR/local-stack.json``, else ``.keyframe/local-stack.json`` in the current folder
or the checkout), else ``KEYFRAME_API``, else ``http://127.0.0.1:3000``.

Exit codes: 0 the day went through, 1 a step failed (the API's message and correlation id are
printed), 2 no stack answers or bad usage (``--file`` missing), 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import requests
from tqdm import tqdm
from websockets.exceptions import WebSocketException
from websockets.sync.client import ClientConnection, connect

from keyframe.cli import upload
from keyframe.cli.client import ApiClient, ApiError
from keyframe.registry import REPO_ROOT

DEFAULT_API = "http://127.0.0.1:3000"
EXIT_OK, EXIT_FAILED, EXIT_NO_STACK, EXIT_INTERRUPTED = 0, 1, 2, 130
PASSWORD = "keyframe-demo-password"
DEFAULT_SECONDS = 3.0
DEFAULT_TIMEOUT = 180.0
"""Seconds to wait for the pipeline, and again for the render."""
PIPELINE_ACTIVE = frozenset({"PENDING", "RUNNING"})
REPLY_TYPES = frozenset({"subscribed", "unsubscribed", "ack", "pong", "error"})
FRAME = 1013
"""The frame the director comments at (the project starts at 1001, so timecode 00:00:00:12)."""


class DemoFailed(Exception):
    """A step did not go as a user would expect (what went wrong, with the API's code when known)."""

    def __init__(self, message: str, code: str | None = None, correlation_id: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.correlation_id = correlation_id


# ---------------------------------------------------------------- output


class Narrator:
    """Prints one line per step, prefixed with the seconds since the start (thread-safe)."""

    def __init__(self, stream: IO[str], clock: Callable[[], float] = time.monotonic) -> None:
        self.stream = stream
        self.clock = clock
        self.started = clock()
        self._lock = threading.Lock()

    def elapsed(self) -> float:
        """Seconds since the start."""
        return self.clock() - self.started

    def say(self, text: str) -> None:
        """Print ``[  12.3s] text``."""
        with self._lock:
            print(f"[{self.elapsed():6.1f}s] {text}", file=self.stream, flush=True)

    def plain(self, text: str) -> None:
        """Print ``text`` as it is."""
        with self._lock:
            print(text, file=self.stream, flush=True)


# ---------------------------------------------------------------- REST


class CallFailed(ApiError):
    """An :class:`ApiError` that also names the call and the ``correlationId`` the API answered."""

    def __init__(self, error: ApiError, call: str, correlation_id: str | None) -> None:
        super().__init__(error.status, error.code, error.message, error.details)
        self.call = call
        self.correlation_id = correlation_id


class DemoApi(ApiClient):
    """:class:`ApiClient` whose errors are :class:`CallFailed` (with the correlation id)."""

    def __init__(self, base_url: str, token: str | None = None) -> None:
        super().__init__(base_url, token)
        self._last = threading.local()

    def _send(self, method: str, path: str, body: Any, params: dict[str, Any] | None) -> requests.Response:
        response = super()._send(method, path, body, params)
        self._last.response = response
        return response

    def request(self, method: str, path: str, body: Any = None, params: dict[str, Any] | None = None) -> Any:
        """Like :meth:`ApiClient.request`.

        Raises
        ------
        CallFailed
            Any non-2xx answer, or no answer at all (``status`` 0).
        """
        self._last.response = None
        try:
            return super().request(method, path, body, params)
        except ApiError as exc:
            correlation_id = correlation_id_of(getattr(self._last, "response", None))
            raise CallFailed(exc, f"{method} {path}", correlation_id) from exc

    def put(self, path: str, body: Any = None) -> Any:
        """PUT ``path`` with a JSON body."""
        return self.request("PUT", path, body)


def correlation_id_of(response: requests.Response | None) -> str | None:
    """The correlation id of an answer: from the error body, else the ``X-Correlation-Id`` header."""
    if response is None:
        return None
    try:
        error = response.json().get("error") or {}
    except (ValueError, AttributeError):
        error = {}
    return error.get("correlationId") or response.headers.get("X-Correlation-Id")


@dataclass
class Member:
    """A person of the demo studio, signed in."""

    name: str
    role: str
    email: str
    user_id: str
    api: DemoApi


def _member(base_url: str, name: str, email: str, answer: dict[str, Any]) -> Member:
    return Member(
        name, answer["role"], email, answer["user"]["userId"], DemoApi(base_url, answer["accessToken"])
    )


# ---------------------------------------------------------------- the live socket


@dataclass
class LiveSocket:
    """A member's live review socket: a reader thread keeps room events, replies answer :meth:`send`.

    ``on_event(envelope)`` is called from the reader thread for every room event (frames with ``seq``).
    """

    owner: str
    url: str
    on_event: Callable[[dict[str, Any]], None]
    events: list[dict[str, Any]] = field(default_factory=list)
    _ws: ClientConnection | None = None
    _replies: dict[str, dict[str, Any]] = field(default_factory=dict)
    _changed: threading.Condition = field(default_factory=threading.Condition)
    _reader: threading.Thread | None = None
    _closed: str | None = None

    def open(self) -> LiveSocket:
        """Connect (the ticket in the URL is consumed) and start reading."""
        self._ws = connect(self.url, proxy=None, open_timeout=10, close_timeout=2)
        self._reader = threading.Thread(target=self._read, name=f"live-{self.owner}", daemon=True)
        self._reader.start()
        return self

    def _read(self) -> None:
        assert self._ws is not None
        try:
            for raw in self._ws:
                frame = json.loads(raw)
                with self._changed:
                    if "seq" in frame:
                        self.events.append(frame)
                    elif frame.get("type") in REPLY_TYPES:
                        key = frame.get("correlationId") or (frame.get("data") or {}).get("correlationId")
                        self._replies[str(key)] = frame
                    self._changed.notify_all()
                if "seq" in frame:
                    self.on_event(frame)
        except Exception as exc:  # closed, network, bad JSON, or a printing bug: waits then fail fast
            reason = f"{type(exc).__name__}: {exc}"
        else:
            reason = "closed"
        with self._changed:
            self._closed = reason
            self._changed.notify_all()

    def send(self, action: str, timeout: float = 15.0, **fields: Any) -> dict[str, Any]:
        """Send ``{"action", "correlationId", **fields}``; returns the reply frame (``ack``, ``error`` …).

        Raises
        ------
        DemoFailed
            No reply within ``timeout`` seconds, or the socket closed.
        """
        assert self._ws is not None
        correlation_id = f"demo-{uuid.uuid4().hex[:12]}"
        self._ws.send(json.dumps({"action": action, "correlationId": correlation_id, **fields}))
        deadline = time.monotonic() + timeout
        with self._changed:
            while correlation_id not in self._replies:
                left = deadline - time.monotonic()
                if self._closed or left <= 0:
                    why = (
                        f"the socket closed ({self._closed})"
                        if self._closed
                        else f"no reply in {timeout:.0f} s"
                    )
                    raise DemoFailed(
                        f"{self.owner}'s '{action}' got no answer: {why}", correlation_id=correlation_id
                    )
                self._changed.wait(left)
            return self._replies.pop(correlation_id)

    def wait_for(
        self, predicate: Callable[[dict[str, Any]], bool], timeout: float, what: str
    ) -> dict[str, Any]:
        """The first event received (already or within ``timeout`` seconds) matching ``predicate``.

        Raises
        ------
        DemoFailed
            Nothing matched in time, or the socket closed.
        """
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for event in self.events:
                    if predicate(event):
                        return event
                left = deadline - time.monotonic()
                if self._closed or left <= 0:
                    why = (
                        f"the socket closed ({self._closed})"
                        if self._closed
                        else f"not within {timeout:.0f} s"
                    )
                    raise DemoFailed(f"{self.owner}'s socket did not see {what}: {why}")
                self._changed.wait(left)

    def close(self) -> None:
        """Close the socket and let the reader end."""
        if self._ws is not None:
            self._ws.close()
        if self._reader is not None:
            self._reader.join(timeout=5)


# ---------------------------------------------------------------- media


def ffmpeg_exe() -> str:
    """``ffmpeg`` from ``PATH``, else the static build of the ``imageio-ffmpeg`` wheel.

    Raises
    ------
    DemoFailed
        Neither is there.
    """
    found = shutil.which("ffmpeg")
    if found:
        return found
    try:
        import imageio_ffmpeg

        return str(imageio_ffmpeg.get_ffmpeg_exe())
    except (ImportError, RuntimeError) as exc:
        raise DemoFailed("FFmpeg is needed to make the demo clip: install ffmpeg or pass --file") from exc


def make_clip(path: Path, seconds: float = DEFAULT_SECONDS, size: str = "1280x720") -> Path:
    """An H.264 + AAC MP4 of FFmpeg's ``testsrc2`` pattern with a 440 Hz tone (24 fps).

    Raises
    ------
    DemoFailed
        FFmpeg is missing or failed.
    """
    args = [
        ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
        "-f", "lavfi", "-i", f"testsrc2=size={size}:rate=24:duration={seconds}",
        "-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}",
        "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
        "-c:a", "aac", "-shortest", "-movflags", "+faststart", str(path),
    ]  # fmt: skip
    done = subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)
    if done.returncode != 0:
        raise DemoFailed(f"FFmpeg could not make the demo clip: {done.stderr.strip()[-300:]}")
    return path


def _size(n: int) -> str:
    """``2.3 MB`` for ``2398705``."""
    value = float(n)
    for unit in ("B", "KB", "MB"):
        if value < 1024:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"


# ---------------------------------------------------------------- where the stack is


def default_stack_file() -> Path:
    """The running stack's ``local-stack.json`` (where ``make dev`` writes it).

    In ``$KEYFRAME_STATE_DIR`` when set, else in ``.keyframe/`` of the current folder, else in
    ``.keyframe/`` of the checkout this package runs from.
    """
    state = os.environ.get("KEYFRAME_STATE_DIR")
    if state:
        return Path(state) / "local-stack.json"
    candidates = [Path.cwd() / ".keyframe" / "local-stack.json", REPO_ROOT / ".keyframe" / "local-stack.json"]
    return next((path for path in candidates if path.is_file()), candidates[0])


def resolve_api(api: str | None, stack_file: Path | None) -> tuple[str, str]:
    """The API URL and where it came from (``--api``, the stack file, ``KEYFRAME_API``, the default)."""
    if api:
        return api.rstrip("/"), "--api"
    path = stack_file or default_stack_file()
    try:
        url = json.loads(path.read_text())["urls"]["api"]
        return str(url).rstrip("/"), str(path)
    except (OSError, ValueError, KeyError, TypeError):
        pass
    if os.environ.get("KEYFRAME_API"):
        return os.environ["KEYFRAME_API"].rstrip("/"), "KEYFRAME_API"
    return DEFAULT_API, "the default"


def stack_answers(base_url: str) -> bool:
    """True when ``GET /health`` answers 200 within a few seconds."""
    try:
        return requests.get(f"{base_url}/health", timeout=5).status_code == 200
    except requests.RequestException:
        return False


# ---------------------------------------------------------------- the day


def of_type(kind: str, **data: Any) -> Callable[[dict[str, Any]], bool]:
    """A predicate: an event of type ``kind`` whose ``data`` has these values."""
    return lambda e: e.get("type") == kind and all((e.get("data") or {}).get(k) == v for k, v in data.items())


class Day:
    """One run of the demo (see the module docstring); :meth:`play` raises on the first failed step."""

    def __init__(self, base_url: str, options: argparse.Namespace, out: Narrator, work_dir: Path) -> None:
        self.base_url = base_url
        self.options = options
        self.out = out
        self.work_dir = work_dir
        self.run_id = uuid.uuid4().hex[:8]
        self.names: dict[str, str] = {}
        """user id -> display name (for the activity log)."""
        self.asset_names: dict[str, str] = {}
        """asset (and project) id -> name or code (for the activity log)."""
        self.room = ""
        self.sockets: list[LiveSocket] = []

    # -------------------------------------------------------------- people and places

    def register(self) -> Member:
        email = f"ada-{self.run_id}@demo.keyframe.dev"
        studio = f"Demo Studio {self.run_id}"
        body = {"studioName": studio, "email": email, "password": PASSWORD, "displayName": "Ada"}
        answer = DemoApi(self.base_url).post("/auth/register", body)
        admin = _member(self.base_url, "Ada", email, answer)
        self.names[admin.user_id] = admin.name
        self.out.say(f'Ada registered the studio "{studio}" and is its {admin.role} ({email})')
        return admin

    def invite(self, admin: Member, name: str, role: str) -> Member:
        email = f"{name.lower()}-{self.run_id}@demo.keyframe.dev"
        invitation = admin.api.post("/studio/invitations", {"email": email, "role": role})
        body = {"token": invitation["token"], "password": PASSWORD, "displayName": name}
        member = _member(
            self.base_url, name, email, DemoApi(self.base_url).post("/auth/accept-invitation", body)
        )
        if member.role != role:
            raise DemoFailed(f"{name} joined as {member.role}, not {role}")
        self.names[member.user_id] = name
        self.out.say(f"{admin.name} invited {name} as {role}; {name} accepted ({email})")
        return member

    def create_assets(self, admin: Member, artist: Member) -> tuple[str, dict[str, str]]:
        project = admin.api.post(
            "/projects", {"name": "Night Market", "code": "NM", "fps": 24, "startFrame": 1001}
        )
        self.out.say(
            f'{admin.name} created the project {project["code"]} "{project["name"]}" '
            f"({project['fps']:g} fps, first frame {project['startFrame']})"
        )
        self.asset_names[project["id"]] = project["code"]
        wanted = {
            "character": ("Mei", "CHARACTER"),
            "rig": ("Mei rig", "RIG"),
            "shot": ("SQ010_SH020", "SHOT"),
        }
        ids: dict[str, str] = {}
        for key, (name, kind) in wanted.items():
            body = {"projectId": project["id"], "name": name, "type": kind, "tags": ["demo"]}
            ids[key] = artist.api.post("/assets", body)["id"]
            self.asset_names[ids[key]] = name
        self.out.say(
            f"{artist.name} created the assets: " + ", ".join(f"{k} {n}" for n, k in wanted.values())
        )
        artist.api.put(f"/assets/{ids['shot']}/dependencies/{ids['character']}", {"note": "hero in the shot"})
        artist.api.put(f"/assets/{ids['character']}/dependencies/{ids['rig']}", {"note": "rigged with"})
        self.out.say(f"{artist.name} linked them: SQ010_SH020 uses Mei, Mei uses Mei rig")
        impact = artist.api.get(f"/assets/{ids['rig']}/dependents", params={"transitive": "true"})
        found = [f"{n.get('name') or n['assetId']} (depth {n['depth']})" for n in impact["items"]]
        if {n["assetId"] for n in impact["items"]} != {ids["character"], ids["shot"]}:
            raise DemoFailed(f"the rig's impact set is {found}, expected Mei and SQ010_SH020")
        self.out.say("impact set of Mei rig (what a rig change affects): " + ", ".join(found))
        return project["id"], ids

    # -------------------------------------------------------------- sockets

    def open_socket(self, member: Member, on_event: Callable[[dict[str, Any]], None]) -> LiveSocket:
        ticket = member.api.post("/live/tickets")
        try:
            socket = LiveSocket(member.name, ticket["url"], on_event).open()
        except (WebSocketException, OSError, TimeoutError) as exc:
            raise DemoFailed(f"{member.name}'s socket did not open: {exc}") from exc
        self.sockets.append(socket)
        reply = socket.send("subscribe", room=self.room)
        if reply["type"] != "subscribed":
            self._refused(f"{member.name} joining {self.room}", reply)
        return socket

    @staticmethod
    def _refused(what: str, reply: dict[str, Any]) -> None:
        data = reply.get("data") or {}
        raise DemoFailed(
            f"{what} was refused: {data.get('message', reply)}", data.get("code"), data.get("correlationId")
        )

    def director_event(self, event: dict[str, Any]) -> None:
        """What the director's socket prints (the shot's room only; comments are the artist's to show)."""
        if event.get("room") != self.room:
            return
        kind, data, seq = event["type"], event.get("data") or {}, event["seq"]
        head = f"  Dora's socket  #{seq:<3} {kind:<16}"
        if kind == "pipeline:update":
            step = data.get("changedStep")
            steps = {s.get("name"): s.get("status") for s in data.get("steps") or []}
            detail = f"step {step} {steps.get(step)}" if step else f"pipeline {data.get('status')}"
            self.out.say(f"{head} {detail}")
        elif kind == "render:status":
            self.out.say(f"{head} {data.get('preset')} render {data.get('status')}")
        elif kind == "render:progress":
            eta = f", eta {data['eta']} s" if data.get("eta") is not None else ""
            self.out.say(f"{head} {data.get('progress')}% at {data.get('fps')} fps{eta}")
        elif kind.startswith(("upload:", "version:")):
            version = f" version {data['version']}" if data.get("version") is not None else ""
            status = f" {data['status']}" if data.get("status") else ""
            self.out.say(f"{head}{version}{status}")

    def artist_event(self, event: dict[str, Any]) -> None:
        """What the artist's socket prints: comments and decisions in the shot's room."""
        if event.get("room") != self.room:
            return
        data, seq = event.get("data") or {}, event["seq"]
        who = self.names.get(str(data.get("authorId") or data.get("reviewerId")), "someone")
        if event["type"] == "asset:commented":
            where = (
                f" at frame {data['frame']} ({data.get('timecode')})" if data.get("frame") is not None else ""
            )
            self.out.say(f'  Arlo\'s socket  #{seq:<3} asset:commented  {who}{where}: "{data.get("body")}"')
        elif event["type"] in ("asset:approved", "asset:changes-requested"):
            note = f': "{data["note"]}"' if data.get("note") else ""
            verb = "approved" if event["type"] == "asset:approved" else "asked for changes on"
            self.out.say(
                f"  Arlo's socket  #{seq:<3} {event['type']:<16} "
                f"{who} {verb} version {data.get('version')}{note}"
            )

    # -------------------------------------------------------------- media

    def source_file(self) -> Path:
        if self.options.file:
            path = Path(self.options.file)
            if not path.is_file():
                raise DemoFailed(f"{path} is not a file")
            self.out.say(f"using {path} ({_size(path.stat().st_size)}) as the shot's first version")
            return path
        started = time.monotonic()
        seconds = self.options.seconds
        path = make_clip(self.work_dir / "SQ010_SH020_v001.mp4", seconds)
        self.out.say(
            f"made a {seconds:g} s 1280x720 test clip with a 440 Hz tone ({path.name}, "
            f"{_size(path.stat().st_size)}) in {time.monotonic() - started:.1f} s"
        )
        return path

    def upload(self, artist: Member, shot: str, path: Path) -> str:
        """Send ``path`` with ``keyframe upload``'s code (hash, open, presigned part PUTs, complete)."""
        args = argparse.Namespace(
            file=path, asset=shot, note="first pass", parallel=4, no_wait=True, timeout=self.options.timeout,
            state_dir=self.work_dir / "upload-state", content_type=None, quiet=True,
        )  # fmt: skip
        self.out.say(
            f"{artist.name} uploads {path.name} with the code of `keyframe upload` (presigned multipart)"
        )
        run = upload.UploadRun(artist.api, args)
        with tqdm(total=path.stat().st_size, disable=True) as progress:
            decision, state, urls = run.start(progress)
            run.send(decision, state, urls, progress)
        run.complete(state)
        self.out.say(
            f"upload {state.upload_id} complete: {_size(state.size)} in {state.part_count} part"
            f"{'s' if state.part_count > 1 else ''} sent straight to storage; the pipeline runs"
        )
        return state.upload_id

    # -------------------------------------------------------------- the whole day

    def play(self) -> str:
        """Run every step; returns the playback URL (printed too).

        Raises
        ------
        ApiError
            The API refused a call.
        DemoFailed
            A step did not end as expected.
        """
        timeout = self.options.timeout
        admin = self.register()
        director = self.invite(admin, "Dora", "DIRECTOR")
        artist = self.invite(admin, "Arlo", "ARTIST")
        _, ids = self.create_assets(admin, artist)
        shot = ids["shot"]
        self.room = f"asset:{shot}"

        dora = self.open_socket(director, self.director_event)
        arlo = self.open_socket(artist, self.artist_event)
        self.out.say(f"Dora and Arlo opened live sockets and joined the shot's room {self.room}")

        path = self.source_file()
        upload_id = self.upload(artist, shot, path)
        outcome = dora.wait_for(
            lambda e: (
                e.get("room") == self.room
                and (
                    of_type("version:failed", uploadId=upload_id)(e)
                    or (
                        of_type("pipeline:update", uploadId=upload_id)(e)
                        and e["data"].get("status") not in PIPELINE_ACTIVE
                    )
                )
            ),
            timeout,
            "the pipeline end",
        )
        version = self.check_ready(artist, shot, outcome)

        self.out.say(f"{artist.name} requests an HLS render of version {version}")
        job_id = artist.api.post(f"/assets/{shot}/renders", {"preset": "hls", "version": version})[
            "renderJobId"
        ]
        ended = dora.wait_for(
            lambda e: (
                e.get("room") == self.room
                and of_type("render:status", renderJobId=job_id)(e)
                and e["data"].get("status") in ("SUCCEEDED", "FAILED", "CANCELLED")
            ),
            timeout,
            "the render end",
        )
        done = director.api.get(f"/renders/{job_id}")
        if ended["data"]["status"] != "SUCCEEDED" or done["status"] != "SUCCEEDED":
            error = done.get("error") or {}
            raise DemoFailed(f"the render ended {done['status']}: {error.get('message')}", error.get("code"))
        outputs = done.get("outputs") or {}
        ladder = ", ".join(f"{r.get('height')}p" for r in outputs.get("renditions") or [])
        self.out.say(
            f"render {job_id} SUCCEEDED: HLS ladder {ladder}, {outputs.get('fileCount')} files, "
            f"{_size(int(outputs.get('totalBytes') or 0))}"
        )

        self.review((dora, arlo), director, shot, version)
        url = self.playback(director, job_id)
        self.activity(admin)
        return url

    def check_ready(self, artist: Member, shot: str, outcome: dict[str, Any]) -> int:
        data = outcome["data"]
        if outcome["type"] != "pipeline:update" or data.get("status") != "SUCCEEDED":
            error = data.get("error") or {}
            message = error.get("message") if isinstance(error, dict) else error
            code = error.get("code") if isinstance(error, dict) else None
            raise DemoFailed(f"processing failed: {message or data.get('status') or outcome['type']}", code)
        version = int(data["version"])
        body = artist.api.get(f"/assets/{shot}/versions/{version}")
        if body["status"] != "READY":
            raise DemoFailed(f"version {version} is {body['status']} after its pipeline SUCCEEDED")
        media = body.get("media") or {}
        facts = [f"{media['width']}x{media['height']}" if media.get("width") else ""]
        facts.append(f"{float(media['duration']):.1f} s" if media.get("duration") else "")
        facts.append(f"{float(media['fps']):g} fps" if media.get("fps") else "")
        facts.append("derived: " + (", ".join(sorted(body.get("derived") or {})) or "none"))
        self.out.say(f"version {version} READY ({', '.join(f for f in facts if f)})")
        return version

    def review(
        self, sockets: tuple[LiveSocket, LiveSocket], director: Member, shot: str, version: int
    ) -> None:
        dora, arlo = sockets
        body = "Hold the blink two frames longer"
        self.out.say(f'Dora comments over the socket at frame {FRAME} of version {version}: "{body}"')
        sent = time.monotonic()
        ack = dora.send("comment", assetId=shot, version=version, body=body, frame=FRAME)
        if ack["type"] != "ack":
            self._refused("Dora's comment", ack)
        comment = ack["data"]["comment"]
        arlo.wait_for(of_type("asset:commented", commentId=comment["commentId"]), 15, "Dora's comment")
        self.out.say(f"Arlo saw the comment live, {time.monotonic() - sent:.2f} s after Dora sent it")

        refused = arlo.send("review", assetId=shot, version=version, decision="APPROVED")
        code = (refused.get("data") or {}).get("code")
        if refused["type"] != "error" or code != "FORBIDDEN":
            raise DemoFailed(
                f"Arlo (ARTIST) should not be able to approve, but the socket answered {refused}"
            )
        self.out.say(
            f"Arlo tried to approve his own shot: refused, FORBIDDEN ({refused['data'].get('message')})"
        )

        ack = dora.send("review", assetId=shot, version=version, decision="APPROVED", note="Final. Ship it.")
        if ack["type"] != "ack":
            self._refused("Dora's approval", ack)
        arlo.wait_for(of_type("asset:approved", reviewerId=director.user_id), 15, "Dora's approval")
        status = director.api.get(f"/assets/{shot}/versions/{version}").get("reviewStatus")
        if status != "APPROVED":
            raise DemoFailed(f"version {version} is {status} after Dora's approval")
        self.out.say(f"Dora approved version {version} over the socket; the version is now APPROVED")

    def playback(self, director: Member, job_id: str) -> str:
        link = director.api.get(f"/renders/{job_id}/playback")
        try:
            master = requests.get(link["url"], timeout=15)
        except requests.RequestException as exc:
            raise DemoFailed(f"the playback URL did not answer: {exc}") from exc
        if master.status_code != 200 or not master.text.startswith("#EXTM3U"):
            raise DemoFailed(f"the playback URL answered HTTP {master.status_code}: {master.text[:120]!r}")
        variants = sum(1 for line in master.text.splitlines() if line.startswith("#EXT-X-STREAM-INF"))
        self.out.say(
            f"playback URL answers 200 with an HLS master playlist (#EXTM3U, {variants} variants), "
            f"no auth needed until {link['expiresAt']}:"
        )
        self.out.plain(f"    {link['url']}")
        return str(link["url"])

    def activity(self, admin: Member) -> None:
        entries = admin.api.get("/activity", params={"limit": 30})["items"]
        self.out.say(f"the studio's activity log, newest first ({len(entries)} entries):")
        for entry in entries:
            actor = self.names.get(str(entry.get("actor")), entry.get("actor") or "system")
            self.out.plain(
                f"    {entry['ts'][:19]}Z  {actor:<6} {entry['action']:<20} {self.describe(entry)}"
            )

    def describe(self, entry: dict[str, Any]) -> str:
        """A short name of an activity entry's target (asset names instead of ids where known)."""
        target = entry.get("target") or {}
        kind, ident = str(target.get("type") or ""), str(target.get("id") or "")
        named = [self.asset_names.get(part, part) for part in ident.split(":")]
        if kind == "version" and len(named) == 2:
            decision = (entry.get("details") or {}).get("decision")
            return f"{named[0]} v{named[1]}" + (f" {decision}" if decision else "")
        if kind == "dependency" and len(named) == 2:
            return f"{named[0]} uses {named[1]}"
        asset = self.asset_names.get(str(entry.get("assetId")))
        if kind in ("render", "upload") and asset:
            return f"{asset} {kind} {ident[:8]}"
        return f"{kind} {named[0] if len(named) == 1 else ident}"


# ---------------------------------------------------------------- the command


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The demo's own options (``--api`` is added by the caller: ``keyframe`` has it already)."""
    parser.add_argument(
        "--file", type=Path, default=None, help="upload this file instead of a generated clip"
    )
    parser.add_argument(
        "--stack-file", type=Path, default=None,
        help="the running stack's local-stack.json (default: $KEYFRAME_STATE_DIR or .keyframe/)",
    )  # fmt: skip
    parser.add_argument(
        "--seconds", type=float, default=DEFAULT_SECONDS, help="length of the generated clip (default 3)"
    )
    parser.add_argument(
        "--timeout", type=float, default=DEFAULT_TIMEOUT, help="seconds to wait for processing and the render"
    )
    parser.add_argument(
        "--events", type=Path, default=None, help="also write every live event received as JSON lines here"
    )


def register(commands: Any) -> None:
    """Add the ``demo`` command to ``keyframe``'s sub-parsers (no token needed: it registers a studio)."""
    parser = commands.add_parser(
        "demo",
        help="play a studio's day against a running local stack",
        description="Register a studio, upload, render and review live: "
        "Keyframe end to end, through the public API only.",
    )
    add_arguments(parser)
    parser.set_defaults(handler=command, needs_api=False)


def command(args: argparse.Namespace, api: ApiClient) -> int:
    """``keyframe demo``: uses ``--api`` if given, else the stack file (``api`` is not used)."""
    return run(args)


def _write_events(path: Path, sockets: list[LiveSocket]) -> None:
    with path.open("w") as handle:
        for socket in sockets:
            for event in list(socket.events):
                handle.write(json.dumps({"socket": socket.owner, "event": event}) + "\n")


def run(args: argparse.Namespace, stream: IO[str] | None = None) -> int:
    """Play the day with parsed ``args``; returns the exit code."""
    out = Narrator(stream or sys.stdout)
    if args.file is not None and not Path(args.file).is_file():
        print(f"! --file {args.file}: no such file", file=sys.stderr)
        return EXIT_NO_STACK
    base_url, source = resolve_api(getattr(args, "api", None), args.stack_file)
    if not stack_answers(base_url):
        print(
            f"! No Keyframe API answers at {base_url} (from {source}).\n"
            "  Start the local stack with `make dev` in another terminal and run `make demo` again,\n"
            "  or point at a running one with --api URL (or --stack-file PATH).",
            file=sys.stderr,
        )
        return EXIT_NO_STACK
    out.plain(f"Keyframe demo: a studio's day against {base_url} (public REST API + live WebSocket)")
    with tempfile.TemporaryDirectory(prefix="keyframe-demo-") as work:
        day = Day(base_url, args, out, Path(work))
        try:
            day.play()
        except ApiError as exc:
            call = getattr(exc, "call", "a call")
            answered = f"answered {exc.code} (HTTP {exc.status})" if exc.status else "got no answer"
            print(
                f"! step failed after {out.elapsed():.1f} s: {call} {answered}: {exc.message}",
                file=sys.stderr,
            )
            print(f"  correlationId: {getattr(exc, 'correlation_id', None) or 'none'}", file=sys.stderr)
            if exc.details:
                print(f"  details: {exc.details}", file=sys.stderr)
            return EXIT_FAILED
        except (DemoFailed, upload.UploadFailed) as exc:
            code = getattr(exc, "code", None)
            correlation = getattr(exc, "correlation_id", None)
            print(
                f"! step failed after {out.elapsed():.1f} s: {exc}" + (f" ({code})" if code else ""),
                file=sys.stderr,
            )
            if correlation:
                print(f"  correlationId: {correlation}", file=sys.stderr)
            return EXIT_FAILED
        except KeyboardInterrupt:
            print("! interrupted", file=sys.stderr)
            return EXIT_INTERRUPTED
        finally:
            for socket in day.sockets:
                socket.close()
            if args.events:
                _write_events(args.events, day.sockets)
    out.plain(
        f"Done in {out.elapsed():.1f} s: a studio registered, uploaded, processed, rendered, reviewed "
        f"live and approved a shot. Play it in any HLS player (Safari, VLC, ffplay) from the URL above."
    )
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    """``python -m keyframe.cli.demo``'s parser."""
    parser = argparse.ArgumentParser(
        prog="keyframe-demo",
        description="A studio's day against a running `make dev`, through the public API only.",
    )
    parser.add_argument("--api", default=None, help="API root URL (default: from the running stack's file)")
    add_arguments(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the demo with ``argv`` (default ``sys.argv[1:]``); returns the exit code."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help (0) or a usage error (2)
        return int(exc.code) if isinstance(exc.code, int) else EXIT_NO_STACK
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
