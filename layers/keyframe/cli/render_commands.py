"""Render jobs from the command line: ``keyframe render``, ``renders``, ``open``.

``keyframe render ASSET[@V] --preset hls --watch`` opens the live socket first (a ticket from
``POST /live/tickets``, then ``subscribe`` to the asset's room ``asset:{id}``), requests the render
(``POST /assets/{id}/renders``), and follows its ``render:status`` and ``render:progress`` events
on a progress bar (status lines above it) until the job ends. The job record stays the truth: it is
read again (``GET /renders/{id}``) whenever the socket is quiet for a while or closes, so a missed
event never leaves the command waiting. Exit 0 when the render SUCCEEDED, 1 when it FAILED or was
CANCELLED (or is still running at ``--timeout``), 130 on Ctrl-C (the render goes on).
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import click
from websockets.exceptions import WebSocketException

from keyframe.cli import progress as progress_
from keyframe.cli.client import ApiClient
from keyframe.cli.exits import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, Failed, Usage
from keyframe.cli.live import LiveError, LiveSocket
from keyframe.cli.output import collect, json_option, listing_options, more_hint, print_json, size, table
from keyframe.cli.resolve import asset_version, find_asset, project_id_of
from keyframe.cli.session import Session, api_options, pass_session

PRESETS = ("hls", "review-mp4", "filmstrip")
"""For shell completion only: the API decides what is valid."""
ENDED = frozenset({"SUCCEEDED", "FAILED", "CANCELLED"})
STATUSES = ("QUEUED", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED")
QUIET_SECONDS = 10.0
"""Socket silence after which the job is read again over REST."""
POLL_SECONDS = 2.0
"""How often the job is read when there is no socket."""


def _complete(values: tuple[str, ...]) -> Any:
    def complete(_ctx: click.Context, _param: click.Parameter, incomplete: str) -> list[str]:
        return [v for v in values if v.lower().startswith(incomplete.lower())]

    return complete


class RenderWatch:
    """Follows one render job over the asset's room on the live socket (see the module docstring)."""

    def __init__(self, client: ApiClient, asset_id: str, *, shown: bool = True) -> None:
        self.client = client
        self.room = f"asset:{asset_id}"
        self.shown = shown
        self.job_id: str | None = None
        self.socket: LiveSocket | None = None
        self._bar: Any = None
        self._percent = 0
        self._status: str | None = None
        self._lock = threading.Lock()

    def open(self) -> None:
        """Get a ticket, open the socket, join the asset's room; without a socket the job is polled."""
        ticket = self.client.post("/live/tickets")
        try:
            self.socket = LiveSocket("render", ticket["url"], self._on_event).open()
            reply = self.socket.send("subscribe", room=self.room)
        except (LiveError, OSError, TimeoutError, WebSocketException) as exc:
            progress_.say(f"note: the live socket did not open ({exc}); polling the render job instead")
            self.close()
            self.socket = None
            return
        if reply.get("type") != "subscribed":
            data = reply.get("data") or {}
            raise Failed(f"joining {self.room} was refused: {data.get('message', reply)}")

    def close(self) -> None:
        """Close the socket and the bar."""
        if self.socket is not None:
            self.socket.close()
        if self._bar is not None:
            self._bar.close()

    def _on_event(self, event: dict[str, Any]) -> None:
        data = event.get("data") or {}
        if self.job_id is None or event.get("room") != self.room or data.get("renderJobId") != self.job_id:
            return
        if event.get("type") == "render:progress":
            self._progress(int(data.get("progress") or 0), data.get("fps"), data.get("eta"))
        elif event.get("type") == "render:status":
            self.status(str(data.get("status")))

    def status(self, status: str) -> None:
        """Say the job's status once each time it changes."""
        with self._lock:
            if status == self._status:
                return
            self._status = status
        if self.shown:
            progress_.say(f"render {self.job_id} {status}")

    def _progress(self, percent: int, fps: Any = None, eta: Any = None) -> None:
        with self._lock:
            if self._bar is None or percent <= self._percent:
                return
            self._bar.update(percent - self._percent)
            self._percent = percent
            facts = {k: v for k, v in (("fps", fps), ("eta", f"{eta}s" if eta is not None else None)) if v}
            if facts:
                self._bar.set_postfix(facts, refresh=False)

    def follow(self, job: dict[str, Any], timeout: float) -> dict[str, Any]:
        """Watch ``job`` until it ends or ``timeout`` seconds pass; returns the job as last read."""
        self.job_id = str(job["renderJobId"])
        self.status(str(job.get("status")))
        self._percent = int(job.get("progress") or 0)
        self._bar = progress_.bar(
            100,
            description=f"{job.get('preset')} render",
            initial=self._percent,
            unit="%",
            enabled=self.shown,
        )
        socket = self.socket
        for event in list(socket.events if socket else []):  # what arrived before the job id was known
            self._on_event(event)
        deadline = time.monotonic() + timeout
        while job.get("status") not in ENDED and time.monotonic() < deadline:
            live = socket is not None and not socket.closed
            wait = min(QUIET_SECONDS if live else POLL_SECONDS, max(0.0, deadline - time.monotonic()))
            if socket is None or socket.closed:
                time.sleep(wait)
            else:
                try:
                    socket.wait_for(self._ended, wait, "the render's end")
                except LiveError:
                    if socket.closed:
                        progress_.say(f"note: the live socket closed ({socket.closed}); polling the job")
            job = self.client.get(f"/renders/{self.job_id}")
            self.status(str(job.get("status")))
            self._progress(int(job.get("progress") or 0), job.get("fps"), job.get("eta"))
        return job

    def _ended(self, event: dict[str, Any]) -> bool:
        data = event.get("data") or {}
        return (
            event.get("type") == "render:status"
            and event.get("room") == self.room
            and data.get("renderJobId") == self.job_id
            and data.get("status") in ENDED
        )


def _outputs_line(job: dict[str, Any]) -> str:
    outputs = job.get("outputs") or {}
    heights = ", ".join(f"{r.get('height')}p" for r in outputs.get("renditions") or [])
    files = int(outputs.get("fileCount") or 0)
    parts = [
        (f"ladder {heights}" if job.get("preset") == "hls" else heights) if heights else "",
        f"{files} file{'' if files == 1 else 's'}" if files else "",
    ]
    if outputs.get("totalBytes"):
        parts.append(size(outputs["totalBytes"]))
    return ", ".join(p for p in parts if p)


def _request_body(preset: str, version: int, priority: str | None, options: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {"preset": preset, "version": version}
    if priority:
        body["priority"] = priority.upper()
    if options:
        try:
            body["options"] = json.loads(options)
        except ValueError as exc:
            raise Usage(f"--options is not JSON: {exc}") from exc
    return body


@click.command("render")
@click.argument("asset", metavar="ASSET[@V]")
@click.option(
    "--preset", required=True, shell_complete=_complete(PRESETS), help="hls, review-mp4 or filmstrip."
)
@click.option("--priority", default=None, shell_complete=_complete(("HIGH", "NORMAL", "LOW")))
@click.option("--options", default=None, metavar="JSON", help="Render options, e.g. '{\"burnIn\": true}'.")
@click.option("--watch", is_flag=True, help="Follow the render live until it ends.")
@click.option("--timeout", type=float, default=1800.0, show_default=True, help="Seconds to --watch at most.")
@click.option("--project", default=None, metavar="PROJECT", help="Where to look an asset name up.")
@click.option("--quiet", is_flag=True, help="No progress bar and no status lines.")
@json_option
@api_options
@pass_session
def render_command(
    session: Session, *, asset: str, preset: str, priority: str | None, options: str | None, watch: bool,
    timeout: float, project: str | None, quiet: bool, as_json: bool,
) -> int:  # fmt: skip
    """Request a render of a version (default: the current one); --watch follows it live.

    \b
        keyframe render SQ010_SH020@1 --preset hls --watch
    """
    client = session.client()
    found, version = asset_version(client, asset, project=project)
    body = _request_body(preset, version, priority, options)
    if not watch:
        job = client.post(f"/assets/{found['id']}/renders", body)
        if as_json:
            print_json(job)
        else:
            click.echo(f"render {job['renderJobId']} {job['status']}")
        return EXIT_OK
    watcher = RenderWatch(client, str(found["id"]), shown=not quiet)
    started = time.monotonic()
    try:
        watcher.open()
        job = client.post(f"/assets/{found['id']}/renders", body)
        if not quiet:
            progress_.say(
                f"render {job['renderJobId']} of {found.get('name')} v{version} ({preset}) {job['status']}"
            )
        job = watcher.follow(job, timeout)
    except KeyboardInterrupt:
        progress_.say("! stopped watching; the render goes on (see `keyframe renders`)")
        return EXIT_INTERRUPTED
    finally:
        watcher.close()
    return _report(job, time.monotonic() - started, as_json=as_json, quiet=quiet)


def _report(job: dict[str, Any], seconds: float, *, as_json: bool, quiet: bool) -> int:
    status, job_id = job.get("status"), job.get("renderJobId")
    if not quiet:
        detail = _outputs_line(job) if status == "SUCCEEDED" else (job.get("error") or {}).get("message")
        progress_.say(f"render {job_id} {status} after {seconds:.1f} s" + (f": {detail}" if detail else ""))
        if status == "SUCCEEDED":
            progress_.say(f"play or fetch it: keyframe open {job_id}")
    if as_json:
        print_json(job)
    else:
        click.echo(f"render {job_id} {status}")
    if status not in ENDED:
        progress_.say(f"! still {status} at --timeout; the render goes on (see `keyframe renders`)")
    return EXIT_OK if status == "SUCCEEDED" else EXIT_FAILED


@click.command("renders")
@click.option("--status", default=None, shell_complete=_complete(STATUSES), help="Only jobs in this status.")
@click.option("--asset", default=None, metavar="ASSET", help="Only this asset's (id or name).")
@click.option("--project", default=None, metavar="PROJECT", help="Where to look an asset name up.")
@listing_options
@api_options
@pass_session
def renders_command(
    session: Session, *, status: str | None, asset: str | None, project: str | None, as_json: bool,
    limit: int, cursor: str | None,
) -> None:  # fmt: skip
    """List render jobs, newest first (GET /renders).

    \b
        keyframe renders --status RUNNING
    """
    client = session.client()
    asset_id = find_asset(client, asset, project_id=project_id_of(client, project))["id"] if asset else None
    params = {"status": status.upper() if status else None, "assetId": asset_id}
    page = collect(client, "/renders", params, limit=limit, cursor=cursor)
    if as_json:
        print_json(page)
        return
    table(
        page["items"],
        [
            ("ID", lambda j: j.get("renderJobId")),
            ("ASSET", lambda j: j.get("assetId")),
            ("V", lambda j: j.get("version")),
            ("PRESET", lambda j: j.get("preset")),
            ("STATUS", lambda j: j.get("status")),
            ("%", lambda j: j.get("progress")),
            ("CREATED", lambda j: str(j.get("createdAt") or "")[:19]),
        ],
        empty="(no render jobs)",
    )
    more_hint(page)


@click.command("open")
@click.argument("render")
@json_option
@api_options
@pass_session
def open_command(session: Session, *, render: str, as_json: bool) -> None:
    """Print the playback URL of a finished render (an HLS playlist, or the file of other presets).

    The URL plays without auth until it expires. Example:

    \b
        keyframe open 3f2a…  |  xargs ffplay
    """
    client = session.client()
    job = client.get(f"/renders/{render}")
    kind = "playback" if job.get("preset") == "hls" else "download"
    link = client.get(f"/renders/{render}/{kind}")
    if as_json:
        print_json(link)
        return
    click.echo(link["url"])
    click.echo(
        f"({kind} link of the {job.get('preset')} render, valid until {link.get('expiresAt')})", err=True
    )
