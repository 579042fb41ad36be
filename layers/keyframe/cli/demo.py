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
or one of its parents: :mod:`keyframe.cli.stackfile`), else ``KEYFRAME_API``, else
``http://127.0.0.1:3000``. The steps themselves are :class:`keyframe.cli.demo_day.Day`'s.

Exit codes: 0 the day went through, 1 a step failed (the API's message and correlation id are
printed), 2 no stack answers or bad usage (``--file`` missing), 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

import click
import requests

from keyframe.cli import exits, stackfile
from keyframe.cli.client import ApiError
from keyframe.cli.clips import DEFAULT_SECONDS, ClipError
from keyframe.cli.demo_day import Day, DemoFailed, Narrator
from keyframe.cli.live import LiveError, LiveSocket
from keyframe.cli.parts import UploadFailed
from keyframe.cli.session import Session

DEFAULT_API = "http://127.0.0.1:3000"
EXIT_OK, EXIT_FAILED, EXIT_NO_STACK, EXIT_INTERRUPTED = 0, 1, 2, 130
DEFAULT_TIMEOUT = 180.0
"""Seconds to wait for the pipeline, and again for the render."""


# ---------------------------------------------------------------- where the stack is


def resolve_api(api: str | None, stack_file: Path | None) -> tuple[str, str]:
    """The API URL and where it came from (``--api``, the stack file, ``KEYFRAME_API``, the default)."""
    if api:
        return api.rstrip("/"), "--api"
    found = stackfile.read(stack_file) if stack_file else stackfile.find()
    if found is not None:
        return found.api, str(found.path)
    if os.environ.get("KEYFRAME_API"):
        return os.environ["KEYFRAME_API"].rstrip("/"), "KEYFRAME_API"
    return DEFAULT_API, "the default"


def stack_answers(base_url: str) -> bool:
    """True when ``GET /health`` answers 200 within a few seconds."""
    try:
        return requests.get(f"{base_url}/health", timeout=5).status_code == 200
    except requests.RequestException:
        return False


# ---------------------------------------------------------------- the command


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
        except (DemoFailed, LiveError, ClipError, UploadFailed) as exc:
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


@click.command("demo")
@click.option("--api", default=None, metavar="URL", help="API root URL (default: the running stack's file).")
@click.option(
    "--file",
    type=click.Path(path_type=Path),
    default=None,
    help="Upload this file instead of a generated clip.",
)
@click.option(
    "--stack-file",
    type=click.Path(path_type=Path),
    default=None,
    help="The running stack's local-stack.json (default: $KEYFRAME_STATE_DIR, else .keyframe/ "
    "here or above).",
)
@click.option(
    "--seconds", type=float, default=DEFAULT_SECONDS, show_default=True, help="Length of the generated clip."
)
@click.option(
    "--timeout",
    type=float,
    default=DEFAULT_TIMEOUT,
    show_default=True,
    help="Seconds to wait for processing and the render.",
)
@click.option(
    "--events",
    type=click.Path(path_type=Path),
    default=None,
    help="Also write every live event received as JSON lines here.",
)
@click.pass_context
def demo_command(ctx: click.Context, **options: Any) -> int:
    """Play a studio's day against a running local stack, through the public API only.

    Registers a studio, invites a director and an artist, uploads, renders and reviews live.
    Exit codes: 0 the day went through, 1 a step failed, 2 no stack answers, 130 interrupted.
    """
    session = ctx.find_object(Session)
    if options["api"] is None and session is not None:
        options["api"] = session.api_flag
    return run(argparse.Namespace(**options))


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m keyframe.cli.demo`` (``make demo``) with ``argv``; returns the exit code."""
    return exits.run(demo_command, argv, prog_name="keyframe-demo")


if __name__ == "__main__":
    sys.exit(main())
