"""The studio's day that ``make demo`` plays: people, assets, an upload, a render, a live review.

:class:`Day` drives it through the public API only (:class:`DemoApi`, an
:class:`~keyframe.cli.client.ApiClient` whose errors carry the call and the correlation id) and the
live socket (:class:`~keyframe.cli.live.LiveSocket`); :mod:`keyframe.cli.demo` is the command that
runs it. Every step raises :class:`DemoFailed` when it does not end as a user would expect.
"""

from __future__ import annotations

import argparse
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import requests
from tqdm import tqdm
from websockets.exceptions import WebSocketException

from keyframe.cli.client import ApiClient, ApiError
from keyframe.cli.clips import make_clip
from keyframe.cli.live import LiveSocket, of_type
from keyframe.cli.output import size
from keyframe.cli.upload import UploadRun

PASSWORD = "keyframe-demo-password"
PIPELINE_ACTIVE = frozenset({"PENDING", "RUNNING"})
FRAME = 1013
"""The frame the director comments at (the project starts at 1001, so timecode 00:00:00:12)."""


class DemoFailed(Exception):
    """A step did not go as a user would expect (what went wrong, with the API's code when known)."""

    def __init__(self, message: str, code: str | None = None, correlation_id: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.correlation_id = correlation_id


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


# ---------------------------------------------------------------- the day


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
        self.pipeline_revisions: dict[str, int] = {}
        """upload id -> the highest ``revision`` of its ``pipeline:update`` events seen (the state shown)."""

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
            upload_id, revision = str(data.get("uploadId")), int(data.get("revision") or 0)
            newest = self.pipeline_revisions.get(upload_id, 0)
            if revision <= newest:  # numbered after a newer change (the stream was slower): not the state
                detail += f" (revision {revision}, older than {newest} shown: ignored)"
            else:
                self.pipeline_revisions[upload_id] = revision
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
            self.out.say(f"using {path} ({size(path.stat().st_size)}) as the shot's first version")
            return path
        started = time.monotonic()
        seconds = self.options.seconds
        path = make_clip(self.work_dir / "SQ010_SH020_v001.mp4", seconds)
        self.out.say(
            f"made a {seconds:g} s 1280x720 test clip with a 440 Hz tone ({path.name}, "
            f"{size(path.stat().st_size)}) in {time.monotonic() - started:.1f} s"
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
        run = UploadRun(artist.api, args)
        with tqdm(total=path.stat().st_size, disable=True) as progress:
            decision, state, urls = run.start(progress)
            run.send(decision, state, urls, progress)
        run.complete(state)
        self.out.say(
            f"upload {state.upload_id} complete: {size(state.size)} in {state.part_count} part"
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
            f"{size(int(outputs.get('totalBytes') or 0))}"
        )

        self.review((dora, arlo), director, shot, version)
        url = self.playback(director, job_id)
        self.activity(admin)
        self.logins((admin, director, artist))
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

    def logins(self, members: tuple[Member, ...]) -> None:
        """Print the accounts the demo made, so a developer can sign in as any of them."""
        self.out.say(f'sign in as any of them (password "{PASSWORD}"), e.g. keyframe login --email EMAIL:')
        for member in members:
            self.out.plain(f"    {member.name:<6} {member.role:<9} {member.email}")

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
